import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { runMigrations } from '../db/migrate.js';
import type { Clock } from '../domain/clock.js';
import type { Deps } from '../jobs/define-job.js';
import { assertJobRegistry } from '../jobs/index.js';
import { createDeps } from './deps.js';
import { startHttp, type HttpServer } from './http.js';
import { openWorkerPools, type WorkerPools } from './pools.js';
import { RedisConnections } from './redis.js';
import { allQueueNames, QueueRuntime } from './runtime.js';
import { startScheduler } from './scheduler.js';

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

export async function startDaemon(opts: { config: Config; clock: Clock; log: Logger; role: Role; port?: number; migrate?: boolean }): Promise<Daemon> {
  const { config, clock, log, role } = opts;
  assertJobRegistry();
  if (opts.migrate !== false) {
    await retry(log, 'migrate', () => runMigrations(config.database.url));
    log.info('migrations applied');
  }
  const { deps, db } = await retry(log, 'connect', () => createDeps(config, clock, log));
  const has = (r: Role) => role === 'all' || role === r;
  let pools: WorkerPools | undefined;
  if (has('worker')) {
    try {
      pools = await openWorkerPools(deps, config);
    } catch (err) {
      await db.close();
      throw err;
    }
  }
  const connections = new RedisConnections(config.redis.url, log);
  const runtime = new QueueRuntime(deps, connections, pools);
  if (has('worker')) runtime.startWorkers();
  const scheduler = has('scheduler') ? startScheduler(deps, runtime) : null;
  const http = has('api') || role === 'all' ? await startHttp(deps, connections.create('producer'), runtime.enqueue, { port: opts.port, queues: allQueueNames(config).map((n) => runtime.queue(n)) }) : null;
  log.info({ role, port: http?.port, prefix: config.redis.prefix, providers: [...deps.providers.keys()] }, 'parcelwatch started');
  let stopped: Promise<void> | undefined;
  return {
    deps,
    runtime,
    http,
    stop: () =>
      (stopped ??= (async () => {
        http?.setDraining();
        scheduler?.stop();
        await http?.close();
        await runtime.close();
        await connections.quitAll();
        await pools?.close();
        await db.close();
        log.info('parcelwatch stopped');
      })()),
  };
}

/** Postgres may still be starting (compose, CI): retry with backoff instead of dying. */
async function retry<T>(log: Logger, what: string, fn: () => Promise<T>, attempts = 8): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      const delay = Math.min(500 * 2 ** i, 15_000);
      log.warn({ err: { message: (err as Error).message }, attempt: i, delay }, `${what} failed, retrying`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
