import { setMaxListeners } from 'node:events';
import { Queue, UnrecoverableError, Worker, type Job, type MinimalJob } from 'bullmq';
import { ProviderError, type ProviderName } from '../carriers/carrier.js';
import { rateWindow, usefulConcurrency } from '../carriers/rate-gate.js';
import type { Config } from '../config/schema.js';
import type { Deps, FollowUp, JobContext, JobDefinition, JobResult } from '../jobs/define-job.js';
import { jobByName, jobs } from '../jobs/index.js';
import type { WorkerPools } from './pools.js';
import type { Redis } from 'ioredis';
import type { RedisConnections } from './redis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** BullMQ queue of a job: poll jobs go to one queue per provider, because BullMQ's limiter is per queue. */
export function queueNameFor(def: JobDefinition, followUpQueue?: string): string {
  return followUpQueue ?? def.queue;
}

export function allQueueNames(config: Config): string[] {
  const base = new Set<string>((jobs as readonly JobDefinition[]).map((j) => j.queue).filter((q) => q !== 'tracking'));
  for (const p of enabledProviders(config)) {
    base.add(`poll-${p}`);
    if (p !== 'sandbox' && config.providers[p].mode !== 'poll') base.add(`subscribe-${p}`);
  }
  return [...base];
}

export function enabledProviders(config: Config): ProviderName[] {
  return (Object.keys(config.providers) as string[]).filter(
    (k) => ['sandbox', 'kuaidi100', 'kdniao', 'seventeenTrack'].includes(k) && (config.providers as never as Record<string, { enabled: boolean }>)[k]!.enabled,
  ) as ProviderName[];
}

/**
 * Run one job: validate its payload (a bad payload is permanent: UnrecoverableError, no retries), bind a
 * child logger, record metrics. Errors propagate so BullMQ retries transient failures.
 */
export async function executeJob(
  def: JobDefinition,
  data: unknown,
  deps: Deps,
  meta: { jobId: string; attempt: number; enqueue: JobContext['enqueue']; signal?: AbortSignal },
): Promise<JobResult> {
  const parsed = def.payload.safeParse(data);
  if (!parsed.success) throw new UnrecoverableError(`invalid payload for ${def.name}: ${parsed.error.message}`);
  const log = deps.log.child({ job: def.name, jobId: meta.jobId, attempt: meta.attempt });
  const end = deps.metrics.jobSeconds.startTimer({ job: def.name });
  try {
    const result = await def.handle(parsed.data, deps, { log, jobId: meta.jobId, attempt: meta.attempt, enqueue: meta.enqueue, signal: meta.signal });
    deps.metrics.jobsTotal.inc({ job: def.name, result: 'ok' });
    log.debug({ summary: result.summary }, 'job done');
    return result;
  } catch (err) {
    deps.metrics.jobsTotal.inc({ job: def.name, result: 'error' });
    log.warn({ err }, 'job failed');
    throw err;
  } finally {
    end();
  }
}

/** Whether BullMQ moved a job that threw to failed rather than back to be retried. */
export function failedForGood(job: { attemptsMade: number; opts: { attempts?: number } }, err: Error): boolean {
  return job.attemptsMade >= (job.opts.attempts ?? 1) || err instanceof UnrecoverableError || err.name === 'UnrecoverableError';
}

/**
 * A job has failed for good: its definition's onFailed gives back what the job held. The one path for both
 * runtimes (the daemon's BullMQ failed event, a thrown job in run-once, which never retries). Never throws:
 * a hook that fails is logged and what it would have given back is left to its expiry.
 */
export async function jobFailedForGood(def: JobDefinition, data: unknown, deps: Deps, failure: { jobId: string; error: Error }): Promise<void> {
  if (!def.onFailed) return;
  const parsed = def.payload.safeParse(data);
  if (!parsed.success) return; // nothing was taken on an invalid payload
  try {
    await def.onFailed(parsed.data, deps, failure);
  } catch (err) {
    deps.log.error({ job: def.name, jobId: failure.jobId, err }, 'onFailed hook of a job failed for good did not complete');
  }
}

