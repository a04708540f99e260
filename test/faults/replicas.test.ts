import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  allPolledSince,
  closeAll,
  assertNoStuckJobs,
  assertNothingLost,
  assertServes,
  crashes,
  diagnose,
  duplicateHits,
  hubMessagesPerOrder,
  missingHubMessages,
  postChasedOrders,
  postOrdersPaid,
  settled,
  sinkConfig,
  startSink,
  type Sink,
} from './checks.js';
import { startFaultEnv, untilReady, waitFor, type Daemon, type FaultEnv } from './harness.js';

/*
 * More than one daemon on one database and one Redis: replicas starting together on an empty database,
 * a replica stopped (SIGTERM) or killed (SIGKILL) with jobs in flight, and replicas whose clocks disagree
 * by ±90 s. "Nothing lost" is test/faults/checks.ts.
 */

let env: FaultEnv | undefined;
let sink: Sink | undefined;
afterEach(() => closeAll(env, sink).finally(() => ([env, sink] = [undefined, undefined])));

const JOURNAL = JSON.parse(readFileSync(new URL('../../db/migrations/meta/_journal.json', import.meta.url), 'utf8')) as { entries: { tag: string }[] };

describe('three daemons migrating an empty database at once', () => {
  it('all come up, the journal is applied once, no errors', async () => {
    env = await startFaultEnv();
    const ds = await Promise.all([0, 1, 2].map(() => env!.startDaemon()));
    await diagnose(env, () => Promise.all(ds.map((d) => untilReady(d))));
    const applied = await env.sql`select hash, created_at from drizzle.__drizzle_migrations order by id`;
    expect(applied.length).toBe(JOURNAL.entries.length);
    expect(new Set(applied.map((r) => r.hash)).size).toBe(JOURNAL.entries.length);
    for (const d of ds) {
      expect(d.lines.filter((l) => l.msg === 'migrations applied').length).toBe(1);
      expect(d.lines.filter((l) => /failed, retrying/.test(String(l.msg)) || (l.level as number) >= 50 || l.msg === 'stderr')).toEqual([]);
      await assertServes(d);
    }
    // And they work together: every parcel polled once the book is posted to one of them.
    await postOrdersPaid(ds[1]!, 60);
    await diagnose(env, () => settled(env!));
    await assertNothingLost(env);
    for (const d of ds) expect(await d.stop()).toBe(0);
  });
});

describe('a replica stopped or killed with jobs in flight', () => {
  it('SIGTERM: exit 0 within the grace, what it was doing is finished, the rest by the next start', async () => {
    env = await startFaultEnv();
    // Slow agents' endpoint: delivery jobs are in flight when the signal comes.
    sink = await startSink({ delayMs: 2000 });
    const config = sinkConfig(sink);
    const a = await env.startDaemon({ config });
    await untilReady(a);
    await postOrdersPaid(a, 150);
    await diagnose(env, () => waitFor('agent deliveries in flight', async () => (await env!.sql`select count(*)::int as n from outreach_deliveries where status = 'sending'`)[0]!.n > 0, 60_000, 100));
    const t0 = Date.now();
    expect(await a.stop()).toBe(0); // FAST_CONFIG grace 15 s: more than exit 1 at the limit would say
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(a.lines.some((l) => l.msg === 'grace period over: exiting with jobs still running')).toBe(false);
    const [sending] = await env.sql`select count(*)::int as n from outreach_deliveries where status = 'sending'`;
    expect(sending!.n).toBe(0); // each send in flight was finished and recorded before the exit
    const b = await env.startDaemon({ config });
    await untilReady(b);
    await diagnose(env, () => settled(env!));
    await assertNothingLost(env, sink);
    expect(duplicateHits(sink, 'agents')).toEqual([]);
    await assertNoStuckJobs(env);
    await assertServes(b);
    expect([...crashes(a), ...crashes(b)]).toEqual([]);
    expect(await b.stop()).toBe(0);
  });

  it('SIGKILL mid-job with a second replica running: the other replica finishes the work once', async () => {
    env = await startFaultEnv();
    sink = await startSink({ delayMs: 500 });
    const config = sinkConfig(sink);
    const a = await env.startDaemon({ config });
    const b = await env.startDaemon({ config });
    await Promise.all([untilReady(a), untilReady(b)]);
    await postOrdersPaid(a, 60);
    await diagnose(env, () => waitFor('agent deliveries in flight', async () => (await env!.sql`select count(*)::int as n from outreach_deliveries where status = 'sending'`)[0]!.n > 0, 60_000, 100));
    a.proc.kill('SIGKILL');
    expect(await a.exited).toBeNull();
    // A's active jobs keep their BullMQ locks until they expire (30 s), then B's stalled check (every 30 s) takes
    // them back: up to a minute before B even starts them, so the wait allows two (80 s timed out once with two
    // fault tests running at once).
    await diagnose(env, () => settled(env!, 120_000));
    const lost = await assertNothingLost(env, sink);
    expect(lost.tasks).toBeGreaterThan(0);
    // A delivery cut mid-call by the kill may reach the agents twice, always under its one Idempotency-Key;
    // in the database each is one row, sent once.
    await waitFor('no job stuck active', async () => (await assertNoStuckJobs(env!), true), 30_000, 1000);
    await assertServes(b);
    expect(crashes(b)).toEqual([]);
    expect(await b.stop()).toBe(0);
  }, 180_000);
});

