import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { onTestFailed } from 'vitest';
import { freePort, startPostgresServer, startRedisServer, waitFor, type PostgresServer, type RedisServer } from '../helpers/processes.js';

/*
 * Shared harness of the fault suite: a Postgres cluster and a Redis server of the test's own, and the
 * daemon as a child process (`node bin/parcelwatch.mjs start`) with its JSON log lines collected. The
 * faults are injected on those processes; the assertions read the database and the daemon's answers.
 */

const BIN = new URL('../../bin/parcelwatch.mjs', import.meta.url).pathname;

export interface Daemon {
  port: number;
  proc: ChildProcess;
  lines: Record<string, unknown>[];
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  readyz(): Promise<{ status: number; body: Record<string, string> }>;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  /** SIGTERM and the exit code. */
  stop(): Promise<number | null>;
}

export interface FaultEnv {
  pg: PostgresServer;
  redis: RedisServer;
  dbUrl: string;
  /** Admin connection to the test database (assertions). */
  sql: postgres.Sql;
  startDaemon(opts?: { role?: string; config?: Record<string, unknown>; env?: Record<string, string> }): Promise<Daemon>;
  close(): Promise<void>;
}

/** Fast schedules and small timeouts, so a fault and its recovery fit in seconds. */
export const FAST_CONFIG = {
  log: { level: 'info' },
  shutdown: { graceMs: 15_000 },
  jobs: {
    planPolls: { schedule: '*/2 * * * * *' },
    detectExceptions: { schedule: '*/3 * * * * *' },
    syncOutreach: { schedule: '*/3 * * * * *' },
    sendNotifications: { schedule: '*/5 * * * * *' },
  },
  providers: { retry: { attempts: 8, backoffMs: 300 }, sandbox: { qps: 200, minPollIntervalMinutes: 0.01 } },
  polling: { notCollectedMinutes: 0.05, inTransitMinutes: 0.05, nearDeadlineMinutes: 0.05, errorBackoffMinutes: 0.05 },
};

