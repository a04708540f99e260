import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../domain/clock.js';
import type { FollowUp } from '../jobs/define-job.js';
import { slotId } from '../jobs/define-job.js';
import { planPolls } from '../jobs/plan-polls.js';
import { pollTracking } from '../jobs/poll-tracking.js';
import { createDeps } from '../worker/deps.js';
import { createLogger } from '../worker/logger.js';
import { RedisConnections } from '../worker/redis.js';
import { executeJob, QueueRuntime } from '../worker/runtime.js';
import { startKuaidi100Fake, type Kuaidi100Fake } from './fakes/kuaidi100-server.js';
import { testConfig } from './helpers/config.js';
import { createTestDb, type TestDb } from './helpers/db.js';
import { dropPrefix, uniquePrefix } from './helpers/redis.js';
import { TEST_REDIS_URL } from './helpers/services.js';

/*
 * Poll jobs running at once in one process share their database work (one load, one transactional
 * write and one detection job per flush) and their provider's request limit. Real Postgres, Redis,
 * BullMQ workers and the Kuaidi100 client against its fake.
 */

const JOURNEY = JSON.parse(readFileSync(new URL('./fixtures/kuaidi100-query.json', import.meta.url), 'utf8')) as { data: Record<string, unknown>[] };
const NOW = fixedClock('2021-12-16T00:00:00Z');
const silent = createLogger('silent', { pretty: false });
const CUSTOMER = 'CUST';
const KEY = 'secret-key';
const num = (i: number) => `YT${String(i).padStart(11, '0')}`;

let db: TestDb;
let fake: Kuaidi100Fake;
const prefixes: string[] = [];

beforeAll(async () => {
  db = await createTestDb();
  fake = await startKuaidi100Fake({ customer: CUSTOMER, key: KEY });
});
afterAll(async () => {
  await fake.close();
  await db.drop();
  for (const p of prefixes) await dropPrefix(p);
});

function config(qps: number, overrides: { retry?: { attempts?: number; backoffMs?: number }; minPollIntervalMinutes?: number } = {}) {
  const prefix = uniquePrefix();
  prefixes.push(prefix);
  return testConfig({
    databaseUrl: db.url,
    prefix,
    overrides: {
      providers: {
        routes: { default: 'kuaidi100' },
        kuaidi100: {
          enabled: true,
          baseUrl: fake.url,
          customer: CUSTOMER,
          key: KEY,
          qps,
          concurrency: 16,
          ...(overrides.minPollIntervalMinutes ? { minPollIntervalMinutes: overrides.minPollIntervalMinutes } : {}),
        },
        // A failed poll job stays waiting for its retry for the rest of the test.
        retry: { backoffMs: 600_000, ...overrides.retry },
      },
    },
  });
}

/** `n` YTO shipments due now, each answered by the fake with the fixture's four scans (or `reply(i)`). */
async function seed(first: number, n: number, reply?: (i: number) => Record<string, unknown> | undefined): Promise<number[]> {
  const ids: number[] = [];
  for (let i = first; i < first + n; i++) {
    const [o] = await db.sql`insert into orders (platform, external_id, paid_at) values ('taobao', ${'PW' + i}, '2021-12-14T00:00:00Z') returning id`;
    const [s] = await db.sql`
      insert into shipments (order_id, carrier, tracking_no, marked_shipped_at)
      values (${o!.id}, 'YTO', ${num(i)}, '2021-12-15T00:00:00Z') returning id`;
    ids.push(Number(s!.id));
    fake.script(num(i), reply?.(i) ?? { ...JOURNEY, nu: num(i) });
  }
  return ids;
}

