import type { Config } from '../config/schema.js';
import { createDb, type DbHandle } from '../db/client.js';
import type { Deps } from '../jobs/define-job.js';

/**
 * Postgres pools of a worker process, by queue group.
 *
 * With one pool, a sweep (detection batches, outreach sync pages, plan-polls pages, deliveries that hold
 * a transaction across a webhook call) can hold every connection for seconds, and postgres.js queues the
 * poll workers' load and write behind them: at peak the daemon planned polls far faster than it ran them.
 * Each group gets a pool of its own, so polls always find a connection; the sweep pool's size also bounds
 * how many sweep batches are worked at once, which keeps them from crowding polling off the CPU.
 */
export type PoolGroup = 'polls' | 'sweeps' | 'shared';

/** Queues that are sweeps or follow-ups of sweeps: throughput work that may wait. */
const SWEEP_QUEUES = new Set(['schedules', 'detection', 'outreach']);

export function poolGroupOf(queue: string): PoolGroup {
  if (queue.startsWith('poll-')) return 'polls';
  if (SWEEP_QUEUES.has(queue)) return 'sweeps';
  return 'shared'; // notifications: latency-sensitive and light, with the API
}

export interface WorkerPools {
  /** The Deps a job of `queue` runs with: the process's Deps with the group's pool as `sql`. */
  depsFor(queue: string): Deps;
  close(): Promise<void>;
}

/** Open the polls and sweeps pools next to `deps.sql` (the shared pool, which the caller owns). */
export async function openWorkerPools(deps: Deps, config: Config): Promise<WorkerPools> {
  const handles: DbHandle[] = [];
  const open = async (max: number, name: PoolGroup) => {
    const h = await createDb({ url: config.database.url, poolSize: max, statementTimeoutMs: config.database.statementTimeoutMs, name });
    handles.push(h);
    return h;
  };
  try {
    const polls = await open(config.database.pools.polls, 'polls');
    const sweeps = await open(config.database.pools.sweeps, 'sweeps');
    // One Deps object per group, built once: per-Deps state (the poll coalescers) stays per process.
    const byGroup: Record<PoolGroup, Deps> = { polls: { ...deps, sql: polls.sql }, sweeps: { ...deps, sql: sweeps.sql }, shared: deps };
    return {
      depsFor: (queue) => byGroup[poolGroupOf(queue)],
      close: async () => {
        await Promise.all(handles.map((h) => h.close()));
      },
    };
  } catch (err) {
    await Promise.all(handles.map((h) => h.close()));
    throw err;
  }
}
