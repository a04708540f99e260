import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { carrierTable, encodeCsv, exceptionTable, type CarrierReport, type ExceptionReport } from '../api/reports.js';
import { startHttp, type HttpServer } from '../worker/http.js';
import { createTestApp, type TestApp } from './helpers/app.js';

const t = (s: string) => new Date(`2026-${s}+08:00`);

interface P {
  tag: string;
  carrier: string;
  marked: string;
  collected?: string;
  delivered?: string;
  statuses?: string[];
}

/**
 * The small fixture the scorecards are checked against (figures worked out by hand in the tests):
 * ZTO: Z1 24 h, Z2 48 h, Z3 84 h delivered; Z4 in transit, refused (拒签); Z5 collected before the period.
 * YTO: Y1 48 h delivered, collected 10 h after marked shipped; Y2 never collected.
 */
const PARCELS: P[] = [
  { tag: 'Z1', carrier: 'ZTO', marked: '11-10T00:00:00', collected: '11-10T06:00:00', delivered: '11-11T06:00:00' },
  { tag: 'Z2', carrier: 'ZTO', marked: '11-10T00:00:00', collected: '11-10T12:00:00', delivered: '11-12T12:00:00' },
  { tag: 'Z3', carrier: 'ZTO', marked: '11-10T00:00:00', collected: '11-10T02:00:00', delivered: '11-13T14:00:00' },
  { tag: 'Z4', carrier: 'ZTO', marked: '11-11T00:00:00', collected: '11-11T04:00:00', statuses: ['collected', 'rejected'] },
  { tag: 'Z5', carrier: 'ZTO', marked: '10-01T00:00:00', collected: '10-01T05:00:00', delivered: '10-02T05:00:00' },
  { tag: 'Y1', carrier: 'YTO', marked: '11-12T00:00:00', collected: '11-12T10:00:00', delivered: '11-14T10:00:00' },
  { tag: 'Y2', carrier: 'YTO', marked: '11-12T00:00:00' },
];