/** Most requests the fake saw in any 1 s window. */
function maxPerSecond(times: number[]): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let hi = 0, lo = 0; hi < t.length; hi++) {
    while (t[hi]! - t[lo]! >= 1000) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

describe('poll workers', () => {
  it('many jobs at once: each shipment written once, detection for every change in shared jobs, a bad reply fails only its own job, the provider never sees more than qps', async () => {
    // Number 8's events are refused by the database (a real trigger): the flush holding them fails and is
    // retried job by job, so only its own job fails. Number 9 answers with a NUL character in a scan text, which
    // Postgres text cannot hold: it is stored without it (it used to fail its write on every poll).
    const ids = await seed(1, 40, (i) => (i === 9 ? { ...JOURNEY, nu: num(i), data: [{ ...JOURNEY.data[0], context: 'bad \u0000 scan' }, ...JOURNEY.data.slice(1)] } : undefined));
    const poisoned = ids[7]!;
    await db.sql.unsafe(`
      create function pw_refuse_events() returns trigger language plpgsql as $$
      begin raise exception 'refused for the test'; end $$;
      create trigger pw_refuse_events before insert on tracking_events for each row when (new.shipment_id = ${Number(poisoned)}) execute function pw_refuse_events();`);
    const cfg = config(20);
    const { deps, db: handle } = await createDeps(cfg, NOW, silent);
    const connections = new RedisConnections(TEST_REDIS_URL, silent);
    const runtime = new QueueRuntime(deps, connections);
    const before = fake.requests.length;
    try {
      const slot = slotId(NOW.now());
      await planPolls.handle({ slot }, deps, { log: silent, jobId: 'plan', attempt: 1, enqueue: runtime.enqueue });
      const q = runtime.queue('poll-kuaidi100');
      expect(await q.count()).toBe(40);
      runtime.startWorkers();
      const poisonedJob = `poll-kuaidi100-${slot}-${poisoned}`;
      for (let i = 0; i < 600; i++) {
        const c = await q.getJobCounts('completed', 'delayed', 'failed');
        if ((c.completed ?? 0) + (c.delayed ?? 0) + (c.failed ?? 0) >= 40) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await q.getJobCounts('completed')).toEqual({ completed: 39 });
      const bad = (await q.getJob(poisonedJob))!;
      expect(bad.attemptsMade).toBe(1);
      // The reason names the provider and the number, not only the database's error.
      expect(bad.failedReason).toBe(`kuaidi100: refused for the test (tracking number ${num(8)})`);
      const nulTexts = (await db.sql`select text from tracking_events where shipment_id = ${ids[8]!} order by occurred_at`).map((r) => r.text);
      expect(nulTexts).toContain('bad  scan');

      const rows = await db.sql`
        select s.id, s.status, s.last_polled_at, s.poll_count, (select count(*)::int from tracking_events e where e.shipment_id = s.id) as events
        from shipments s where s.id = any(${db.sql.array(ids)}::bigint[]) order by s.id`;
      for (const r of rows) {
        if (Number(r.id) === poisoned) {
          expect(r).toMatchObject({ events: 0, poll_count: 0, last_polled_at: null, status: 'pending' });
        } else {
          expect(r).toMatchObject({ events: 4, poll_count: 1, status: 'in_transit' });
          expect(r.last_polled_at).toEqual(NOW.now());
        }
      }

      // Every changed shipment is judged, each exactly once, in detection jobs shared by the poll jobs.
      const detect = await runtime.queue('detection').getJobs(['completed', 'waiting', 'active', 'delayed', 'failed']);
      const judged = detect.flatMap((j) => (j.data as { shipmentIds: number[] }).shipmentIds);
      expect(judged.sort((a, b) => a - b)).toEqual(ids.filter((id) => id !== poisoned));

      // The provider's limit holds at the provider: 20 requests in any second, 40 requests in all.
      const seen = fake.requests.slice(before);
      expect(seen).toHaveLength(40);
      expect(maxPerSecond(seen.map((r) => r.at))).toBeLessThanOrEqual(20);
    } finally {
      await db.sql.unsafe('drop trigger if exists pw_refuse_events on tracking_events; drop function if exists pw_refuse_events();');
      await runtime.close();
      await connections.quitAll();
      await handle.close();
    }
  });

  it('events and shipment state commit together: a failed update rolls the events back, and the retry folds them', async () => {
    const [id] = await seed(100, 1);
    const cfg = config(500);
    const { deps, db: handle } = await createDeps(cfg, NOW, silent);
    const followUps: FollowUp[] = [];
    const enqueue = async (f: FollowUp[]) => void followUps.push(...f);
    const run = () => executeJob(pollTracking, { provider: 'kuaidi100', shipmentIds: [id] }, deps, { jobId: 'poll-atomic', attempt: 1, enqueue });
    try {
      // The shipment update fails after the event insert succeeded (a real trigger, not a stub).
      await db.sql.unsafe(`
        create function pw_refuse_update() returns trigger language plpgsql as $$
        begin raise exception 'refused for the test'; end $$;
        create trigger pw_refuse before update on shipments for each row when (old.id = ${Number(id)}) execute function pw_refuse_update();`);
      await expect(run()).rejects.toThrow(/refused for the test/);
      const [mid] = await db.sql`select count(*)::int as n from tracking_events where shipment_id = ${id!}`;
      expect(mid!.n).toBe(0);
      expect(followUps).toEqual([]);

      await db.sql.unsafe('drop trigger pw_refuse on shipments; drop function pw_refuse_update();');
      const r = await run();
      expect(r.summary).toMatchObject({ polled: 1, newEvents: 4 });
      const [s] = await db.sql`select status, last_event_at, last_hub, poll_count from shipments where id = ${id!}`;
      expect(s).toMatchObject({ status: 'in_transit', poll_count: 1, last_hub: '苏州转运中心' });
      expect(s!.last_event_at.toISOString()).toBe('2021-12-15T12:15:14.000Z');
      expect(followUps).toEqual([{ job: 'detect-exceptions', payload: { shipmentIds: [id] }, jobId: 'detect-poll-atomic' }]);
    } finally {
      await db.sql.unsafe('drop trigger if exists pw_refuse on shipments; drop function if exists pw_refuse_update();');
      await handle.close();
    }
  });

  it('a poll job failed for good names provider and number in its reason, and its parcel is due again one per-number floor later, not left leased', async () => {
    const T0 = new Date('2021-12-17T00:00:00Z');
    const clock = fixedClock(T0);
    // Kuaidi100's minimum floor, the lease's length: the job fails FAILS_AFTER into its lease, so the lease
    // (T0 + 30 min) and the floor counted from the failure (T0 + 35 min) differ.
    const FLOOR = 30;
    const FAILS_AFTER = 5 * 60_000;
    const ATTEMPTS = 2;
    const [poison, healthy] = (await seed(300, 2)) as [number, number];
    const poisonNo = num(300);
    fake.fault({ kind: 'status', status: 503 }, { only: (n) => n === poisonNo });
    const cfg = config(50, { retry: { attempts: ATTEMPTS, backoffMs: 20 }, minPollIntervalMinutes: FLOOR });
    const { deps, db: handle } = await createDeps(cfg, clock, silent);
    const connections = new RedisConnections(TEST_REDIS_URL, silent);
    const runtime = new QueueRuntime(deps, connections);
    const plannedAt = async (at: Date) => {
      clock.set(at);
      const followUps: FollowUp[] = [];
      await planPolls.handle({ slot: slotId(at) }, deps, { log: silent, jobId: 'plan', attempt: 1, enqueue: async (f) => void followUps.push(...f) });
      return followUps.flatMap((f) => (f.payload as { shipmentIds: number[] }).shipmentIds).filter((id) => id === poison || id === healthy);
    };
    const nextPollOf = async (id: number) => (await db.sql`select next_poll_at from shipment_schedule where shipment_id = ${id}`)[0]!.next_poll_at as Date;
    try {
      await planPolls.handle({ slot: slotId(T0) }, deps, { log: silent, jobId: 'plan', attempt: 1, enqueue: runtime.enqueue });
      const q = runtime.queue('poll-kuaidi100');
      const poisonJob = `poll-kuaidi100-${slotId(T0)}-${poison}`;
      clock.set(new Date(T0.getTime() + FAILS_AFTER));
      runtime.startWorkers();
      let state = '';
      for (let i = 0; i < 400 && state !== 'failed'; i++) {
        state = await q.getJobState(poisonJob);
        if (state !== 'failed') await new Promise((r) => setTimeout(r, 50));
      }
      expect(state).toBe('failed');
      const job = (await q.getJob(poisonJob))!;
      expect(job.attemptsMade).toBe(ATTEMPTS);
      expect(job.failedReason).toBe(`kuaidi100: server error 503 (tracking number ${poisonNo})`);
      expect(fake.requests.filter((r) => r.numbers.includes(poisonNo))).toHaveLength(ATTEMPTS);
      // The hook runs after BullMQ's failed event: the lease (T0 + 30 min) becomes the failure + the floor.
      const due = new Date(T0.getTime() + FAILS_AFTER + FLOOR * 60_000);
      let next = await nextPollOf(poison);
      for (let i = 0; i < 200 && next.getTime() !== due.getTime(); i++) {
        await new Promise((r) => setTimeout(r, 50));
        next = await nextPollOf(poison);
      }
      expect(next).toEqual(due);
      // The parcel polled fine keeps the instant its poll gave it.
      expect((await db.sql`select last_polled_at from shipments where id = ${healthy}`)[0]!.last_polled_at).toEqual(new Date(T0.getTime() + FAILS_AFTER));
      expect((await nextPollOf(healthy)).getTime()).toBeGreaterThan(due.getTime());
      // Not planned again at once, nor when the lease would have run out, nor a minute before the floor has
      // passed since the failure; planned once it has.
      expect(await plannedAt(new Date(T0.getTime() + FAILS_AFTER + 1000))).toEqual([]);
      expect(await plannedAt(new Date(T0.getTime() + 30 * 60_000))).toEqual([]);
      expect(await plannedAt(new Date(due.getTime() - 60_000))).toEqual([]);
      expect(await plannedAt(due)).toEqual([poison]);
    } finally {
      fake.clearFault();
      await runtime.close();
      await connections.quitAll();
      await handle.close();
    }
  });
});
