import { afterAll, describe, expect, it } from 'vitest';
import type { TrackingProvider, TrackRequest, TrackResult } from '../carriers/carrier.js';
import { fixedClock } from '../domain/clock.js';
import { detect } from '../jobs/detect-exceptions.js';
import { createLogger } from '../worker/logger.js';
import { startDaemon } from '../worker/daemon.js';
import { openWorkerPools, poolGroupOf } from '../worker/pools.js';
import { RedisConnections } from '../worker/redis.js';
import { QueueRuntime } from '../worker/runtime.js';
import { createTestApp } from './helpers/app.js';
import { dropPrefix, uniquePrefix } from './helpers/redis.js';
import { TEST_REDIS_URL } from './helpers/services.js';

/*
 * A worker process runs polls and sweeps side by side: polls get a Postgres pool of their own, and a
 * stopping process ends its sweeps between batches. Real Postgres, Redis and BullMQ workers.
 */

const silent = createLogger('silent', { pretty: false });
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await dropPrefix(p);
});

/** Answers every number "not found yet": enough for a poll job to load, call and write. */
const notFound: TrackingProvider = {
  name: 'sandbox',
  maxBatch: 50,
  async track(reqs: TrackRequest[]): Promise<TrackResult[]> {
    return reqs.map((r) => ({ kind: 'not_found', trackingNo: r.trackingNo, message: 'no record yet' }));
  },
};

const orders = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    orderId: `W${i}`,
    paidAt: '2026-11-11T00:05:00+08:00',
    amount: 100,
    shipments: [{ carrier: 'ZTO', trackingNo: `PW${String(900000000 + i)}`, markedShippedAt: '2026-11-11T09:00:00+08:00' }],
  }));

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('pool groups', () => {
  it('polls, sweeps and the rest each map to their own pool', () => {
    expect(poolGroupOf('poll-kuaidi100')).toBe('polls');
    expect(poolGroupOf('poll-sandbox')).toBe('polls');
    expect(['schedules', 'detection', 'outreach'].map(poolGroupOf)).toEqual(['sweeps', 'sweeps', 'sweeps']);
    expect(poolGroupOf('notifications')).toBe('shared');
  });

  it('a poll job completes while every sweep and shared connection is taken', async () => {
    const app = await createTestApp({ database: { poolSize: 2, pools: { polls: 2, sweeps: 2 } } });
    prefixes.push(app.prefix);
    const pools = await openWorkerPools(app.deps, app.config);
    const runtime = new QueueRuntime(app.deps, new RedisConnections(TEST_REDIS_URL, silent), pools);
    app.deps.providers.set('sandbox', notFound);
    await app.addOrders(orders(1));
    const [s] = await app.db.sql`select id from shipments`;
    // Every connection a sweep or the API could use, held as a long sweep would hold them.
    const held = await Promise.all([
      ...[0, 1].map(() => pools.depsFor('detection').sql.reserve()),
      ...[0, 1].map(() => app.deps.sql.reserve()),
    ]);
    try {
      runtime.startWorkers();
      await runtime.enqueue([{ job: 'poll-tracking', queue: 'poll-sandbox', payload: { provider: 'sandbox', shipmentIds: [Number(s!.id)] }, jobId: 'poll-isolated' }]);
      await until('the poll job to complete', async () => (await runtime.queue('poll-sandbox').getJobState('poll-isolated')) === 'completed');
      const [row] = await app.db.sql`select last_polled_at from shipments where id = ${s!.id}`;
      expect(row!.last_polled_at).not.toBeNull();
    } finally {
      for (const c of held) c.release();
      await runtime.close();
      await pools.close();
      await app.close();
    }
  });
});

describe('stopping during a long sweep', () => {
  it('the detection sweep ends between batches, the daemon stops, and the next sweep does the rest', async () => {
    const n = 12;
    // One shipment per batch, one batch at a time: a sweep of n batches.
    const app = await createTestApp({ jobs: { detectExceptions: { batchSize: 1, concurrency: 1 } } }, '2026-11-11T10:00:00+08:00');
    prefixes.push(app.prefix);
    const daemon = await startDaemon({ config: app.config, clock: fixedClock('2026-11-13T12:00:00+08:00'), log: silent, role: 'worker', migrate: false });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let holding: Promise<unknown> | undefined;
    try {
      await app.addOrders(orders(n));
      // An open exception on every shipment, all locked by this test: the sweep's first batch waits on its
      // shipment's exception (loadOpenExceptions locks them), so the sweep is stopped mid-way, deterministically.
      await app.db.sql`
        insert into exceptions (order_id, shipment_id, type, severity, status, opened_at, details, updated_at)
        select s.order_id, s.id, 'tracking_stalled', 'warning', 'open', '2026-11-11T00:00:00Z', '{}'::jsonb, '2026-11-11T00:00:00Z' from shipments s`;
      let locked!: () => void;
      const isLocked = new Promise<void>((r) => (locked = r));
      holding = app.db.sql.begin(async (tx) => {
        await tx`select id from exceptions where status = 'open' for update`;
        locked();
        await gate;
      });
      await isLocked;
      await daemon.runtime.enqueue([{ job: 'detect-exceptions', payload: { slot: 'stop-test' }, jobId: 'detect-stop-test' }]);
      await until('the sweep to wait on the locked exceptions', async () => {
        const [w] = await app.db.sql`select count(*)::int as n from pg_stat_activity where datname = ${app.db.name} and wait_event_type = 'Lock'`;
        return w!.n > 0;
      });
      const stopping = daemon.stop();
      release();
      await holding;
      // Resolves only once the sweep job has returned: it did not go on through the other batches.
      await stopping;
      const rest = await detect({ ...app.deps, clock: fixedClock('2026-11-13T12:00:00+08:00') });
      expect(rest.evaluated).toBeGreaterThanOrEqual(n - 1);
      // Resumed and finished: nothing is left due.
      const again = await detect({ ...app.deps, clock: fixedClock('2026-11-13T12:00:00+08:00') });
      expect(again.evaluated).toBe(0);
    } finally {
      release();
      await holding?.catch(() => {});
      await daemon.stop();
      await app.close();
    }
  });
});
