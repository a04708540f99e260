import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSV_COLUMNS, importOrders } from '../ingest/import-orders.js';
import { detect } from '../jobs/detect-exceptions.js';
import type { Daemon } from '../worker/daemon.js';
import { startTestApi, type TestApi } from './helpers/api.js';
import type { TestDb } from './helpers/db.js';

/**
 * 合并发货: one parcel for several orders of the same customer (same platform, and the same phone or handle) is
 * stored as one parcel serving each order; the same number on an order of another customer is refused, whole.
 */
type Answer = { accepted: number; rejected: { index: number; orderId: string | null; errors: string[] }[] };

const PAID = '2026-11-11T00:05:00+08:00';
const buyer = { name: '王芳', phone: '13800138000', handle: 'wf' };
const stranger = { name: '赵强', phone: '13911112222', handle: 'zq' };
const order = (id: string, customer: object, trackingNos: string[]) => ({
  orderId: id,
  paidAt: PAID,
  amount: 50,
  customer,
  shipments: trackingNos.map((trackingNo) => ({ carrier: 'ZTO', trackingNo, markedShippedAt: '2026-11-11T10:00:00+08:00' })),
});

describe('merged parcels', () => {
  let api: TestApi;
  let db: TestDb;
  let daemon: Daemon;
  let clock: TestApi['clock'];

  beforeAll(async () => {
    api = await startTestApi({ chases: { channels: { webhook: { enabled: true, url: 'http://127.0.0.1:9/hook', secret: 's' } } } });
    ({ db, daemon, clock } = api);
  });
  afterAll(async () => {
    await api.close();
  });

  const post = async (path: string, body: unknown) => (await api.post(path, body)) as { status: number; body: Answer & Record<string, unknown> };
  const servedBy = async (trackingNo: string) =>
    (
      await db.sql`select o.external_id from order_shipments l join orders o on o.id = l.order_id join shipments s on s.id = l.shipment_id
                   where s.tracking_no = ${trackingNo} order by 1`
    ).map((r) => r.external_id as string);

  it('through POST /api/orders: the same customer shares a parcel; another customer is refused whole, with its index', async () => {
    const first = await post('/api/orders', { orders: [order('P1', buyer, ['ZT5500000001'])] });
    expect(first.body).toEqual({ accepted: 1, rejected: [], warnings: [] });
    const r = await post('/api/orders', {
      orders: [
        order('P2', { ...buyer, name: '王芳2' }, ['ZT5500000001']), // same phone and handle: merged
        order('P3', stranger, ['ZT5500000009', 'ZT5500000001']), // another customer: refused, its new parcel too
        order('P4', { phone: '13800138000' }, ['ZT5500000001']), // the phone alone is enough
        order('P5', { handle: 'wf' }, ['ZT5500000001']), // so is the handle
        order('P6', stranger, ['ZT5500000077']),
        order('P7', buyer, ['ZT5500000077']), // clashes with P6 earlier in the same batch
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.rejected, JSON.stringify(r.body.rejected)).toHaveLength(2);
    expect(r.body.accepted).toBe(4);
    expect(r.body.rejected.map((x) => [x.index, x.orderId])).toEqual([
      [1, 'P3'],
      [5, 'P7'],
    ]);
    expect(r.body.rejected[0]!.errors).toEqual([expect.stringMatching(/^shipments\.1\.trackingNo: trackingNo ZT5500000001 \(ZTO\) already serves order P1 of another customer/)]);
    expect(r.body.rejected[1]!.errors[0]).toMatch(/already serves order P6 of another customer/);
    expect(await servedBy('ZT5500000001')).toEqual(['P1', 'P2', 'P4', 'P5']);
    expect(await db.sql`select 1 from orders where external_id in ('P3', 'P7')`).toHaveLength(0);
    expect(await db.sql`select 1 from shipments where tracking_no = 'ZT5500000009'`).toHaveLength(0);
    // One parcel, registered by its first order; re-posting changes nothing.
    const [sh] = await db.sql`select count(*)::int as n, min(o.external_id) as owner from shipments s join orders o on o.id = s.order_id where s.tracking_no = 'ZT5500000001'`;
    expect(sh).toEqual({ n: 1, owner: 'P1' });
    const again = await post('/api/orders', { orders: [order('P2', { ...buyer, name: '王芳2' }, ['ZT5500000001'])] });
    expect(again.body).toEqual({ accepted: 1, rejected: [], warnings: [] });
    expect(await servedBy('ZT5500000001')).toEqual(['P1', 'P2', 'P4', 'P5']);
  });

  it('downstream: an order served by a merged parcel is not flagged as unshipped, and a chase by its id finds the parcel', async () => {
    clock.set('2026-11-15T12:00:00+08:00'); // 108 h after payment; the parcel was never collected
    // The carrier answered about the parcels ("no scan"): only then are they judged on carrier facts.
    await db.sql`update shipments set last_polled_at = '2026-11-15T11:00:00+08:00', last_answer_at = '2026-11-15T11:00:00+08:00'`;
    await detect(daemon.deps);
    const ex = await db.sql`select o.external_id, e.type, (e.shipment_id is not null) as per_parcel from exceptions e join orders o on o.id = e.order_id
                            where e.status = 'open' and o.external_id like 'P%' order by 1, 2`;
    // The parcel is judged once (against its first order); none of the orders it serves is judged as unshipped.
    expect(ex.filter((e) => !e.per_parcel).map((e) => e.external_id)).toEqual([]);
    expect(ex.filter((e) => e.type === 'late_shipment').map((e) => e.external_id)).toEqual(['P1', 'P6']);
    const chase = await post('/api/chases', { orderId: 'P2' });
    expect(chase.status).toBe(201);
    expect((chase.body.items as { trackingNo: string }[]).map((i) => i.trackingNo)).toEqual(['ZT5500000001']);
  });

  it('through the importer: same customer merged, another customer refused in the errors file, nothing of it stored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pwmerge-'));
    const line = (id: string, phone: string, handle: string, trackingNo: string) =>
      CSV_COLUMNS.map((k) => ({ orderId: id, platform: 'tmall', paidAt: PAID, amount: '10', customerPhone: phone, customerHandle: handle, carrier: 'ZTO', trackingNo })[k as string] ?? '').join(',');
    const f = join(dir, 'merged.csv');
    writeFileSync(
      f,
      [
        CSV_COLUMNS.join(','),
        line('Q1', '13600000001', 'q', 'ZT6600000001'),
        line('Q2', '13600000001', 'q', 'ZT6600000001'), // merged with Q1
        line('Q3', '13600000003', 'x', 'ZT6600000003'),
        line('Q3', '13600000003', 'x', 'ZT6600000001'), // Q3's second parcel belongs to another customer
        line('Q4', '13600000004', 'y', 'ZT6600000004'),
      ].join('\n'),
    );
    const s = await importOrders({ sql: daemon.deps.sql, clock, input: daemon.deps.config.input, file: f, errorReport: join(dir, 'merged.errors.csv') });
    expect(s).toMatchObject({ rows: 5, stored: 3, unchanged: 0, rejectedRows: 1, shipments: 2 });
    const report = readFileSync(s.errorReport!, 'utf8').trim().split('\n').slice(1);
    expect(report).toEqual([expect.stringMatching(/^5,Q3,"?trackingNo ZT6600000001 \(ZTO\) already serves order Q1 of another customer .*nothing of order Q3 was stored/)]);
    expect(await servedBy('ZT6600000001')).toEqual(['Q1', 'Q2']);
    expect(await db.sql`select 1 from orders where external_id = 'Q3'`).toHaveLength(0);
    expect(await db.sql`select 1 from shipments where tracking_no = 'ZT6600000003'`).toHaveLength(0);
  });
});
