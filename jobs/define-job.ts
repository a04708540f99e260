import type { Logger } from 'pino';
import type { z } from 'zod';
import type { ProviderName, TrackingProvider } from '../carriers/carrier.js';
import type { Config } from '../config/schema.js';
import type { Sql } from '../db/client.js';
import type { Clock } from '../domain/clock.js';
import type { Metrics } from '../worker/metrics.js';
import type { AgentChannel } from '../notify/agents/channel.js';
import type { CustomerChannel, CustomerChannelName } from '../notify/customers/channel.js';

/** Everything a job may use, built once per process in worker/deps.ts. */
export interface Deps {
  config: Config;
  clock: Clock;
  log: Logger;
  sql: Sql;
  providers: Map<ProviderName, TrackingProvider>;
  metrics: Metrics;
  agentChannels: AgentChannel[];
  /** Enabled customer channels (chase notifications) by name. */
  customerChannels: Map<CustomerChannelName, CustomerChannel>;
}

/** A job asks for more work through ctx.enqueue; the runtime adds them to BullMQ (daemon) or runs them in-process (run-once). */
export interface FollowUp {
  job: string;
  payload: unknown;
  /** Deterministic id: a second enqueue of the same id is a no-op. */
  jobId: string;
  /** BullMQ queue override (per-provider poll queues). */
  queue?: string;
  /** Do not run before this many ms (held customer messages); BullMQ delay in the daemon, ignored by run-once. */
  delayMs?: number;
}

export interface JobResult {
  /** Counters for run-once and logs, e.g. { polled: 10, newEvents: 42 }. */
  summary?: Record<string, number>;
}

export interface JobContext {
  log: Logger;
  jobId: string;
  attempt: number;
  /** Hand follow-up work to the runtime, page by page (bounded memory on big sweeps). */
  enqueue(followUps: FollowUp[]): Promise<void>;
  /**
   * Aborted when the process is stopping. A job that loops over pages or batches stops between two of
   * them, with what it did committed, and returns: shutdown must fit in shutdown.graceMs, and the work
   * left is claimed again (SKIP LOCKED, idempotent) by the next run. Absent in run-once.
   */
  signal?: AbortSignal;
}

export type QueueName = 'schedules' | 'tracking' | 'detection' | 'outreach' | 'deliveries' | 'notifications';

export interface JobDefinition<P extends z.ZodType = z.ZodType> {
  /** verb-noun, kebab-case */
  name: string;
  queue: QueueName;
  payload: P;
  /** Cron schedule from config, when the job is triggered by the scheduler. */
  schedule?: (config: Config) => string;
  /** Order of the job in a run-once cycle (lower first); only scheduled jobs. */
  cycleOrder?: number;
  /** BullMQ attempts and first retry delay (doubling, jittered); default providers.retry.*. From config, so the documented keys take effect. */
  attempts?: (config: Config) => number;
  backoffMs?: (config: Config) => number;
  /**
   * BullMQ priority (1 = first among prioritized jobs). A job without one runs before every prioritized job of
   * its queue: a job that only ever finishes work others started (a customer message) takes one, so the jobs
   * that start work (notify-chasers) are not queued behind it twice.
   */
  priority?: number;
  handle(payload: z.infer<P>, deps: Deps, ctx: JobContext): Promise<JobResult>;
  /**
   * The job has failed for good (its attempts used, an unrecoverable error, or its one run in run-once):
   * give back what it still holds, e.g. poll-tracking's parcels leased by plan-polls. Called once, by the
   * process that ran the last attempt (worker/runtime.ts jobFailedForGood), best effort: if that process dies
   * first, what the job held is given back by its own expiry (the lease), as before this hook.
   */
  onFailed?(payload: z.infer<P>, deps: Deps, failure: { jobId: string; error: Error }): Promise<void>;
}

export function defineJob<P extends z.ZodType>(def: JobDefinition<P>): JobDefinition<P> {
  return def;
}

/**
 * Slot id of a cron tick, e.g. 20261123T1000 (no ':' and not all digits, as BullMQ requires): the minute,
 * so replicas whose clocks differ by seconds share it. A schedule with a seconds field ticks several
 * times a minute: `seconds` gives its slot to the second (20261123T100020), or every tick after the
 * minute's first would be deduplicated away.
 */
export function slotId(at: Date, seconds = false): string {
  return at.toISOString().slice(0, seconds ? 19 : 16).replace(/[-:]/g, '');
}

/** Whether a cron expression has node-cron's optional seconds field (six fields). */
export function hasSecondsField(expr: string): boolean {
  return expr.trim().split(/\s+/).length === 6;
}
