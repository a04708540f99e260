import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { assertNoStuckJobs, assertNothingLost, assertServes, closeAll, crashes, diagnose, postOrdersPaid, settled, sinkConfig, startSink, type Sink } from './checks.js';
import { startFaultEnv, untilReady, waitFor, type FaultEnv } from './harness.js';

/*
 * Postgres IMMEDIATE restart (no shutdown checkpoint: every backend killed, crash recovery on start) while
 * detection and outreach sweep a book of a few thousand parcels. "Nothing lost": test/faults/checks.ts.
 */

let env: FaultEnv | undefined;
let sink: Sink | undefined;
afterEach(() => closeAll(env, sink).finally(() => ([env, sink] = [undefined, undefined])));

describe('Postgres immediate restart mid-sweep', () => {
  it('the daemon survives, 503 meanwhile, and the sweeps finish their work once', async () => {
    env = await startFaultEnv();
    sink = await startSink();
    const d = await env.startDaemon({ config: sinkConfig(sink) });
    await untilReady(d);
    await postOrdersPaid(d, 600);
    // Detection has started opening exceptions: the sweeps are under way.
    await diagnose(env, () =>
      waitFor('sweeps under way', async () => (await env!.sql`select count(*)::int as n from exceptions`)[0]!.n > 0, 90_000, 100),
    );
    await env.sql.end({ timeout: 1 });
    env.pg.stop('immediate');
    const during = await d.readyz();
    expect(during.status).toBe(503);
    await new Promise((r) => setTimeout(r, 3000));
    await env.pg.start();
    env.sql = postgres(env.dbUrl, { max: 2, onnotice: () => {} });
    expect(d.proc.exitCode).toBeNull();
    // If this times out with the daemon quiet, suspect the postgres.js hang after a restart (a statement left
    // unsettled; issue 13, the lead's fix), not the sweeps.
    await diagnose(env, async () => {
      await untilReady(d);
      await settled(env!, 90_000);
    });
    await assertNothingLost(env, sink);
    await assertNoStuckJobs(env);
    await assertServes(d);
    expect(crashes(d)).toEqual([]);
    expect(await d.stop()).toBe(0);
  }, 180_000);
});
