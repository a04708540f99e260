import { afterEach, describe, expect, it } from 'vitest';
import { postOrders, startFaultEnv, untilReady, waitFor, type FaultEnv } from './harness.js';

/*
 * shutdown.graceMs is the bound on a stop: jobs stuck past it (here: on a table lock nobody releases) do not
 * keep the process alive. With graceMs 2 s the daemon exits 1 while the lock is still held; were the key
 * ignored (the fast config's 15 s), the lock's release after 8 s would let the job finish and the exit be 0.
 */

let env: FaultEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe('shutdown.graceMs', () => {
  it('a stop whose jobs are stuck ends at the grace with exit 1, naming the grace', async () => {
    env = await startFaultEnv();
    const d = await env.startDaemon({ config: { shutdown: { graceMs: 2000 } } });
    await untilReady(d);
    await postOrders(d, 20);
    const lock = await env.sql.reserve();
    try {
      await lock`begin`;
      await lock`lock table shipments in access exclusive mode`;
      // A job of the daemon is now waiting on the lock (polls write shipments every few seconds).
      await waitFor('a daemon statement waiting on the lock', async () => {
        const [r] = await env!.sql`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()`;
        return r!.n > 0 ? true : undefined;
      }, 60_000, 200);
      const exited = d.stop();
      const code = await Promise.race([exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 8000))]);
      expect(code).toBe(1);
      const grace = d.lines.find((l) => l.msg === 'grace period over: exiting with jobs still running');
      expect(grace?.graceMs).toBe(2000);
      // The line names what holds the stop: a pooled connection with a statement in flight (the one on the lock).
      const pools = Object.values((grace?.db ?? {}) as Record<string, { busy: { active: boolean; socket: string }[] }>);
      expect(pools.some((p) => p.busy.some((c) => c.active && c.socket === 'open'))).toBe(true);
    } finally {
      await lock`rollback`.catch(() => {});
      lock.release();
    }
  });
});