export async function startFaultEnv(opts: { appendonly?: boolean; redisDown?: boolean } = {}): Promise<FaultEnv> {
  const [pg, redis] = await Promise.all([startPostgresServer(), startRedisServer({ appendonly: opts.appendonly, start: !opts.redisDown })]);
  const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
  await admin`create database pw`;
  await admin.end();
  const dbUrl = pg.urlOf('pw');
  const sql = postgres(dbUrl, { max: 2, onnotice: () => {} });
  const dir = mkdtempSync(join(tmpdir(), 'pw-fault-'));
  const daemons: Daemon[] = [];
  // Whatever assertion fails (a stop's exit code, a /readyz call, a wait), print what the daemons last said: CI
  // shows only the console, and a first attempt that fails and passes on its retry leaves nothing else behind.
  onTestFailed(async () => {
    for (const [i, d] of daemons.entries()) {
      const said = d.lines.filter((l) => typeof l.level !== 'number' || (l.level as number) >= 40).slice(-12);
      console.log(
        `fault test failed; daemon ${i} (exit ${d.proc.exitCode ?? d.proc.signalCode ?? 'running'}, ${d.lines.length} log lines, last at ${String(d.lines.at(-1)?.time ?? '')}) last warnings:`,
        JSON.stringify(said.map((l) => [l.msg, (l.err as { message?: string } | undefined)?.message ?? l.err, l.jobId ?? l.job, l.activeJobs])),
      );
      const report = reports.get(d);
      if (report) console.log(`daemon ${i} when the test ended:`, report);
    }
  });
  // onTestFailed runs after afterEach has closed the env: what the daemons still running were doing is taken
  // in close(), before they are killed.
  const reports = new Map<Daemon, string>();
  return {
    pg,
    redis,
    dbUrl,
    sql,
    async startDaemon(o = {}) {
      const port = await freePort();
      const file = join(dir, `config-${daemons.length}.json`);
      writeFileSync(file, JSON.stringify({ ...FAST_CONFIG, ...(o.config ?? {}) }));
      // SIGUSR2 makes the daemon write a Node diagnostic report (its JavaScript stack, even in a busy loop, and its
      // open handles) into `dir`: printed when a test fails with the daemon still running (onTestFailed below).
      const proc = spawn(process.execPath, ['--report-on-signal', '--report-signal=SIGUSR2', `--report-directory=${dir}`, BIN, 'start', '--role', o.role ?? 'all'], {
        env: { ...process.env, DATABASE_URL: dbUrl, REDIS_URL: redis.url, PORT: String(port), PARCELWATCH_CONFIG: file, CI: '1', ...(o.env ?? {}) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const lines: Record<string, unknown>[] = [];
      let buf = '';
      proc.stdout!.on('data', (d) => {
        buf += String(d);
        const parts = buf.split('\n');
        buf = parts.pop()!;
        for (const l of parts) {
          try {
            lines.push(JSON.parse(l));
          } catch {
            lines.push({ msg: l });
          }
        }
      });
      let stderr = '';
      proc.stderr!.on('data', (d) => (stderr += String(d)));
      const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
      void exited.then(() => {
        // Node's own lines for a diagnostic report we asked for (close()) are not the daemon's.
        const own = stderr.replace(/^(Writing Node\.js report to file: .*|Node\.js report completed)\n?/gm, '');
        if (own.trim()) lines.push({ msg: 'stderr', stderr: own });
      });
      const base = `http://127.0.0.1:${port}`;
      const d: Daemon = {
        port,
        proc,
        lines,
        exited,
        async readyz() {
          const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(10_000) });
          return { status: res.status, body: (await res.json()) as Record<string, string> };
        },
        async api(method, path, body) {
          const res = await fetch(`${base}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
          return { status: res.status, json: await res.json() };
        },
        async stop() {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
          return exited;
        },
      };
      daemons.push(d);
      return d;
    },
    async close() {
      for (const d of daemons) {
        if (d.proc.exitCode === null && d.proc.signalCode === null) {
          reports.set(d, await diagnosticReport(d.proc, dir));
          d.proc.kill('SIGKILL');
        }
        await d.exited;
      }
      // Every daemon's whole log, for the diagnosis of a failure seen only in CI (the console shows the last warnings).
      if (process.env.PW_FAULT_LOG_DIR) {
        mkdirSync(process.env.PW_FAULT_LOG_DIR, { recursive: true });
        for (const [i, d] of daemons.entries())
          writeFileSync(join(process.env.PW_FAULT_LOG_DIR, `${Date.now()}-daemon-${i}.jsonl`), d.lines.map((l) => JSON.stringify(l)).join('\n'));
      }
      await sql.end({ timeout: 2 });
      await Promise.all([pg.destroy(), redis.destroy()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * What a running daemon is doing (SIGUSR2 → Node diagnostic report): the top of its JavaScript stack (a busy
 * loop shows here; an idle process shows none) and how many timers, sockets and other handles it has open.
 */
async function diagnosticReport(proc: ChildProcess, dir: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  proc.kill('SIGUSR2');
  for (let t = 0; t < 40; t++) {
    await new Promise((r) => setTimeout(r, 100));
    const file = readdirSync(dir).find((f) => f.startsWith('report.') && !before.has(f));
    if (!file) continue;
    try {
      const report = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { javascriptStack?: { message?: string; stack?: string[] }; libuv?: { type: string; is_active?: boolean }[] };
      const handles: Record<string, number> = {};
      for (const h of report.libuv ?? []) if (h.is_active) handles[h.type] = (handles[h.type] ?? 0) + 1;
      return JSON.stringify({ stack: [report.javascriptStack?.message, ...(report.javascriptStack?.stack ?? []).slice(0, 12)], activeHandles: handles });
    } catch {
      continue; // still being written
    }
  }
  return 'no diagnostic report within 4 s';
}

/** Wait until the daemon's /readyz answers `status`. */
export function untilReady(d: Daemon, status = 200, timeoutMs = 60_000) {
  return waitFor(`/readyz ${status}`, async () => (await d.readyz()).status === status, timeoutMs, 250);
}

/** `n` orders of one parcel each on the sandbox carrier, paid an hour ago, posted through the API. */
export async function postOrders(d: Daemon, n: number, prefix = 'F'): Promise<void> {
  const paidAt = new Date(Date.now() - 3600_000).toISOString();
  const orders = Array.from({ length: n }, (_, i) => ({
    orderId: `${prefix}${i}`,
    paidAt,
    amount: 100,
    shipments: [{ carrier: 'ZTO', trackingNo: `PW${String(i).padStart(9, '0')}`, markedShippedAt: paidAt }],
  }));
  const r = await d.api('POST', '/api/orders', { orders });
  if (r.status !== 200 || r.json.accepted !== n) throw new Error(`orders not accepted: ${JSON.stringify(r.json).slice(0, 300)}`);
}

export { waitFor };

// The "nothing lost" checks (a)–(e) and the Kuaidi100 fake + webhook sink set-up, in their own files.
export * from './nothing-lost.js';
export * from './provider-env.js';
