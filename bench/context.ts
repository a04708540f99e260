/** Shared plumbing of the benchmark: its own database, config, deps, fresh tables, RSS sampling, medians. */
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { deepMerge, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { allQueueNames, type QueueRuntime } from '../worker/runtime.js';
import type { Sql } from '../db/client.js';
import { runMigrations } from '../db/migrate.js';
import { fixedClock } from '../domain/clock.js';
import type { Deps } from '../jobs/define-job.js';
import { createDeps } from '../worker/deps.js';
import { createLogger } from '../worker/logger.js';
import { BENCH_NOW } from './generate.js';

export interface BenchEnv {
  adminUrl: string;
  dbName: string;
  dbUrl: string;
  redisUrl: string;
  config: Config;
  deps: Deps;
  sql: Sql;
  /** A raw client of the same database for baselines (its own pool, same size). */
  raw: Sql;
  tmpDir: string;
  log: (line: string) => void;
  close(): Promise<void>;
}

export function dbUrlFor(adminUrl: string, name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * The loopback Kuaidi100 fake's account and the limits scenarios 3, 6 and 7 poll it with (it answers at
 * once, so the limiter and the daemon are what is measured).
 */
export const LOOPBACK_KUAIDI100 = { customer: 'BENCH', key: 'bench-key', qps: 500, concurrency: 4 } as const;

/** Shanghai wall-clock "YYYY-MM-DD HH:mm:ss" of an instant (ms), as Kuaidi100 sends times (no offset). */
export const shanghaiWall = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');

/** The bench config; `overrides` are deep-merged last (a scenario's provider, channels, chases settings). */
export function benchConfig(dbUrl: string, redisUrl: string, prefix: string, overrides: Record<string, unknown> = {}): Config {
  const base = {
    log: { level: 'silent' },
    database: { url: dbUrl, poolSize: 10 },
    redis: { url: redisUrl, prefix },
    http: { port: 0, host: '127.0.0.1' },
    providers: {
      routes: { default: 'kuaidi100' },
      // Loopback address nobody listens on: nothing in scenarios 1, 2, 4, 5 calls the provider.
      kuaidi100: { enabled: true, customer: LOOPBACK_KUAIDI100.customer, key: LOOPBACK_KUAIDI100.key, baseUrl: 'http://127.0.0.1:9' },
    },
  };
  return loadConfig({ env: {}, overrides: deepMerge(base, overrides) as Record<string, unknown> });
}

export async function createBenchDb(adminUrl: string, name: string): Promise<string> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = dbUrlFor(adminUrl, name);
  await runMigrations(url);
  return url;
}

export async function dropBenchDb(adminUrl: string, name: string): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
  } finally {
    await admin.end();
  }
}

export async function makeDeps(dbUrl: string, redisUrl: string, prefix: string) {
  const config = benchConfig(dbUrl, redisUrl, prefix);
  const { deps, db } = await createDeps(config, fixedClock(BENCH_NOW), createLogger('silent', { pretty: false }));
  return { config, deps, db };
}

/** Every table that holds data (freshTables empties them; bench/db-size.ts measures them). */
export const DATA_TABLES = [
  'orders',
  'shipments', // and shipment_schedule, by the shipments_schedule_truncated trigger
  'tracking_events',
  'poll_quarantine',
  'exceptions',
  'exception_history',
  'outreach_tasks',
  'outreach_deliveries',
  'chases',
  'notifications',
  'alerts',
  'provider_usage',
];

/** Fresh tables: empty, sequences reset, then a checkpoint so one side does not pay for the other's dirty pages. */
export async function freshTables(sql: Sql): Promise<void> {
  await sql.unsafe(`truncate ${DATA_TABLES.join(', ')} restart identity cascade`);
  await sql`checkpoint`.catch(() => {});
}

/**
 * A 32-bit transaction id mark; rowsWrittenSince counts rows whose xmin is at or after it, i.e. rows
 * inserted or updated since the mark (deletes are not used by the measured paths).
 */
export async function xidMark(sql: Sql): Promise<number> {
  const [r] = await sql`select (pg_snapshot_xmax(pg_current_snapshot())::text::bigint % 4294967296) as x`;
  return Number(r!.x);
}

export async function rowsWrittenSince(sql: Sql, mark: number, tables: string[]): Promise<number> {
  let total = 0;
  for (const t of tables) {
    const [r] = await sql.unsafe(`select count(*)::bigint as n from ${t} where xmin::text::bigint >= $1`, [mark]);
    total += Number(r!.n);
  }
  return total;
}

/** Peak RSS of this process while `fn` runs, sampled every 20 ms (plus before and after). */
export async function withRss<T>(fn: () => Promise<T>): Promise<{ value: T; peakRssMb: number; startRssMb: number }> {
  const start = process.memoryUsage().rss;
  let peak = start;
  const timer = setInterval(() => {
    const r = process.memoryUsage().rss;
    if (r > peak) peak = r;
  }, 20);
  try {
    const value = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { value, peakRssMb: peak / 2 ** 20, startRssMb: start / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}

export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Delete every key under a Redis prefix (one implementation, shared with the tests). */
export { dropRedisPrefix } from '../test/helpers/redis.js';

export async function redisVersion(redisUrl: string): Promise<string> {
  const r = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    const info = await r.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  } finally {
    r.disconnect();
  }
}

/** Nearest-rank percentile (p in 0..100) of `xs`; NaN when empty. */
export function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Resolve once `done()` is true (checked every `everyMs`), or false after `timeoutMs`. */
export async function waitUntil(done: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await done()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Jobs not finished yet (waiting, active, delayed, prioritized, waiting for children) and failed ones, over every queue of `config`. */
export async function jobBacklog(runtime: QueueRuntime, config: Config): Promise<{ pending: number; failed: number; byQueue: Record<string, number> }> {
  let pending = 0;
  let failed = 0;
  const byQueue: Record<string, number> = {};
  for (const qn of allQueueNames(config)) {
    const c = await runtime.queue(qn).getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed');
    const p = (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0);
    if (p) byQueue[qn] = p;
    pending += p;
    failed += c.failed ?? 0;
  }
  return { pending, failed, byQueue };
}

export const now = () => performance.now();
