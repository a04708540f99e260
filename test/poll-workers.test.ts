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

function config(qps: number) {
  const prefix = uniquePrefix();
  prefixes.push(prefix);
  return testConfig({
    databaseUrl: db.url,
    prefix,
    overrides: {
      providers: {
        routes: { default: 'kuaidi100' },
        kuaidi100: { enabled: true, baseUrl: fake.url, customer: CUSTOMER, key: KEY, qps, concurrency: 16 },
        // A failed poll job stays waiting for its retry for the rest of the test.
        retry: { backoffMs: 600_000 },
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
      expect(bad.failedReason).toMatch(/refused for the test/);
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
});