describe('scorecards and exception trends', () => {
  let app: TestApp;
  let http: HttpServer;
  const ids: Record<string, { order: number; shipment: number }> = {};
  const TOKEN = 'tok-reports-0123456789';

  beforeAll(async () => {
    app = await createTestApp({ http: { apiToken: TOKEN } }, '2026-11-20T00:00:00+08:00');
    const sql = app.deps.sql;
    for (const p of PARCELS) {
      const [o] = await sql`insert into orders (platform, external_id, paid_at) values ('taobao', ${p.tag}, ${t(p.marked)}) returning id`;
      const [s] = await sql`
        insert into shipments (order_id, carrier, tracking_no, marked_shipped_at, collected_at, delivered_at, status)
        values (${o!.id}, ${p.carrier}, ${p.tag}, ${t(p.marked)}, ${p.collected ? t(p.collected) : null}, ${p.delivered ? t(p.delivered) : null}, 'in_transit')
        returning id`;
      ids[p.tag] = { order: Number(o!.id), shipment: Number(s!.id) };
      for (const [i, st] of (p.statuses ?? []).entries()) {
        await sql`insert into tracking_events (shipment_id, event_key, occurred_at, status, text, provider, seen_at)
                  values (${s!.id}, ${String(i)}, ${t(p.collected!)}, ${st}, ${st}, 'sandbox', ${t(p.collected!)})`;
      }
    }
    // ZTO's norm: p90 50 h (a seed) → Z1 and Z2 on time, Z3 late. YTO has none.
    await sql`insert into transit_norms values ('seed', 'ZTO', '*', '*', 30, 50, 0, now())`;
    const exc = async (tag: string, type: string, opened: string, resolved: string | null, taskId: number | null = null) =>
      sql`insert into exceptions (order_id, shipment_id, type, severity, status, opened_at, resolved_at, outreach_task_id, updated_at)
          values (${ids[tag]!.order}, ${ids[tag]!.shipment}, ${type}, 'warning', ${resolved ? 'resolved' : 'open'}, ${t(opened)},
                  ${resolved ? t(resolved) : null}, ${taskId}, now())`;
    const task = async (tag: string, status: string, outcome: string | null, compensation: number | null) =>
      Number(
        (
          await sql`insert into outreach_tasks (order_id, status, type, severity, priority, reason, script, due_by, outcome, compensation_yuan, created_at, updated_at)
                    values (${ids[tag]!.order}, ${status}, 'undelivered_3d', 'warning', 130, 'r', 's', ${t('11-14T00:00:00')}, ${outcome}, ${compensation}, now(), now())
                    returning id`
        )[0]!.id,
      );
    await exc('Z3', 'undelivered_3d', '11-13T02:00:00', '11-13T14:00:00', await task('Z3', 'done', 'compensated', 10));
    await exc('Z4', 'tracking_stalled', '11-13T10:00:00', null, await task('Z4', 'open', null, null));
    // opened 01:00 Shanghai on the 14th = 17:00 UTC on the 13th: the business day is the 14th
    await exc('Y2', 'fake_shipment_risk', '11-14T01:00:00', null);
    http = await startHttp(app.deps, { check: async () => 'ok' as const }, async () => {}, { port: 0 });
  });
  afterAll(async () => {
    await http.close();
    await app.close();
  });

  const get = async (path: string, token = TOKEN) => {
    const res = await fetch(`http://127.0.0.1:${http.port}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('carrier scorecards match the hand-computed figures', async () => {
    const { status, body } = await get('/api/reports/carriers?since=2026-11-01T00:00:00%2B08:00&until=2026-12-01T00:00:00%2B08:00');
    expect(status).toBe(200);
    const r = body as unknown as CarrierReport;
    const zto = r.items.find((i) => i.carrier === 'ZTO')!;
    const yto = r.items.find((i) => i.carrier === 'YTO')!;
    expect(r.items).toHaveLength(2);
    expect(zto).toMatchObject({
      carrierName: '中通快递',
      parcels: 4, // Z5 was collected before the period
      delivered: 3,
      judged: 3,
      onTime: 2, // 24 h and 48 h within p90 50 h; 84 h not
      onTimeRate: 0.6667,
      medianTransitHours: 48, // of 24, 48, 84
      p90TransitHours: 76.8, // 48 + 0.8 × (84 − 48)
      medianCollectionDelayHours: 5, // of 6, 12, 2, 4
      exceptions: { undelivered_3d: { parcels: 1, rate: 0.25 }, tracking_stalled: { parcels: 1, rate: 0.25 } },
      rejected: { parcels: 1, rate: 0.25 },
      returned: { parcels: 0, rate: 0 },
      outreach: { tasks: 2, byStatus: { done: 1, open: 1 }, byOutcome: { compensated: 1 }, compensationYuan: 10 },
    });
    expect(yto).toMatchObject({
      parcels: 2, // Y2 counts by its marked-shipped time
      delivered: 1,
      judged: 0,
      onTimeRate: null, // no norm for YTO
      medianTransitHours: 48,
      p90TransitHours: 48,
      medianCollectionDelayHours: 10,
      exceptions: { fake_shipment_risk: { parcels: 1, rate: 0.5 } },
      outreach: { tasks: 0, compensationYuan: 0 },
    });
    // one carrier on request
    const one = (await get('/api/reports/carriers?since=2026-11-01T00:00:00%2B08:00&until=2026-12-01T00:00:00%2B08:00&carrier=YTO')).body as unknown as CarrierReport;
    expect(one.items.map((i) => i.carrier)).toEqual(['YTO']);
  });

  it('exception trends count opened and resolved per business day, type and carrier', async () => {
    const { body } = await get('/api/reports/exceptions?since=2026-11-01T00:00:00%2B08:00&until=2026-12-01T00:00:00%2B08:00');
    const r = body as unknown as ExceptionReport;
    expect(r.items).toEqual([
      { day: '2026-11-13', type: 'tracking_stalled', carrier: 'ZTO', opened: 1, resolved: 0 },
      { day: '2026-11-13', type: 'undelivered_3d', carrier: 'ZTO', opened: 1, resolved: 1 },
      { day: '2026-11-14', type: 'fake_shipment_risk', carrier: 'YTO', opened: 1, resolved: 0 },
    ]);
    expect(r.totals).toEqual({ tracking_stalled: { opened: 1, resolved: 0 }, undelivered_3d: { opened: 1, resolved: 1 }, fake_shipment_risk: { opened: 1, resolved: 0 } });
    // the period is relative to the injected clock (2026-11-20): 6 days back starts on the 14th
    const recent = (await get('/api/reports/exceptions?since=6d')).body as unknown as ExceptionReport;
    expect(recent.items.map((i) => i.type)).toEqual(['fake_shipment_risk']);
  });

  it('the reports sit behind the API token and refuse a bad period', async () => {
    expect((await get('/api/reports/carriers', 'wrong')).status).toBe(401);
    const bad = await get('/api/reports/carriers?since=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/since/);
  });

  it('CSV opens in Chinese Excel: UTF-8 with a BOM by default, GB18030 on request', async () => {
    const r = (await get('/api/reports/carriers?since=2026-11-01T00:00:00%2B08:00&until=2026-12-01T00:00:00%2B08:00')).body as unknown as CarrierReport;
    const table = carrierTable(r);
    const utf8 = encodeCsv(table);
    expect([...utf8.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = utf8.toString('utf8').slice(1);
    expect(text.split('\r\n')[0]).toMatch(/^快递,快递名称,包裹数,已签收,准时率\(%\)/);
    expect(text).toContain('ZTO,中通快递,4,3,66.7,48,76.8,5,');
    const gb = encodeCsv(table, 'gb18030');
    expect(gb[0]).not.toBe(0xef);
    expect(iconv.decode(gb, 'gb18030')).toBe(text);
    const trends = exceptionTable((await get('/api/reports/exceptions?since=2026-11-01T00:00:00%2B08:00')).body as unknown as ExceptionReport);
    expect(encodeCsv(trends).toString('utf8')).toContain('2026-11-14,虚假发货风险,圆通速递,1,0');
  });

  it('today: open exceptions by type and severity, overdue tasks, waiting chasers', async () => {
    const { body } = await get('/api/reports/today');
    expect(body).toMatchObject({
      openExceptionsTotal: 2,
      openExceptions: [
        { type: 'fake_shipment_risk', severity: 'warning', count: 1 },
        { type: 'tracking_stalled', severity: 'warning', count: 1 },
      ],
      lateShipmentBreaches: { count: 0, penaltyYuan: 0 },
      outreach: { open: 1, claimed: 0, overdue: 1 },
      chasers: { active: 0 },
    });
  });
});
