import { afterEach, describe, expect, it } from 'vitest';
import { assertNoStuckJobs, assertNothingLost, assertServes, closeAll, crashes, diagnose, duplicateHits, postOrdersPaid, settled, sinkConfig, startSink, type Sink } from './checks.js';
import { FAST_CONFIG, startFaultEnv, untilReady, waitFor, type FaultEnv } from './harness.js';

/*
 * Redis faults that cost data or time: a SIGKILL of a Redis without persistence (every queued job is
 * gone), and a SIGSTOP longer than BullMQ's lock (the jobs in flight lose their locks and are stalled
 * back). "Nothing lost" is test/faults/checks.ts: events once, exceptions once with one task per order,
 * deliveries and messages sent once each, no job stuck active, failed jobs with a reason, the daemon
 * serving afterwards and SIGTERM ending it with 0.
 */

let env: FaultEnv | undefined;
let sink: Sink | undefined;
afterEach(() => closeAll(env, sink).finally(() => ([env, sink] = [undefined, undefined])));

describe('Redis SIGKILL mid-work without persistence, back after 15 s', () => {
  it('re-plans the lost poll jobs at once (not after the 30-minute lease): every parcel polled again, nothing doubled, exit 0', async () => {
    env = await startFaultEnv({ appendonly: false });
    sink = await startSink();
    // One poll job (50 parcels) a second: most of the book sits leased in queued poll jobs when Redis dies.
    const d = await env.startDaemon({
      config: { ...sinkConfig(sink), providers: { ...FAST_CONFIG.providers, sandbox: { qps: 1, concurrency: 1, minPollIntervalMinutes: 0.01 } } },
    });
    await untilReady(d);
    await postOrdersPaid(d, 600);
    await waitFor('a first poll job done', async () => (await env!.sql`select count(*)::int as n from shipments where last_polled_at is not null`)[0]!.n > 0, 60_000, 100);
    await env.redis.kill('SIGKILL');
    await untilReady(d, 503, 20_000);
    await new Promise((r) => setTimeout(r, 15_000));
    expect(d.proc.exitCode).toBeNull();
    // Parcels held by a poll lease (30 min; the FAST_CONFIG poll intervals are seconds, out-for-delivery and
    // problem parcels 60 and 120 min): their poll jobs died with Redis.
    const leased = (await env.sql`
      select shipment_id from shipment_schedule
      where next_poll_at between now() + interval '20 minutes' and now() + interval '31 minutes'`).map((r) => Number(r.shipment_id));
    expect(leased.length).toBeGreaterThan(0);
    await env.redis.start(); // empty: no AOF, no RDB
    const back = new Date();
    await untilReady(d);
    // Before the fix they waited out the lease: this timed out with ~550 of 600 parcels unpolled.
    await waitFor('every leased parcel polled again', async () => {
      const [r] = await env!.sql`select count(*)::int as n from shipments where id = any(${leased}::bigint[]) and (last_polled_at is null or last_polled_at < ${back})`;
      return r!.n === 0;
    }, 60_000, 500);
    expect(d.lines.some((l) => l.msg === 'redis has lost its data (no persistence?): poll leases released, lost poll jobs are planned again')).toBe(true);
    await settled(env);
    await assertNothingLost(env, sink);
    await assertNoStuckJobs(env);
    await assertServes(d);
    expect(crashes(d)).toEqual([]);
    expect(await d.stop()).toBe(0);
  });
});

describe('Redis SIGSTOP longer than the BullMQ lock, then SIGCONT', () => {
  it('503 while frozen, ready after; stalled jobs recovered; no job has double effects; exit 0', async () => {
    env = await startFaultEnv({ appendonly: false });
    // A slow agents' endpoint: delivery jobs are active (holding BullMQ locks) when Redis freezes.
    sink = await startSink({ delayMs: 1500 });
    const d = await env.startDaemon({ config: sinkConfig(sink) });
    await untilReady(d);
    await postOrdersPaid(d, 200);
    await diagnose(env, () => waitFor('agent deliveries under way', async () => sink!.hits.length > 0 || undefined, 60_000, 100));
    env.redis.freeze();
    const during = await waitFor('readyz 503 while frozen', async () => {
      const r = await d.readyz();
      return r.status === 503 ? r : undefined;
    }, 20_000, 250);
    expect(during.body.redis).toMatch(/down/);
    // BullMQ's lock is 30 s and its stalled check every 30 s: frozen well past the lock.
    await new Promise((r) => setTimeout(r, 40_000));
    expect(d.proc.exitCode).toBeNull();
    env.redis.thaw();
    await untilReady(d);
    await settled(env);
    await assertNothingLost(env, sink);
    // Jobs re-run after their lock expired found their work recorded: no agent got a delivery twice.
    expect(duplicateHits(sink, 'agents')).toEqual([]);
    await waitFor('no job stuck active', async () => (await assertNoStuckJobs(env!), true), 30_000, 1000);
    await assertServes(d);
    expect(crashes(d)).toEqual([]);
    expect(await d.stop()).toBe(0);
  });
});
