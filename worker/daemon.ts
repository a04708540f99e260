import type { Logger } from 'pino';
import { attachGlobalRateGates } from '../carriers/global-rate-gate.js';
import type { Config } from '../config/schema.js';
import { assertDatabaseUrl, DatabaseUrlError, explainDatabaseError, poolStates } from '../db/client.js';
import { runMigrations } from '../db/migrate.js';
import type { Clock } from '../domain/clock.js';
import type { Deps } from '../jobs/define-job.js';
import { assertJobRegistry } from '../jobs/index.js';
import { createDeps } from './deps.js';
import { startHttp, type HttpServer } from './http.js';
import { openWorkerPools, type WorkerPools } from './pools.js';
import { RedisConnections, redactUrl } from './redis.js';
import { allQueueNames, QueueRuntime } from './runtime.js';
import { startScheduler } from './scheduler.js';
import { startHeartbeat, type Heartbeat } from './heartbeat.js';
import { watchRedisEpoch } from './redis-epoch.js';

export const ROLES = ['all', 'scheduler', 'worker', 'api'] as const;
export type Role = (typeof ROLES)[number];

export interface Daemon {
  deps: Deps;
  runtime: QueueRuntime;
  http: HttpServer | null;
  /**
   * Ordered, idempotent shutdown: readiness off → cron → HTTP → stop signal to jobs → workers (wait in-flight)
   * → queues → Redis → Postgres.
   */
  stop(): Promise<void>;
}

export async function startDaemon(opts: {
  config: Config;
  clock: Clock;
  log: Logger;
  role: Role;
  port?: number;
  migrate?: boolean;
  /** Aborting it ends a start still waiting for Postgres or Redis (SIGTERM during start): rejects with AbortError. */
  signal?: AbortSignal;
}): Promise<Daemon> {
  const { config, clock, log, role, signal } = opts;
  assertJobRegistry();
  if (opts.migrate !== false) {
    assertDatabaseUrl(config.database.url);
    await retry(log, 'migrate', () => runMigrations(config.database.url).catch((err) => Promise.reject(explainDatabaseError(config.database.url, err).error)), signal);
    log.info('migrations applied');
  }
  const { deps, db } = await retry(log, 'connect', () => createDeps(config, clock, log), signal);
  const has = (r: Role) => role === 'all' || role === r;
  let pools: WorkerPools | undefined;
  const connections = new RedisConnections(config.redis.url, log);
  let runtime: QueueRuntime | undefined;
  let http: HttpServer | null = null;
  let heartbeat: Heartbeat | undefined;
  // Each step of the shutdown says so when it takes long, naming the jobs still running: a stop that
  // overruns its grace otherwise ends with one "grace period over" line and no clue what held it.
  const step = async (name: string, fn: () => Promise<unknown> | undefined) => {
    const slow = setInterval(() => log.warn({ step: name, activeJobs: runtime?.activeJobs(), db: poolStates() }, 'shutdown still waiting'), 5000);
    slow.unref();
    try {
      await fn();
    } finally {
      clearInterval(slow);
    }
  };
  const closeAll = async () => {
    await step('http', () => http?.close());
    await step('workers', () => runtime?.close());
    await step('redis', () => connections.quitAll());
    await step('worker pools', () => pools?.close());
    await step('heartbeat', () => heartbeat?.stop());
    await step('postgres', () => db.close());
  };
  try {
    if (has('worker')) pools = await openWorkerPools(deps, config);
    // Processes that run cycles announce themselves, so a far-off `run-once --now` can refuse (worker/heartbeat.ts).
    if (has('scheduler') || has('worker')) heartbeat = await startHeartbeat(deps.sql, { role, intervalSeconds: config.replay.heartbeatSeconds, log });
    // Workers meter each provider's requests across every process (carriers/global-rate-gate.ts); the
    // connection fails fast (producer posture), so an unreachable Redis holds requests back, never lets them through.
    if (has('worker')) {
      attachGlobalRateGates(deps.providers, connections.create('producer'), {
        prefix: config.redis.prefix,
        timeoutMs: (p) => (config.providers as unknown as Record<string, { timeoutMs: number }>)[p]!.timeoutMs,
        onWriteError: (err, op) => connections.reportError(err as Error, { rateGate: op }),
      });
    }
    runtime = new QueueRuntime(deps, connections, pools);
    // HTTP first, so /readyz says why we are not ready while Redis is still down.
    if (has('api')) {
      const rt = runtime;
      http = await startHttp(deps, connections, rt.enqueue, { port: opts.port, queues: allQueueNames(config).map((n) => rt.queue(n)) });
    }
    if ((await connections.check()) !== 'ok') {
      log.warn({ redis: redactUrl(config.redis.url) }, 'waiting for Redis before starting workers and the scheduler (not ready)');
      await connections.waitReady(signal);
    }
    signal?.throwIfAborted();
  } catch (err) {
    http?.setDraining();
    await closeAll();
    throw err;
  }
  const rt = runtime;
  if (has('worker')) rt.startWorkers();
  const scheduler = has('scheduler') ? startScheduler(deps, rt) : null;
  // Processes that plan or work jobs notice a Redis that lost its data and re-plan the lost poll jobs.
  const epoch = has('scheduler') || has('worker') ? watchRedisEpoch(deps, connections) : null;
  log.info({ role, port: http?.port, prefix: config.redis.prefix, providers: [...deps.providers.keys()] }, 'parcelwatch started');
  let stopped: Promise<void> | undefined;
  return {
    deps,
    runtime: rt,
    http,
    stop: () =>
      (stopped ??= (async () => {
        http?.setDraining();
        scheduler?.stop();
        epoch?.stop();
        await closeAll();
        log.info('parcelwatch stopped');
      })()),
  };
}

/** Postgres may still be starting (compose, CI): retry with backoff instead of dying. */
async function retry<T>(log: Logger, what: string, fn: () => Promise<T>, signal?: AbortSignal, attempts = 8): Promise<T> {
  for (let i = 1; ; i++) {
    signal?.throwIfAborted();
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || err instanceof DatabaseUrlError) throw err;
      const delay = Math.min(500 * 2 ** i, 15_000);
      log.warn({ err: { message: (err as Error).message }, attempt: i, delay }, `${what} failed, retrying`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
