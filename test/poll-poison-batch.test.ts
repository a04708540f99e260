import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../domain/clock.js';
import { slotId, type Deps, type FollowUp } from '../jobs/define-job.js';
import { ISOLATED_PER_RUN, planPolls } from '../jobs/plan-polls.js';
import { pollTracking } from '../jobs/poll-tracking.js';
import { createDeps } from '../worker/deps.js';
import { createLogger } from '../worker/logger.js';
import { executeJob, jobFailedForGood } from '../worker/runtime.js';
import { reply } from './fakes/kuaidi100-server.js';
import { startSeventeenTrackFake, type SeventeenTrackFake } from './fakes/seventeen-track-server.js';
import { testConfig } from './helpers/config.js';
import { createTestDb, type TestDb } from './helpers/db.js';
import { dropPrefix, uniquePrefix } from './helpers/redis.js';

/*
 * One parcel that makes its whole poll job fail (a whole-request 5xx the provider gives only for a batch
 * holding its number, or a reply whose database write breaks) must not fail its batch-mates again every cycle.
 * Real Postgres and Redis, the 17TRACK client against its fake (batches of BATCH), plan-polls and poll-tracking
 * run as run-once runs them: each job once, onFailed when it throws (worker/runtime.ts jobFailedForGood).
 */

const silent = createLogger('silent', { pretty: false });
const TOKEN = 'TOKEN-17';
const FLOOR = 30; // minutes
const BATCH = 6;
const T0 = new Date('2021-12-17T00:00:00Z');
const min = (d: Date, minutes: number) => new Date(d.getTime() + minutes * 60_000);

let db: TestDb;
let fake: SeventeenTrackFake;
const prefixes: string[] = [];
let seq = 0;

beforeAll(async () => {
  db = await createTestDb();
  fake = await startSeventeenTrackFake({ token: TOKEN });
});
afterAll(async () => {
  await fake.close();
  await db.drop();
  for (const p of prefixes) await dropPrefix(p);
});

function trackInfo(): Record<string, unknown> {
  const events = [
    { time_iso: '2021-12-15T20:15:14+08:00', time_utc: '2021-12-15T12:15:14Z', description: '【苏州转运中心】已发出 下一站【无锡转运中心】', location: '苏州市', stage: 'Departure' },
    { time_iso: '2021-12-15T17:10:09+08:00', time_utc: '2021-12-15T09:10:09Z', description: '【江苏省苏州市北桥公司】已揽收', location: '苏州市', stage: 'PickedUp' },
  ];
  return { latest_status: { status: 'InTransit', sub_status: 'InTransit_Departure' }, tracking: { providers: [{ provider: { key: 3011 }, events }] } };
}

async function setup(breakerThreshold = 1000) {
  const prefix = uniquePrefix();
  prefixes.push(prefix);
  const cfg = testConfig({
    databaseUrl: db.url,
    prefix,
    overrides: {
      providers: {
        routes: { default: 'seventeenTrack' },
        seventeenTrack: { enabled: true, baseUrl: fake.url, token: TOKEN, qps: 500, concurrency: 8, batchSize: BATCH, mode: 'poll', minPollIntervalMinutes: FLOOR },
        retry: { attempts: 1, backoffMs: 20 },
        circuitBreaker: { failureThreshold: breakerThreshold, openSeconds: 3600 },
      },
    },
  });
  const clock = fixedClock(T0);
  const { deps, db: handle } = await createDeps(cfg, clock, silent);
  return { deps, clock, close: () => handle.close() };
}

/** `n` YTO parcels due now, each answered by the fake with two scans. */
async function seed(n: number): Promise<{ ids: number[]; nums: string[] }> {
  const ids: number[] = [];
  const nums: string[] = [];
  for (let i = 0; i < n; i++) {
    const no = `YT${String(++seq).padStart(11, '0')}`;
    const [o] = await db.sql`insert into orders (platform, external_id, paid_at) values ('taobao', ${'PP' + no}, '2021-12-14T00:00:00Z') returning id`;
    const [s] = await db.sql`insert into shipments (order_id, carrier, tracking_no, marked_shipped_at) values (${o!.id}, 'YTO', ${no}, '2021-12-15T00:00:00Z') returning id`;
    ids.push(Number(s!.id));
    nums.push(no);
    fake.script(no, { trackInfo: trackInfo() });
  }
  return { ids, nums };
}

