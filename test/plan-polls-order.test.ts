import { afterEach, describe, expect, it } from 'vitest';
import type { FollowUp } from '../jobs/define-job.js';
import { planPolls } from '../jobs/plan-polls.js';
import { executeJob } from '../worker/runtime.js';
import { createTestApp, type TestApp } from './helpers/app.js';

/*
 * plan-polls claims near-deadline parcels first (task: a fresh book with far more parcels due than the provider
 * can answer soon). One page is observed with an aborted signal: a stopping job finishes the page it claimed and
 * takes no other.
 */

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const NOW = '2026-11-20T12:00:00+08:00';
const hoursBefore = (h: number) => new Date(new Date(NOW).getTime() - h * 3_600_000).toISOString();

/** The orders of each page one plan-polls run enqueues (one page only when `stopping`). */
async function runPages(a: TestApp, stopping: boolean): Promise<string[][]> {
  const c = new AbortController();
  if (stopping) c.abort();
  const pages: FollowUp[][] = [];
  await executeJob(planPolls, {}, a.deps, { jobId: 'plan', attempt: 1, enqueue: async (f) => void pages.push(f), signal: c.signal });
  const out: string[][] = [];
  for (const page of pages) {
    const ids = page.flatMap((f) => (f.payload as { shipmentIds: number[] }).shipmentIds);
    const rows = await a.deps.sql`select o.external_id from shipments s join orders o on o.id = s.order_id where s.id = any(${a.deps.sql.array(ids)}::bigint[])`;
    out.push(rows.map((r) => String(r.external_id)).sort());
  }
  return out;
}

const firstPage = async (a: TestApp) => (await runPages(a, true))[0] ?? [];

describe('plan-polls: near-deadline parcels first', () => {
  it('with more parcels due than one page, the uncollected ones nearest their ship deadline are in the first page', async () => {
    // jd allows 48 h (an override): a jd order paid 30 h ago is 18 h from its deadline, a taobao one 42 h.
    const a = await createTestApp(
      { jobs: { planPolls: { pageSize: 4 } }, polling: { nearDeadlineHours: 24 }, rules: { lateShipment: { platforms: { jd: { shipWithinHours: 48 } } } } },
      NOW,
    );
    cleanup.push(() => a.close());
    const order = (id: string, paidHoursAgo: number, over: Record<string, unknown> = {}) => ({
      orderId: id,
      platform: 'taobao',
      paidAt: hoursBefore(paidHoursAgo),
      customer: { phone: '13800138000' },
      shipments: [{ carrier: 'ZTO', trackingNo: `ZT${id.padStart(10, '0')}` }],
      ...over,
    });
    await a.addOrders([
      // near: deadline within 24 h, uncollected, paid-at basis
      order('1', 70), // 2 h left
      order('2', 60), // 12 h left
      order('3', 30, { platform: 'jd' }), // 18 h left (jd: 48 h)
      // not near
      order('4', 30), // taobao: 42 h left
      order('5', 80), // deadline already passed
      order('6', 60, { type: 'presale', promisedShipBy: hoursBefore(-240) }), // promise basis, not the paid-at clock
      order('7', 60), // collected (below)
      order('8', 5),
      order('9', 10),
      order('10', 20),
    ]);
    await a.deps.sql`update shipments set collected_at = ${hoursBefore(50)}, status = 'collected' where tracking_no = 'ZT0000000007'`;
    // Due long before the near ones: ordered by next_poll_at alone, the first page of 4 would hold none of them.
    await a.deps.sql`
      update shipment_schedule c set next_poll_at = case when o.external_id in ('1', '2', '3') then ${hoursBefore(1)}::timestamptz else ${hoursBefore(5)}::timestamptz end
      from shipments s join orders o on o.id = s.order_id where s.id = c.shipment_id`;

    const page = await firstPage(a);
    expect(page).toHaveLength(4);
    expect(page.filter((id) => ['1', '2', '3'].includes(id))).toEqual(['1', '2', '3']);
    // The fourth is taken by next_poll_at; the near ones are leased and not claimed again.
    const second = await firstPage(a);
    expect(second).toHaveLength(4);
    expect(second.filter((id) => ['1', '2', '3'].includes(id))).toEqual([]);
  });

  it('a presale/custom parcel near its promised ship date is near too (the rule holds it to the promise)', async () => {
    // Before, plan-polls left promise-based orders out of the near set while nextPollAt and pushCoverage treated
    // them as near their deadline: a presale parcel 3 h from its promise waited behind older due parcels.
    const a = await createTestApp({ jobs: { planPolls: { pageSize: 2 } }, polling: { nearDeadlineHours: 24 } }, NOW);
    cleanup.push(() => a.close());
    const order = (id: string, over: Record<string, unknown>) => ({
      orderId: id,
      platform: 'tmall',
      paidAt: hoursBefore(10),
      shipments: [{ carrier: 'ZTO', trackingNo: `ZT${id.padStart(10, '0')}` }],
      ...over,
    });
    await a.addOrders([
      order('P1', { type: 'presale', paidAt: hoursBefore(100), promisedShipBy: hoursBefore(-3) }), // promise in 3 h
      order('C1', { type: 'custom', platform: 'jd', paidAt: hoursBefore(200), promisedShipBy: hoursBefore(-20) }), // promise in 20 h
      order('P2', { type: 'presale', paidAt: hoursBefore(71), promisedShipBy: hoursBefore(-100) }), // 1 h from 72 h, but promise far
      order('P3', { type: 'presale', paidAt: hoursBefore(71) }), // no promise: no deadline
      order('F1', {}),
      order('F2', {}),
    ]);
    // The near ones due last by next_poll_at.
    await a.deps.sql`
      update shipment_schedule c set next_poll_at = case when o.external_id in ('P1', 'C1') then ${hoursBefore(1)}::timestamptz else ${hoursBefore(5)}::timestamptz end
      from shipments s join orders o on o.id = s.order_id where s.id = c.shipment_id`;
    expect(await firstPage(a)).toEqual(['C1', 'P1']);
  });

  it('claims the near ones nearest deadline first when they alone fill several pages of one run', async () => {
    const a = await createTestApp({ jobs: { planPolls: { pageSize: 2 } }, polling: { nearDeadlineHours: 24 } }, NOW);
    cleanup.push(() => a.close());
    const hoursAgo = [50, 71, 55, 69, 10, 20];
    await a.addOrders(
      hoursAgo.map((h, i) => ({ orderId: `N${h}`, platform: 'tmall', paidAt: hoursBefore(h), shipments: [{ carrier: 'YTO', trackingNo: `YT${String(i).padStart(10, '0')}` }] })),
    );
    // Newest-paid due first by next_poll_at, the reverse of their deadlines.
    await a.deps.sql`
      update shipment_schedule c set next_poll_at = ${NOW}::timestamptz - (100 - extract(epoch from ${NOW}::timestamptz - o.paid_at) / 3600) * interval '1 hour'
      from shipments s join orders o on o.id = s.order_id where s.id = c.shipment_id`;
    // One run, page after page: the near ones ranked once, claimed in that order, then the rest.
    expect(await runPages(a, false)).toEqual([
      ['N69', 'N71'],
      ['N50', 'N55'],
      ['N10', 'N20'],
    ]);
  });
});
