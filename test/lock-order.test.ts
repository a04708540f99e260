import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detect } from '../jobs/detect-exceptions.js';
import { syncOutreach } from '../jobs/sync-outreach.js';
import { planPolls } from '../jobs/plan-polls.js';
import { claimShipmentSubjects, setNextCheck } from '../db/queries/exceptions.js';
import type { FollowUp } from '../jobs/define-job.js';
import { executeJob } from '../worker/runtime.js';
import { createTestApp, type TestApp } from './helpers/app.js';

/*
 * Issue 13: a deadlock between detection's exception insert and sync-outreach's FOR UPDATE. The sweep locked
 * a parcel's open exceptions, then (inserting a new exception) its order through the foreign key; sync locks
 * the order, then its exceptions. Here the old interleaving is forced with a second connection playing
 * sync's page (its two locking statements, as jobs/sync-outreach.ts syncOrders runs them).
 */

const T0 = Date.parse('2026-11-11T00:00:00+08:00');
const iso = (h: number) => new Date(T0 + h * 3_600_000).toISOString();

let app: TestApp;
let other: postgres.Sql;
beforeAll(async () => {
  app = await createTestApp({}, iso(0));
  other = postgres(app.db.url, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await other?.end({ timeout: 2 });
  await app?.close();
});

/** `n` orders of one parcel each, paid at 0 h, marked shipped at 2 h. */
const book = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    orderId: `${prefix}${i}`,
    platform: 'taobao',
    paidAt: iso(0),
    amount: 10,
    shipments: [{ carrier: 'ZTO', trackingNo: `PW${prefix}${String(i).padStart(8, '0')}`, markedShippedAt: iso(2) }],
  }));

/** Backends of this test database waiting for a lock. */
async function lockWaiters(): Promise<number> {
  const [r] = await app.deps.sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
  return r!.n;
}