/** BullMQ queues and workers of one process. */
export class QueueRuntime {
  private readonly queues = new Map<string, { queue: Queue; conn: Redis }>();
  private readonly workers: Worker[] = [];
  /** Jobs whose handler is running in this process (shutdown with Redis down waits for these only). */
  private active = 0;
  /** The same jobs by id, for the shutdown's "still waiting" line. */
  private readonly running = new Map<string, { job: string; since: number }>();
  /** onFailed hooks still running: close() waits for them before the pools they write through close. */
  private readonly hooks = new Set<Promise<void>>();
  private closed?: Promise<void>;
  /** Aborted by close(): long jobs stop between batches instead of holding shutdown past its grace. */
  private readonly stopping = new AbortController();

  /** `pools` gives each queue group its own Postgres pool (worker/pools.ts); without it every job uses deps.sql. */
  constructor(
    private readonly deps: Deps,
    private readonly connections: RedisConnections,
    private readonly pools?: WorkerPools,
  ) {
    // Every running job (and each of its requests waiting for the rate or in flight) listens to this one signal.
    setMaxListeners(0, this.stopping.signal);
  }

  get config(): Config {
    return this.deps.config;
  }

  private get prefix() {
    return this.deps.config.redis.prefix;
  }

  queue(name: string): Queue {
    return this.producer(name).queue;
  }

  private producer(name: string): { queue: Queue; conn: Redis } {
    let q = this.queues.get(name);
    if (!q) {
      const conn = this.connections.create('producer');
      const queue = new Queue(name, { connection: conn, prefix: this.prefix });
      queue.on('error', (err) => this.connections.reportError(err, { queue: name }));
      this.queues.set(name, (q = { queue, conn }));
    }
    return q;
  }

  jobOptions(def: JobDefinition, jobId: string, delayMs?: number) {
    const q = this.deps.config.queues;
    return {
      jobId,
      ...(delayMs && delayMs > 0 ? { delay: delayMs } : {}),
      ...(def.priority ? { priority: def.priority } : {}),
      attempts: def.attempts?.(this.deps.config) ?? this.deps.config.providers.retry.attempts,
      backoff: { type: 'provider-aware', delay: def.backoffMs?.(this.deps.config) ?? this.deps.config.providers.retry.backoffMs },
      removeOnComplete: { age: q.keepCompletedSeconds },
      removeOnFail: { age: q.keepFailedSeconds },
    };
  }

  /** addBulk per queue; jobIds make a repeated enqueue of the same work a no-op. */
  readonly enqueue = async (followUps: FollowUp[]): Promise<void> => {
    const defs = new Map<string, JobDefinition>();
    const byQueue = new Map<string, { name: string; data: unknown; opts: ReturnType<QueueRuntime['jobOptions']> }[]>();
    for (const f of followUps) {
      let def = defs.get(f.job);
      if (!def) defs.set(f.job, (def = jobByName(f.job)));
      const qn = queueNameFor(def, f.queue);
      let list = byQueue.get(qn);
      if (!list) byQueue.set(qn, (list = []));
      list.push({ name: def.name, data: f.payload, opts: this.jobOptions(def, f.jobId, f.delayMs) });
    }
    for (const [qn, list] of byQueue) {
      const { queue, conn } = this.producer(qn);
      // Fail fast while Redis is down (producer posture): BullMQ would otherwise wait for a first connect forever.
      await this.connections.usable(conn);
      for (let i = 0; i < list.length; i += 1000) await queue.addBulk(list.slice(i, i + 1000));
    }
  };

  /** Jobs whose handler runs in this process now: queue:id, name and seconds running (shutdown diagnostics). */
  activeJobs(): { id: string; job: string; seconds: number }[] {
    const now = performance.now();
    return [...this.running].map(([id, r]) => ({ id, job: r.job, seconds: Math.round((now - r.since) / 100) / 10 }));
  }