describe('two replicas with duplicate ticks and clocks 90 s ahead and 90 s behind', () => {
  it('one exception per rule per order, one active task per order, one customer message per hub move', async () => {
    env = await startFaultEnv();
    sink = await startSink();
    // The default tolerance (replicas.clockSkewSeconds 180) covers these two clocks 180 s apart: without it the
    // replica ahead read the other's send leases as run out and sent agent deliveries twice.
    const config = { ...sinkConfig(sink), replicas: { clockSkewSeconds: 180 } };
    // The book and the chases go in through an API-only daemon first, so every chase is registered before
    // any poll. Chased parcels' next hub lands 60 s from now: the replica ahead sees it at once, the one
    // behind 3 minutes later, so they poll and judge these parcels differently for the whole test.
    const api = await env.startDaemon({ role: 'api', config });
    await untilReady(api);
    await postOrdersPaid(api, 150);
    const chased = await postChasedOrders(api, 20, { hubInSeconds: 60 });
    await chased.registerChases();
    const ahead = await env.startDaemon({ config, env: { PARCELWATCH_CLOCK_OFFSET_MS: '90000' } });
    const behind = await env.startDaemon({ config, env: { PARCELWATCH_CLOCK_OFFSET_MS: '-90000' } });
    await Promise.all([untilReady(ahead), untilReady(behind)]);
    for (const [d, ms] of [[ahead, 90000], [behind, -90000]] as [Daemon, number][]) {
      expect(d.lines.some((l) => l.offsetMs === ms)).toBe(true); // the offset is in effect
    }
    await diagnose(env, async () => {
      // Customer messages may still be pending here: see the note below.
      await settled(env!, 100_000, { messagesSent: false });
      await waitFor('a message for each hub the chased parcels reached', async () => (await missingHubMessages(env!)).length === 0, 30_000, 500);
    });
    // Both keep running ticks, sweeps and polls with their own "now" for a while.
    await new Promise((r) => setTimeout(r, 5_000));
    await settled(env, 90_000, { messagesSent: false });
    // KNOWN (found by this test, not repaired): a message recorded by the replica ahead has send_after in
    // the future for the replica behind; when the behind replica's worker takes its job it holds it (next
    // chain) and it waits for the next send-notifications slot (one a minute), so with ±90 s skew a few
    // messages take minutes to go out. None is lost or doubled: every pending one is such a held message.
    const stuck = await env.sql`select id from notifications where status = 'pending' and chain = 0 and send_after < now() - interval '2 minutes'`;
    expect(stuck).toEqual([]);
    // Not vacuous: the chased parcels' hub moves happen and give messages. Under load (CI, two fault tests at
    // once) the replicas may get to these parcels after the checks above: wait for the moves, then check that
    // every one has its message.
    const messages = async () => [...(await hubMessagesPerOrder(env!, chased.orderIds)).values()].reduce((a, b) => a + b, 0);
    await waitFor('a hub move of a chased parcel stored and messaged', async () => (await messages()) > 0, 120_000, 1000);
    await waitFor('a message for each hub the chased parcels reached', async () => (await missingHubMessages(env!)).length === 0, 30_000, 500);
    expect(await missingHubMessages(env)).toEqual([]);
    expect(await messages()).toBeGreaterThan(0);
    const lost = await assertNothingLost(env, sink);
    expect(lost.exceptions).toBeGreaterThan(0);
    expect(duplicateHits(sink, 'customers')).toEqual([]);
    expect(duplicateHits(sink, 'agents')).toEqual([]);
    await assertNoStuckJobs(env);
    expect(await api.stop()).toBe(0);
    for (const d of [ahead, behind]) {
      await assertServes(d);
      expect(crashes(d)).toEqual([]);
      expect(await d.stop()).toBe(0);
    }
  }, 180_000);
});
