import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectExceptions } from '../jobs/detect-exceptions.js';
import { executeJob } from '../worker/runtime.js';
import { createTestApp, type TestApp } from './helpers/app.js';

/**
 * One poisoned row (written straight into the database, past any validation: an older version, a manual fix, a
 * restore) must not stop detection: the sweep sets it aside with an alert and still flags every real late
 * shipment of the same batch.
 */
describe('a detection sweep isolates a row it cannot judge', () => {
  let app: TestApp;
  const paid = '2026-11-11T00:05:00+08:00';

  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => {
    await app.close();
  });

  it('flags the real late shipments of the batch, records the poisoned subjects as alerts and carries on', async () => {
    // Two real orders nobody shipped (order-level late shipment) and one parcel never collected.
    await app.addOrders([
      { orderId: 'LATE1', paidAt: paid, amount: 100 },
      { orderId: 'LATE2', paidAt: paid, amount: 100 },
      { orderId: 'LATE3', paidAt: paid, amount: 100, shipments: [{ carrier: 'ZTO', trackingNo: 'ZT77000001', markedShippedAt: paid }] },
    ]);
    // The poison, as the API accepted it before instants were validated: paid in year 9999, one order without a
    // parcel and one with a parcel, both due for a verdict in the same sweeps as the real ones.
    const sql = app.deps.sql;
    const [o1] = await sql`insert into orders (platform, external_id, paid_at, next_check_at) values ('taobao', 'POISON1', '9999-12-31T23:59:59+08:00', 'epoch') returning id`;
    const [o2] = await sql`insert into orders (platform, external_id, paid_at) values ('taobao', 'POISON2', '9999-12-31T23:59:59+08:00') returning id`;
    const [s2] = await sql`insert into shipments (order_id, carrier, tracking_no) values (${o2!.id}, 'ZTO', 'ZT77000099') returning id`;

    // The detection job alone (no poll job: the parcel stays uncollected, as one the carrier never picked up;
    // the carrier did answer about it, "no scan", else it would not be judged on carrier facts yet),
    // 108 h after payment: all three real ones are late.
    await sql`update shipments set last_polled_at = '2026-11-15T11:00:00+08:00', last_answer_at = '2026-11-15T11:00:00+08:00' where tracking_no in ('ZT77000001', 'ZT77000099')`;
    const sweep = async (at: string) => {
      app.clock.set(at);
      return (await executeJob(detectExceptions, {}, app.deps, { jobId: `detect-${at}`, attempt: 1, enqueue: async () => {} })).summary!;
    };
    const r = await sweep('2026-11-15T12:00:00+08:00');
    expect(r.quarantined).toBe(2);
    expect(await app.deps.metrics.registry.getSingleMetricAsString('parcelwatch_detection_quarantined_total')).toMatch(/ 2$/m);

    const late = await sql`select o.external_id from exceptions e join orders o on o.id = e.order_id
                           where e.type = 'late_shipment' and e.status = 'open' order by 1`;
    expect(late.map((x) => x.external_id)).toEqual(['LATE1', 'LATE2', 'LATE3']);
    const alerts = await sql`select key, message, count from alerts where key like 'detection:%' order by key`;
    expect(alerts.map((a) => [a.key, a.count])).toEqual([
      [`detection:o${o1!.id}`, 1],
      [`detection:s${s2!.id}`, 1],
    ]);
    for (const a of alerts) expect(a.message).toMatch(/out of range/);
    // Set aside: not due again until new facts arrive, so the next sweeps run clean.
    const [due] = await sql`select (select next_check_at from orders where id = ${o1!.id}) as o, (select next_check_at from shipment_schedule where shipment_id = ${s2!.id}) as s`;
    expect(due).toEqual({ o: null, s: null });
    const again = await sweep('2026-11-15T13:00:00+08:00');
    expect(again.quarantined).toBe(0);
  });
});
