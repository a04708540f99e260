import type { Deps } from '../jobs/define-job.js';
import { releasePollLeases } from '../jobs/plan-polls.js';
import type { RedisConnections } from './redis.js';

/** How often the marker is checked (one EXISTS). */
const CHECK_EVERY_MS = 5000;

/**
 * Notices that Redis lost its data and re-plans what was lost with it. A marker key (`<prefix>:epoch`)
 * is set once and never expires; when a check finds it missing (Redis restarted without persistence,
 * was flushed or replaced by an empty server) the queued jobs are gone too. Scheduled sweeps re-queue
 * their own work on their next tick, but parcels leased to a lost poll job would wait for the lease
 * (jobs/plan-polls.ts releasePollLeases): their leases are released. Two replicas may both release (idempotent).
 * The first check on a brand-new Redis releases too, which is harmless (parcels due soon polled early).
 */
export function watchRedisEpoch(deps: Pick<Deps, 'sql' | 'clock' | 'log' | 'config'>, connections: RedisConnections): { stop(): void } {
  const key = `${deps.config.redis.prefix}:epoch`;
  // A producer connection of its own (fail fast), closed with the others at shutdown.
  const client = connections.create('producer');
  let running = false;
  const check = async () => {
    if (running || connections.isDown) return;
    running = true;
    try {
      await connections.usable(client);
      if ((await client.exists(key)) === 1) return;
      // Release first, then mark: a release that fails (Postgres down) is tried again by the next check.
      const released = await releasePollLeases(deps.sql, deps.clock.now());
      await client.set(key, deps.clock.now().toISOString()); // when this epoch began (informational)
      if (released > 0) deps.log.warn({ released }, 'redis has lost its data (no persistence?): poll leases released, lost poll jobs are planned again');
    } catch (err) {
      // Redis or Postgres unavailable: the next check tries again.
      deps.log.debug({ err: { message: (err as Error).message } }, 'redis epoch check failed');
    } finally {
      running = false;
    }
  };
  void check();
  const timer = setInterval(() => void check(), CHECK_EVERY_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
