import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { Redis } from 'ioredis';

/*
 * Postgres and Redis servers of a test's own, for tests that stop, kill or freeze them (never the
 * machine's shared instances). Redis: `redis-server --port N`. Postgres: initdb into a temp dir as the
 * postgres user (it refuses to run as root), pg_ctl on a free port.
 */

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface RedisServer {
  port: number;
  url: string;
  /** Start (again) on the same port and directory; with AOF the data written before a kill comes back. */
  start(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGSTOP / SIGCONT: connected but silent. */
  freeze(): void;
  thaw(): void;
  /** Stop and delete the directory. */
  destroy(): Promise<void>;
}

export async function startRedisServer(opts: { appendonly?: boolean; port?: number; start?: boolean } = {}): Promise<RedisServer> {
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'pw-redis-'));
  let proc: ChildProcess | null = null;
  const url = `redis://127.0.0.1:${port}`;
  const server: RedisServer = {
    port,
    url,
    async start() {
      if (proc && proc.exitCode === null && !proc.signalCode) return; // already running
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', opts.appendonly ? 'yes' : 'no', '--appendfsync', 'always', '--dir', dir, '--maxmemory-policy', 'noeviction'];
      const p = spawn('redis-server', args, { stdio: 'ignore' });
      proc = p;
      await waitFor(`redis-server on ${port}`, async () => {
        if (p.exitCode !== null) throw new Error(`redis-server exited ${p.exitCode}`);
        const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        r.on('error', () => {});
        try {
          await r.connect();
          return (await r.ping()) === 'PONG';
        } finally {
          r.disconnect();
        }
      });
    },
    async kill(signal = 'SIGKILL') {
      const p = proc;
      if (!p || p.exitCode !== null || p.signalCode) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill(signal);
      await exited;
      proc = null;
    },
    freeze() {
      proc?.kill('SIGSTOP');
    },
    thaw() {
      proc?.kill('SIGCONT');
    },
    async destroy() {
      if (proc) proc.kill('SIGCONT');
      await server.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (opts.start !== false) await server.start();
  return server;
}

const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PostgresServer {
  port: number;
  /** URL of the `postgres` database as user postgres. */
  url: string;
  urlOf(db: string): string;
  start(): Promise<void>;
  /** pg_ctl stop -m fast|immediate (immediate: no shutdown checkpoint, crash recovery on start). */
  stop(mode?: 'fast' | 'immediate'): void;
  destroy(): Promise<void>;
}

function asPostgres(cmd: string[]): void {
  const r = spawnSync('runuser', ['-u', 'postgres', '--', ...cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr || r.stdout}`);
}

export async function startPostgresServer(): Promise<PostgresServer> {
  const port = await freePort();
  const root = mkdtempSync(join(tmpdir(), 'pw-pg-'));
  chownSync(root, uidOf('postgres'), gidOf('postgres'));
  const data = join(root, 'data');
  asPostgres([`${PG_BIN}/initdb`, '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale', 'C']);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const server: PostgresServer = {
    port,
    url,
    urlOf: (db) => `postgres://postgres@127.0.0.1:${port}/${db}`,
    async start() {
      // fsync off: the tests restart the server, they do not pull the machine's plug.
      const opts = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c shared_buffers=32MB -c max_connections=100`;
      asPostgres([`${PG_BIN}/pg_ctl`, '-D', data, '-l', join(root, 'log'), '-o', opts, '-w', '-t', '30', 'start']);
      await waitFor(`postgres on ${port}`, async () => {
        const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
        try {
          await sql`select 1`;
          return true;
        } finally {
          await sql.end({ timeout: 1 });
        }
      });
    },
    stop(mode = 'fast') {
      asPostgres([`${PG_BIN}/pg_ctl`, '-D', data, '-m', mode, '-w', '-t', '30', 'stop']);
    },
    async destroy() {
      try {
        server.stop('immediate');
      } catch {
        // not running
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

function uidOf(user: string): number {
  return Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
}
function gidOf(user: string): number {
  return Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim());
}