  /** Start a worker per queue; poll queues get the provider's rate limit and concurrency. */
  startWorkers(): void {
    const { config } = this.deps;
    for (const qn of allQueueNames(config)) {
      const provider = qn.startsWith('poll-') ? (qn.slice(5) as ProviderName) : null;
      const configured = provider ? config.providers[provider] : null;
      let pcfg = configured ? { ...configured, concurrency: Math.min(configured.concurrency, usefulConcurrency(configured.qps, configured.timeoutMs)) } : null;
      if (qn.startsWith('subscribe-')) {
        // Subscriptions: paced by their own rate (push.subscribe.qps), one request per job (17TRACK: 40 numbers);
        // the client's subscribeGate bounds the requests themselves at the same rate.
        const p = qn.slice('subscribe-'.length) as Exclude<ProviderName, 'sandbox'>;
        const qps = config.push.subscribe.qps[p];
        pcfg = { ...config.providers[p], qps, concurrency: usefulConcurrency(qps, config.providers[p].timeoutMs) };
      }
      // Across processes, job starts per window; within a process, the provider client's RateGate bounds
      // the requests themselves (they leave after the job's load, and a 17TRACK job makes two).
      const window = pcfg ? rateWindow(pcfg.qps) : undefined;
      const limiter = window ? { max: window.max, duration: window.durationMs } : undefined;
      const deps = this.pools?.depsFor(qn) ?? this.deps;
      const worker = new Worker(
        qn,
        async (job: Job) => {
          const def = jobByName(job.name);
          this.active++;
          const key = `${qn}:${job.id}`;
          this.running.set(key, { job: job.name, since: performance.now() });
          try {
            const result = await executeJob(def, job.data, deps, {
              jobId: job.id ?? job.name,
              attempt: job.attemptsMade + 1,
              enqueue: this.enqueue,
              signal: this.stopping.signal,
            });
            return result.summary ?? {};
          } finally {
            this.active--;
            this.running.delete(key);
          }
        },
        {
          connection: this.connections.create('worker'),
          prefix: this.prefix,
          concurrency: pcfg?.concurrency ?? config.queues.concurrency[qn as keyof Config['queues']['concurrency']] ?? 2,
          drainDelay: 1,
          limiter,
          settings: {
            backoffStrategy: (attemptsMade: number, _type?: string, err?: Error, job?: MinimalJob) => {
              // The job's own first delay (jobOptions: its definition's, e.g. outreach.delivery.backoffMs), doubling.
              const first = (job?.opts.backoff as { delay?: number } | undefined)?.delay ?? config.providers.retry.backoffMs;
              const base = first * 2 ** Math.max(0, attemptsMade - 1);
              const jittered = base / 2 + Math.random() * (base / 2);
              if (err instanceof ProviderError && err.opts.retryAfterMs) return Math.max(err.opts.retryAfterMs, jittered);
              return jittered;
            },
          },
        },
      );
      worker.on('error', (err) => this.connections.reportError(err, { queue: qn }));
      worker.on('failed', (job, err) => {
        if (!job || !failedForGood(job, err)) return;
        this.deps.log.error({ job: job.name, jobId: job.id, err }, 'job failed after all attempts');
        const def = (jobs as readonly JobDefinition[]).find((j) => j.name === job.name);
        if (!def) return; // an unknown job name failed in the processor already; there is nothing it took
        const hook = jobFailedForGood(def, job.data, deps, { jobId: job.id ?? job.name, error: err });
        this.hooks.add(hook);
        void hook.finally(() => this.hooks.delete(hook));
      });
      this.workers.push(worker);
    }
  }

  /**
   * Signal the jobs in flight to stop between batches, then workers (they wait for in-flight jobs), then
   * queues. Idempotent.
   */
  close(): Promise<void> {
    return (this.closed ??= (async () => {
      this.stopping.abort();
      const closing = Promise.all(this.workers.map((w) => w.close())).catch(() => {});
      // With Redis down, BullMQ's close waits to report the last jobs and to QUIT, which it cannot do until
      // Redis is back (and ioredis never settles a QUIT queued on a connection that is reconnecting). Once
      // our handlers are done there is nothing left worth waiting for: what was not reported is retried (its
      // lock expires and the job is stalled back), so the connections are dropped and the close abandoned.
      let closed = false;
      void closing.then(() => (closed = true));
      const droppedWhileDown = (async () => {
        while (!closed && !(this.active === 0 && this.connections.isDown)) await sleep(200);
        if (closed) return;
        this.deps.log.warn('redis down at shutdown: dropping its connections without waiting for it');
        this.connections.disconnectAll();
        // The workers' blocking connections are BullMQ's own duplicates: drop those too (not awaited: see above).
        for (const w of this.workers) void w.disconnect().catch(() => {});
      })();
      await Promise.race([closing, droppedWhileDown]);
      await Promise.all([...this.hooks]);
      await Promise.all([...this.queues.values()].map(({ queue }) => queue.close().catch(() => {})));
    })());
  }
}