/** One plan-polls run at `at`, then every poll job it planned, once, sorted; the jobs that failed. */
async function cycle(deps: Deps, clock: ReturnType<typeof fixedClock>, at: Date): Promise<{ jobs: number[][]; failed: number[][] }> {
  clock.set(at);
  const followUps: FollowUp[] = [];
  await planPolls.handle({ slot: slotId(at) }, deps, { log: silent, jobId: 'plan', attempt: 1, enqueue: async (f) => void followUps.push(...f) });
  const jobs: number[][] = [];
  const failed: number[][] = [];
  for (const f of followUps.filter((x) => x.job === 'poll-tracking')) {
    const ids = (f.payload as { shipmentIds: number[] }).shipmentIds;
    jobs.push(ids);
    try {
      await executeJob(pollTracking, f.payload, deps, { jobId: f.jobId, attempt: 1, enqueue: async () => {} });
    } catch (err) {
      failed.push(ids);
      await jobFailedForGood(pollTracking, f.payload, deps, { jobId: f.jobId, error: err as Error });
    }
  }
  const order = (a: number[], b: number[]) => b.length - a.length || a[0]! - b[0]!;
  return { jobs: jobs.sort(order), failed: failed.sort(order) };
}

async function schedule(ids: number[]) {
  const rows = await db.sql`
    select c.shipment_id, c.poll_failures, c.next_poll_at, s.last_polled_at, (select count(*)::int from tracking_events e where e.shipment_id = s.id) as events
    from shipment_schedule c join shipments s on s.id = c.shipment_id where c.shipment_id = any(${db.sql.array(ids)}::bigint[])`;
  return new Map(rows.map((r) => [Number(r.shipment_id), { failures: r.poll_failures as number, next: r.next_poll_at as Date, polled: r.last_polled_at as Date | null, events: r.events as number }]));
}

/** A case's parcels stop being polled, so they stay out of the next case's batches. */
const retire = (ids: number[]) => db.sql`update shipment_schedule set next_poll_at = null where shipment_id = any(${db.sql.array(ids)}::bigint[])`;

