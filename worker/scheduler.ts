import cron, { type ScheduledTask } from 'node-cron';
import type { Deps, JobDefinition } from '../jobs/define-job.js';
import { hasSecondsField, slotId } from '../jobs/define-job.js';
import { scheduledJobs } from '../jobs/index.js';
import { RedisUnavailableError } from './redis.js';
import type { QueueRuntime } from './runtime.js';

/**
 * Cron triggers only enqueue. The jobId is the job name plus its time slot, so two replicas (or a double
 * tick) add one job: BullMQ ignores an add whose jobId exists — hence job retention ≥ one slot period.
 * The slot is the minute, or the second for a schedule with a seconds field (see slotId).
 */
export async function triggerSlot(def: JobDefinition, runtime: QueueRuntime, at: Date): Promise<string> {
  const slot = slotId(at, hasSecondsField(def.schedule?.(runtime.config) ?? ''));
  const jobId = `${def.name}-${slot}`;
  await runtime.enqueue([{ job: def.name, payload: { slot }, jobId }]);
  return jobId;
}

export function startScheduler(deps: Deps, runtime: QueueRuntime): { stop(): void } {
  const tasks: ScheduledTask[] = [];
  for (const def of scheduledJobs()) {
    const expr = def.schedule!(deps.config);
    const task = cron.schedule(
      expr,
      async () => {
        try {
          const jobId = await triggerSlot(def, runtime, deps.clock.now());
          deps.log.debug({ job: def.name, jobId }, 'cron tick enqueued');
        } catch (err) {
          // A Redis outage is logged once by the connections; each missed tick is made up by the next one.
          if (err instanceof RedisUnavailableError) deps.log.debug({ job: def.name }, 'cron tick skipped: Redis unavailable');
          else deps.log.warn({ err, job: def.name }, 'cron tick could not enqueue; next tick retries');
        }
      },
      { timezone: deps.config.timezone, noOverlap: true, name: def.name },
    );
    tasks.push(task);
  }
  deps.log.info({ jobs: scheduledJobs().map((j) => j.name) }, 'scheduler started');
  return {
    stop() {
      for (const t of tasks) void t.stop();
    },
  };
}
