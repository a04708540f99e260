import { writeFileSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../domain/clock.js';
import { importOrders } from '../ingest/import-orders.js';
import { createLogger } from '../worker/logger.js';
import { startDaemon, type Daemon } from '../worker/daemon.js';
import { testConfig } from './helpers/config.js';
import { createTestDb, type TestDb } from './helpers/db.js';
import { dropPrefix, uniquePrefix } from './helpers/redis.js';

const order = (id: string, extra: Record<string, unknown> = {}) => ({
  orderId: id,
  platform: 'taobao',
  paidAt: '2026-11-11T00:05:00+08:00',
  amount: 199,
  customer: { name: '王芳', phone: '13800138000', handle: 'wf' },
  shipments: [{ carrier: 'zhongtong', trackingNo: `ZT10000${id}`, markedShippedAt: '2026-11-11T10:00:00+08:00' }],
  ...extra,
});

describe('order ingest', () => {
  let db: TestDb;
  let daemon: Daemon;
  let base: string;
  const prefix = uniquePrefix();
  const token = 'test-token-0123456789abcdef';

  beforeAll(async () => {
    db = await createTestDb();
    const config = testConfig({ databaseUrl: db.url, prefix, overrides: { http: { apiToken: token, maxOrdersPerRequest: 5, bodyLimitBytes: 4096 } } });
    daemon = await startDaemon({ config, clock: fixedClock('2026-11-12T00:00:00Z'), log: createLogger('silent', { pretty: false }), role: 'api', migrate: false });
    base = `http://127.0.0.1:${daemon.http!.port}`;
  });
  afterAll(async () => {
    await daemon.stop();
    await db.drop();
    await dropPrefix(prefix);
  });

  const post = (body: unknown, auth = true) =>
    fetch(`${base}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${token}` } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('requires the bearer token on /api', async () => {
    expect((await post({ orders: [] }, false)).status).toBe(401);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('stores valid orders and rejects bad ones in the same batch, naming the field', async () => {
    const res = await post({
      orders: [order('A1'), { ...order('A2'), paidAt: '2026-11-11 00:05' }, order('A3', { shipments: [{ carrier: '顺丰', trackingNo: 'SF123456789' }] }), { orderId: 'A4', paidAt: '2026-11-11T00:05:00+08:00', shipments: [{ carrier: 'nosuchcarrier', trackingNo: 'X1234567' }] }],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { accepted: number; rejected: { index: number; orderId: string; errors: string[] }[] };
    expect(body.rejected.map((r) => r.orderId)).toEqual(['A2', 'A4']);
    expect(body.accepted).toBe(2);
    expect(body.rejected).toHaveLength(2);
    expect(body.rejected[0]).toMatchObject({ index: 1, orderId: 'A2' });
    expect(body.rejected[0]!.errors[0]).toMatch(/^paidAt: /);
    expect(body.rejected[1]!.errors[0]).toMatch(/shipments\.0\.carrier: unknown carrier/);
    const rows = await db.sql`select o.external_id, s.carrier, s.tracking_no from orders o left join shipments s on s.order_id = o.id order by 1`;
    expect(rows.map((r) => [r.external_id, r.carrier])).toEqual([
      ['A1', 'ZTO'],
      ['A3', 'SF'],
    ]);
  });

  it('re-posting the same order changes nothing; a new parcel on a known order is added', async () => {
    const before = await db.sql`select id, updated_at from orders where external_id = 'A1'`;
    expect(((await (await post({ orders: [order('A1')] })).json()) as { accepted: number }).accepted).toBe(1);
    const after = await db.sql`select id, updated_at from orders where external_id = 'A1'`;
    expect(after).toEqual(before);
    const two = order('A1', { shipments: [{ carrier: 'ZTO', trackingNo: 'ZT10000A1' }, { carrier: 'YTO', trackingNo: 'YT99887766' }] });
    await post({ orders: [two] });
    const parcels = await db.sql`select carrier from shipments s join orders o on o.id = s.order_id where o.external_id = 'A1' order by carrier`;
    expect(parcels.map((p) => p.carrier)).toEqual(['YTO', 'ZTO']);
  });

  it('answers 400 for non-JSON or the wrong shape and 413 for too many orders or too big a body', async () => {
    const notJson = await post('{"orders": [');
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: string }).error).toMatch(/not JSON/);
    expect((await post({ order: [] })).status).toBe(400);
    expect((await post({ orders: Array.from({ length: 6 }, (_, i) => order(`B${i}`)) })).status).toBe(413);
    expect((await post({ orders: [order('C1', { customer: { name: 'x'.repeat(5000) } })] })).status).toBe(413);
  });

  it('imports a CSV, storing good rows and reporting bad rows by line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pwimp-'));
    const file = join(dir, 'orders.csv');
    writeFileSync(
      file,
      [
        'orderId,platform,type,paidAt,promisedShipBy,amount,currency,customerName,customerPhone,customerHandle,carrier,trackingNo,markedShippedAt',
        'E1,tmall,normal,2026-11-11T01:00:00+08:00,,88.5,CNY,李娜,13900000001,ln,YTO,YT0000000001,2026-11-11T12:00:00+08:00',
        'E1,tmall,normal,2026-11-11T01:00:00+08:00,,88.5,CNY,李娜,13900000001,ln,YTO,YT0000000002,',
        'E2,tmall,normal,not-a-date,,10,CNY,张伟,13900000002,zw,YTO,YT0000000003,',
        'E3,jd,presale,2026-11-11T02:00:00+08:00,2026-11-20T00:00:00+08:00,300,CNY,刘洋,13900000003,ly,,,',
        'E4,tmall,normal,2026-11-11T01:00:00+08:00,,-5,CNY,陈静,13900000004,cj,YTO,YT0000000004,',
      ].join('\n'),
    );
    const s = await importOrders({ sql: db.sql, clock: fixedClock('2026-11-12T00:00:00Z'), input: daemon.deps.config.input, file });
    // Two distinct orders (E1 has two rows).
    expect(s).toMatchObject({ rows: 5, stored: 2, unchanged: 0, rejectedRows: 2 });
    const report = readFileSync(s.errorReport!, 'utf8').trim().split('\n');
    expect(report[1]).toMatch(/^4,E2,"?paidAt: /);
    expect(report[2]).toMatch(/^6,E4,"?amount: /);
    const e1 = await db.sql`select count(*)::int as n from shipments s join orders o on o.id = s.order_id where o.external_id = 'E1'`;
    expect(e1[0]!.n).toBe(2);
    const e3 = await db.sql`select type, promised_ship_by from orders where external_id = 'E3'`;
    expect(e3[0]!.type).toBe('presale');
  });
});