describe('a poison parcel in a poll batch', () => {
  const poisons = {
    'a whole-request 503 for any batch holding its number': {
      arm: (no: string) => fake.failHolding(no, reply.status(503, 'Service Unavailable')),
      disarm: async (no: string) => fake.failHolding(no, null),
    },
    'a reply whose database write is refused': {
      arm: (_no: string, id: number) =>
        db.sql.unsafe(`
          create function pp_refuse_events() returns trigger language plpgsql as $$ begin raise exception 'refused for the test'; end $$;
          create trigger pp_refuse_events before insert on tracking_events for each row when (new.shipment_id = ${id}) execute function pp_refuse_events();`),
      disarm: async () => void (await db.sql.unsafe('drop trigger if exists pp_refuse_events on tracking_events; drop function if exists pp_refuse_events();')),
    },
  };

  for (const [name, poison] of Object.entries(poisons)) {
    it(`${name}: fails its batch once, then alone with a growing backoff; the others are polled and stored; a good answer batches it again`, async () => {
      const { deps, clock, close } = await setup();
      const { ids, nums } = await seed(BATCH);
      const bad = ids[2]!;
      const healthy = ids.filter((id) => id !== bad);
      await poison.arm(nums[2]!, bad);
      try {
        // Cycle 0: one batch, failed by the poison; every parcel counted once and due one floor later.
        const c0 = await cycle(deps, clock, T0);
        expect(c0).toEqual({ jobs: [ids], failed: [ids] });
        let s = await schedule(ids);
        for (const id of ids) expect(s.get(id)).toMatchObject({ failures: 1, next: min(T0, FLOOR), events: 0 });

        // Cycle 1: each parcel with a failure in a job of its own; the healthy ones are stored and batched
        // again, the poison fails alone and backs off two floors.
        const t1 = min(T0, FLOOR);
        const c1 = await cycle(deps, clock, t1);
        expect(c1).toEqual({ jobs: ids.map((id) => [id]), failed: [[bad]] });
        s = await schedule(ids);
        for (const id of healthy) expect(s.get(id)).toMatchObject({ failures: 0, polled: t1, events: 2 });
        expect(s.get(bad)).toMatchObject({ failures: 2, next: min(t1, 2 * FLOOR), events: 0, polled: null });

        // Not due one floor later; alone again two floors later, then four.
        expect((await cycle(deps, clock, min(t1, FLOOR))).jobs.filter((j) => j.includes(bad))).toEqual([]);
        const t2 = min(t1, 2 * FLOOR);
        expect(await cycle(deps, clock, t2)).toEqual({ jobs: [[bad]], failed: [[bad]] });
        expect((await schedule([bad])).get(bad)).toMatchObject({ failures: 3, next: min(t2, 4 * FLOOR) });

        // The provider answers it again: stored, the count reset.
        await poison.disarm(nums[2]!);
        const t3 = min(t2, 4 * FLOOR);
        expect(await cycle(deps, clock, t3)).toEqual({ jobs: [[bad]], failed: [] });
        expect((await schedule([bad])).get(bad)).toMatchObject({ failures: 0, polled: t3, events: 2 });

        // All due together again: one batch, as before the poison.
        const t4 = min(t3, FLOOR);
        await db.sql`update shipment_schedule set next_poll_at = ${t4} where shipment_id = any(${db.sql.array(ids)}::bigint[])`;
        expect(await cycle(deps, clock, t4)).toEqual({ jobs: [ids], failed: [] });
      } finally {
        await poison.disarm(nums[2]!);
        await retire(ids);
        await close();
      }
    });
  }

  it(`an outage that fails every batch isolates at most ${ISOLATED_PER_RUN} parcels in the next run; the rest stay batched`, async () => {
    const { deps, clock, close } = await setup();
    const n = ISOLATED_PER_RUN + 10;
    const { ids, nums } = await seed(n);
    for (const no of nums) fake.failHolding(no, reply.status(503, 'Service Unavailable'));
    try {
      const c0 = await cycle(deps, clock, T0);
      expect(c0.jobs).toHaveLength(Math.ceil(n / BATCH));
      expect(c0.failed).toHaveLength(c0.jobs.length);
      const c1 = await cycle(deps, clock, min(T0, FLOOR));
      const alone = c1.jobs.filter((j) => j.length === 1);
      expect(alone).toHaveLength(ISOLATED_PER_RUN);
      expect(c1.jobs).toHaveLength(ISOLATED_PER_RUN + Math.ceil(10 / BATCH));
      expect(c1.jobs.flat().sort((a, b) => a - b)).toEqual(ids);
      const s = await schedule(ids);
      // Failed alone: two floors; failed in a batch: one floor (a batch's failure is not one parcel's).
      for (const [id] of alone) expect(s.get(id!)).toMatchObject({ failures: 2, next: min(T0, 3 * FLOOR) });
      for (const id of c1.jobs.filter((j) => j.length > 1).flat()) expect(s.get(id)).toMatchObject({ failures: 2, next: min(T0, 2 * FLOOR) });
    } finally {
      for (const no of nums) fake.failHolding(no, null);
      await retire(ids);
      await close();
    }
  });

  it('parcelwatch_poll_failing_shipments counts, at each plan-polls run, the parcels still polled that have failures', async () => {
    const { deps, clock, close } = await setup();
    const { ids, nums } = await seed(BATCH);
    const bad = ids[2]!;
    fake.failHolding(nums[2]!, reply.status(503, 'Service Unavailable'));
    const failing = async () => Object.fromEntries((await deps.metrics.pollFailing.get()).values.map((v) => [v.labels.provider, v.value]));
    try {
      // Planned before any job failed: every provider of the process is shown, at 0 (earlier cases' parcels are no
      // longer polled, whatever their counts).
      expect((await cycle(deps, clock, T0)).failed).toEqual([ids]);
      expect(await failing()).toEqual({ sandbox: 0, seventeenTrack: 0 });
      // The failed batch: all of it counted; each polled alone, the healthy ones answered.
      const t1 = min(T0, FLOOR);
      expect((await cycle(deps, clock, t1)).failed).toEqual([[bad]]);
      expect(await failing()).toEqual({ sandbox: 0, seventeenTrack: BATCH });
      // Only the poison has failures left (it is backing off, not due).
      await cycle(deps, clock, min(t1, FLOOR));
      expect(await failing()).toEqual({ sandbox: 0, seventeenTrack: 1 });
      // Its polling stops (delivered through a push, which keeps the count): it no longer counts.
      await db.sql`update shipment_schedule set next_poll_at = null where shipment_id = ${bad}`;
      await cycle(deps, clock, min(t1, 2 * FLOOR));
      expect(await failing()).toEqual({ sandbox: 0, seventeenTrack: 0 });
    } finally {
      fake.failHolding(nums[2]!, null);
      await retire(ids);
      await close();
    }
  });

  it("a job failed by the breaker's rejection (no request sent) is not counted against its parcels", async () => {
    // The first 503 opens the breaker: the second batch is rejected without a request.
    const { deps, clock, close } = await setup(1);
    const { ids, nums } = await seed(2 * BATCH);
    for (const no of nums) fake.failHolding(no, reply.status(503, 'Service Unavailable'));
    try {
      const c0 = await cycle(deps, clock, T0);
      expect(c0.failed).toEqual([ids.slice(0, BATCH), ids.slice(BATCH)]);
      const s = await schedule(ids);
      for (const id of ids.slice(0, BATCH)) expect(s.get(id)).toMatchObject({ failures: 1, next: min(T0, FLOOR) });
      for (const id of ids.slice(BATCH)) expect(s.get(id)).toMatchObject({ failures: 0, next: min(T0, FLOOR) });
    } finally {
      for (const no of nums) fake.failHolding(no, null);
      await retire(ids);
      await close();
    }
  });
});
