import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import type { TrackingProvider, TrackRequest, TrackResult } from '../carriers/carrier.js';
import { MIGRATIONS_FOLDER, runMigrations } from '../db/migrate.js';
import { fixedClock } from '../domain/clock.js';
import { planPolls } from '../jobs/plan-polls.js';
import { createLogger } from '../worker/logger.js';
import { startDaemon } from '../worker/daemon.js';
import { RedisConnections } from '../worker/redis.js';
import { QueueRuntime } from '../worker/runtime.js';
import { triggerSlot } from '../worker/scheduler.js';
import { createDeps } from '../worker/deps.js';
import { testConfig } from './helpers/config.js';
import { ADMIN_DATABASE_URL, databaseUrl, TEST_REDIS_URL } from './helpers/services.js';
import { createTestApp } from './helpers/app.js';
import { dropPrefix, uniquePrefix } from './helpers/redis.js';
import { createTestDb } from './helpers/db.js';

const silent = createLogger('silent', { pretty: false });

describe('migrations', () => {
  it('four replicas migrating an empty database at once apply each migration once', async () => {
    const name = `pwclone_mig_${Date.now()}`;
    const admin = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database "${name}"`);
    try {
      await Promise.all(Array.from({ length: 4 }, () => runMigrations(databaseUrl(name))));
      const db = postgres(databaseUrl(name), { max: 1 });
      const applied = await db`select count(*)::int as n from drizzle.__drizzle_migrations`;
      const tables = await db`select count(*)::int as n from information_schema.tables where table_schema = 'public'`;
      await db.end();
      const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, 'meta/_journal.json'), 'utf8')) as { entries: unknown[] };
      expect(journal.entries.length).toBeGreaterThanOrEqual(2);
      expect(applied[0]!.n).toBe(journal.entries.length);
      expect(tables[0]!.n).toBeGreaterThanOrEqual(10);
    } finally {
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    }
  });
});

describe('slot-deduplicated cron trigger', () => {
  const prefix = uniquePrefix();
  afterAll(() => dropPrefix(prefix));

  /** Two replicas' queue runtimes on one database and Redis prefix; close() ends both. */
  async function twoReplicas(config: ReturnType<typeof testConfig>, at: string) {
    const runtimes = await Promise.all(
      [0, 1].map(async () => {
        const { deps, db: h } = await createDeps(config, fixedClock(at), silent);
        return { runtime: new QueueRuntime(deps, new RedisConnections(TEST_REDIS_URL, silent)), h };
      }),
    );
    const close = async () => {
      for (const { runtime, h } of runtimes) {
        await runtime.close();
        await h.close();
      }
    };
    return { runtimes, close };
  }

  it('two schedulers ticking in the same slot enqueue one job', async () => {
    const db = await createTestDb();
    const config = testConfig({ databaseUrl: db.url, prefix });
    const { runtimes, close } = await twoReplicas(config, '2026-11-12T02:00:20Z');
    try {
      const ids = await Promise.all(runtimes.map(({ runtime }) => triggerSlot(planPolls, runtime, new Date('2026-11-12T02:00:20Z'))));
      // the second replica's clock is a few seconds later in the same minute
      ids.push(await triggerSlot(planPolls, runtimes[1]!.runtime, new Date('2026-11-12T02:00:59Z')));
      expect(new Set(ids).size).toBe(1);
      const q = runtimes[0]!.runtime.queue('schedules');
      expect(await q.getJobCountByTypes('waiting', 'delayed', 'active', 'completed')).toBe(1);
      await triggerSlot(planPolls, runtimes[0]!.runtime, new Date('2026-11-12T02:05:00Z'));
      expect(await q.getJobCountByTypes('waiting', 'delayed', 'active', 'completed')).toBe(2);
    } finally {
      await close();
      await db.drop();
    }
  });

  it('a schedule with a seconds field gets a slot per second: its ticks within one minute are not deduplicated away', async () => {
    const db = await createTestDb();
    const own = uniquePrefix(); // the test above left its jobs under `prefix`
    const config = testConfig({ databaseUrl: db.url, prefix: own, overrides: { jobs: { planPolls: { schedule: '*/2 * * * * *' } } } });
    const { runtimes, close } = await twoReplicas(config, '2026-11-12T03:00:20Z');
    try {
      const at = (s: number) => new Date(`2026-11-12T03:00:${s}Z`);
      const ids = await Promise.all(runtimes.map(({ runtime }) => triggerSlot(planPolls, runtime, at(20))));
      expect(new Set(ids).size).toBe(1); // a double tick of one second is still one job
      ids.push(await triggerSlot(planPolls, runtimes[1]!.runtime, at(22)));
      expect(new Set(ids).size).toBe(2);
      const q = runtimes[0]!.runtime.queue('schedules');
      expect(await q.getJobCountByTypes('waiting', 'delayed', 'active', 'completed')).toBe(2);
    } finally {
      await close();
      await db.drop();
      await dropPrefix(own);
    }
  });
});

describe('graceful shutdown', () => {
  const prefix = uniquePrefix();
  afterAll(() => dropPrefix(prefix));

  it('lets the job in flight finish before closing', async () => {
    const db = await createTestDb();
    const config = testConfig({ databaseUrl: db.url, prefix });
    const daemon = await startDaemon({ config, clock: fixedClock('2026-11-12T02:00:00Z'), log: silent, role: 'worker', migrate: false });
    let release!: () => void;
    let started!: () => void;
    const inFlight = new Promise<void>((r) => (started = r));
    const gate = new Promise<void>((r) => (release = r));
    const slow: TrackingProvider = {
      name: 'sandbox',
      maxBatch: 50,
      async track(reqs: TrackRequest[]): Promise<TrackResult[]> {
        started();
        await gate;
        return reqs.map((r) => ({ kind: 'not_found', trackingNo: r.trackingNo, message: 'no record yet' }));
      },
    };
    daemon.deps.providers.set('sandbox', slow);
    try {
      const [o] = await db.sql`insert into orders (platform, external_id, paid_at) values ('taobao', 'G1', '2026-11-11T00:00:00Z') returning id`;
      const [s] = await db.sql`insert into shipments (order_id, carrier, tracking_no) values (${o!.id}, 'ZTO', 'ZT1234567') returning id`;
      await daemon.runtime.enqueue([{ job: 'poll-tracking', queue: 'poll-sandbox', payload: { provider: 'sandbox', shipmentIds: [Number(s!.id)] }, jobId: 'poll-shutdown-test' }]);
      await inFlight;
      const stopping = daemon.stop();
      let stopped = false;
      void stopping.then(() => (stopped = true));
      await new Promise((r) => setTimeout(r, 200));
      expect(stopped).toBe(false);
      release();
      await stopping;
      const [row] = await db.sql`select last_polled_at from shipments where id = ${s!.id}`;
      expect(row!.last_polled_at).not.toBeNull();
    } finally {
      release();
      await daemon.stop();
      await db.drop();
    }
  });
});

describe('run-once', () => {
  it('polls due shipments on the sandbox and judges them at the given instant; a replay changes nothing', async () => {
    const app = await createTestApp();
    try {
      await app.addOrders([
        {
          orderId: 'R1',
          paidAt: '2026-11-11T00:05:00+08:00',
          amount: 100,
          shipments: [{ carrier: 'ZTO', trackingNo: 'PW000000010', markedShippedAt: '2026-11-11T09:00:00+08:00' }],
        },
        { orderId: 'R2', paidAt: '2026-11-11T00:05:00+08:00', amount: 1000 },
      ]);
      const s1 = await app.cycle('2026-11-14T12:00:00+08:00');
      expect(s1.failures).toEqual([]);
      expect(s1.totals.polled).toBe(1);
      expect(s1.jobs['poll-tracking']).toBe(1);
      // R2 was paid and never shipped: past 72 h it is a breach at the order level.
      const [late] = await app.deps.sql`select e.severity, e.penalty_yuan from exceptions e join orders o on o.id = e.order_id where o.external_id = 'R2' and e.type = 'late_shipment' and e.status = 'open'`;
      expect(late!.severity).toBe('breach');
      expect(Number(late!.penalty_yuan)).toBe(30);
      const counts = async () => (await app.deps.sql`select (select count(*) from exceptions)::int e, (select count(*) from tracking_events)::int t, (select count(*) from exception_history)::int h`)[0];
      const before = await counts();
      const s2 = await app.cycle('2026-11-14T12:00:00+08:00');
      expect(s2.ok).toBe(true);
      expect(s2.totals.polled ?? 0).toBe(0);
      expect(s2.totals.exceptionsOpened ?? 0).toBe(0);
      expect(await counts()).toEqual(before);
    } finally {
      await app.close();
    }
  });
});

describe('provider failures in a cycle', () => {
  it('an auth failure raises one alert, marks the shipments and is counted by kind; the cycle carries on', async () => {
    const app = await createTestApp();
    try {
      const { ProviderError } = await import('../carriers/carrier.js');
      app.deps.providers.set('sandbox', {
        name: 'sandbox',
        maxBatch: 50,
        async track() {
          throw new ProviderError('sandbox', 'auth', 'invalid key');
        },
      });
      await app.addOrders([
        { orderId: 'F1', paidAt: '2026-11-11T00:05:00+08:00', shipments: [{ carrier: 'ZTO', trackingNo: 'PW000000020' }] },
        { orderId: 'F2', paidAt: '2026-11-11T00:05:00+08:00', shipments: [{ carrier: 'YTO', trackingNo: 'PW000000021' }] },
      ]);
      const s = await app.cycle('2026-11-12T12:00:00+08:00');
      expect(s.failures).toEqual([]);
      expect(s.totals['errors.auth']).toBe(2);
      await app.cycle('2026-11-12T14:00:00+08:00');
      const alerts = await app.deps.sql`select key, count from alerts`;
      expect(alerts).toHaveLength(1);
      expect(alerts[0]!.key).toBe('auth:sandbox');
      const rows = await app.deps.sql`select s.poll_error_kind, c.next_poll_at from shipments s join shipment_schedule c on c.shipment_id = s.id order by s.id`;
      expect(rows.map((r) => r.poll_error_kind)).toEqual(['auth', 'auth']);
      // backed off by polling.errorBackoffMinutes, not retried in a storm
      expect(rows[0]!.next_poll_at.getTime()).toBeGreaterThan(new Date('2026-11-12T14:00:00+08:00').getTime());
    } finally {
      await app.close();
    }
  });
});