describe('one lock order between the detection sweep and sync-outreach', () => {
  it('sync holding an order while the sweep judges its parcel: they wait, never deadlock', async () => {
    // A parcel with an open fake-shipment warning, about to get a late-shipment verdict too (a new insert).
    await app.addOrders([{ orderId: 'L1', platform: 'taobao', paidAt: iso(0), amount: 10, shipments: [{ carrier: 'ZTO', trackingNo: 'PWL00000001', markedShippedAt: iso(2) }] }]);
    const sql = app.deps.sql;
    await sql`update shipments set last_polled_at = ${iso(20)}, last_answer_at = ${iso(20)}`; // the carrier answered: no scan
    app.clock.set(iso(30));
    await detect(app.deps);
    expect((await sql`select type from exceptions where status = 'open'`).map((r) => r.type)).toEqual(['fake_shipment_risk']);
    const [{ id: orderId }] = (await sql`select id from orders where external_id = 'L1'`) as unknown as [{ id: string }];
    const [{ id: shipmentId }] = (await sql`select id from shipments`) as unknown as [{ id: string }];

    app.clock.set(iso(49)); // late_shipment warning opens at 48 h
    const errors: string[] = [];
    await other.begin(async (tx) => {
      // sync's page, first statement: its orders, FOR UPDATE.
      await tx`select id from orders where id = ${orderId} order by id for update skip locked`;
      // Meanwhile the sweep judges the parcel (it will insert late_shipment for this order).
      const sweep = detect(app.deps, [Number(shipmentId)]).catch((err: Error & { code?: string }) => {
        errors.push(`${err.code ?? ''} ${err.message}`);
      });
      for (let i = 0; i < 200 && (await lockWaiters()) === 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect(await lockWaiters()).toBe(1); // the sweep waits for the order
      // sync's second statement: the order's open exceptions, FOR UPDATE. With the old order the sweep held
      // them already and waited for the order: Postgres broke the cycle with "deadlock detected" (40P01).
      await tx`select id from exceptions e where e.order_id = ${orderId} and e.status = 'open' order by e.id for update of e`.catch((err: Error & { code?: string }) => {
        errors.push(`${err.code ?? ''} ${err.message}`);
        throw err;
      });
      void sweep;
    });
    // Sync's page committed; the sweep went on behind it.
    for (let i = 0; i < 200 && (await sql`select 1 from exceptions where type = 'late_shipment'`).length === 0 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(errors).toEqual([]);
    expect((await sql`select type from exceptions where status = 'open' order by type`).map((r) => r.type)).toEqual(['fake_shipment_risk', 'late_shipment']);
  });

  it('many rounds of both at once on one book end without a deadlock', async () => {
    await app.addOrders(book('M', 40));
    const sql = app.deps.sql;
    await sql`update shipments set last_polled_at = ${iso(20)}, last_answer_at = ${iso(20)}`;
    const errors: string[] = [];
    for (let round = 0; round < 12; round++) {
      app.clock.set(iso(26 + round * 3)); // fake shipment, then late shipment warning/critical, escalations
      await sql`update shipment_schedule set next_check_at = 'epoch'`;
      await sql`update exceptions set change_seq = nextval('exception_change_seq') where status = 'open'`;
      const all = await sql`select id from shipments`;
      await Promise.all([
        detect(app.deps),
        detect(app.deps, all.map((r) => Number(r.id))),
        syncOutreach(app.deps, async () => {}),
        syncOutreach(app.deps, async () => {}),
      ]).catch((err: Error & { code?: string }) => errors.push(`${err.code ?? ''} ${err.message}`));
    }
    expect(errors).toEqual([]);
    const [r] = await sql`select count(*)::int as n from outreach_tasks where status in ('open', 'claimed')`;
    expect(r!.n).toBe(41);
  });
});

describe('plan-polls is never starved by a detection sweep (issue 13)', () => {
  it('a sweep holding its claim on parcels does not keep plan-polls from planning them', async () => {
    await app.addOrders(book('S', 30));
    const sql = app.deps.sql;
    app.clock.set(iso(100));
    await sql`update shipment_schedule set next_poll_at = 'epoch', next_check_at = 'epoch'`;
    const total = (await sql`select count(*)::int as n from shipments`)[0]!.n as number;
    const followUps: FollowUp[] = [];
    await other.begin(async (tx) => {
      // A sweep's batch: every parcel claimed, judged inside this open transaction.
      const claimed = await claimShipmentSubjects(tx as never, app.clock.now(), 1000);
      expect(claimed).toHaveLength(total);
      const r = await executeJob(planPolls, {}, app.deps, { jobId: 'plan', attempt: 1, enqueue: async (f) => void followUps.push(...f) });
      expect(r.summary!.pollsPlanned).toBe(total);
    });
    const planned = followUps.flatMap((f) => (f.payload as { shipmentIds?: number[] }).shipmentIds ?? []);
    expect(new Set(planned).size).toBe(total);
  });
});

describe('a sweep does not overwrite a "judge now" written while it judged', () => {
  it('the schedule row changed after the claim keeps its value; the others get the next check', async () => {
    const sql = app.deps.sql;
    app.clock.set(iso(100));
    await sql`update shipment_schedule set next_check_at = 'epoch'`;
    const far = new Date(T0 + 1000 * 3_600_000);
    await other.begin(async (tx) => {
      const claimed = await claimShipmentSubjects(tx as never, app.clock.now(), 2);
      expect(claimed).toHaveLength(2);
      // Meanwhile a poll brings new events for the first parcel: "judge it now" (ingest's recheck).
      await sql`update shipment_schedule set next_check_at = ${iso(99)} where shipment_id = ${claimed[0]!.shipmentId}`;
      await setNextCheck(tx as never, 'shipments', claimed.map((c) => ({ id: c.shipmentId!, at: far, version: c.scheduleVersion })));
    });
    const ids = await sql`select shipment_id, next_check_at from shipment_schedule where next_check_at in (${iso(99)}, ${far.toISOString()}) order by next_check_at`;
    expect(ids.map((r) => (r.next_check_at as Date).toISOString())).toEqual([iso(99), far.toISOString()]);
  });
});
