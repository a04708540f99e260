import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../domain/clock.js';
import { startDaemon, type Daemon } from '../worker/daemon.js';
import { createDeps } from '../worker/deps.js';
import { startHttp } from '../worker/http.js';
import { createLogger } from '../worker/logger.js';
import { RedisConnections } from '../worker/redis.js';
import { QueueRuntime } from '../worker/runtime.js';
import { testConfig } from './helpers/config.js';
import { captureLog } from './helpers/log.js';
import { createTestDb, type TestDb } from './helpers/db.js';
import { freePort, startRedisServer, waitFor, type RedisServer } from './helpers/processes.js';
import { uniquePrefix } from './helpers/redis.js';

/*
 * Redis outages seen from one process: producers (API, scheduler, follow-ups) fail fast instead of
 * queueing commands forever, /readyz answers 503 with the reason, a start with Redis down waits (not
 * ready, one bounded log line) and goes on when Redis appears, and shutdown with Redis down ends.
 * Each test runs its own redis-server (the machine's Redis is never stopped).
 */

/** A promise that must settle: a hang becomes a failure naming what hung (not a timing assertion). */
function settles<T>(what: string, p: Promise<T>, ms = 8000): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} never settled`)), ms).unref())]);
}

async function readyz(port: number): Promise<{ status: number; body: Record<string, string> }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  await db?.drop();
});

describe('producers with Redis down', () => {
  it('an enqueue fails fast with an error naming Redis instead of waiting for it', async () => {
    const port = await freePort(); // nobody listens
    const config = testConfig({ databaseUrl: db.url, prefix: uniquePrefix(), overrides: { redis: { url: `redis://127.0.0.1:${port}` } } });
    const { log } = captureLog();
    const { deps, db: h } = await createDeps(config, fixedClock('2026-11-12T02:00:00Z'), log);
    const connections = new RedisConnections(config.redis.url, log);
    const runtime = new QueueRuntime(deps, connections);
    try {
      const err = await settles(
        'enqueue',
        runtime.enqueue([{ job: 'plan-polls', payload: {}, jobId: 'plan-polls-x' }]).then(
          () => null,
          (e: Error) => e,
        ),
      );
      expect(err).toBeInstanceOf(Error);
      expect(err!.message).toMatch(/redis/i);
    } finally {
      await settles('runtime close', runtime.close());
      await settles('quit', connections.quitAll());
      await h.close();
    }
  });

  it('/readyz answers 503 naming Redis while it is down, and while it is frozen (SIGSTOP)', async () => {
    const redis = await startRedisServer();
    const config = testConfig({ databaseUrl: db.url, prefix: uniquePrefix(), overrides: { redis: { url: redis.url } } });
    const { log } = captureLog();
    const { deps, db: h } = await createDeps(config, fixedClock('2026-11-12T02:00:00Z'), log);
    const connections = new RedisConnections(config.redis.url, log);
    const http = await startHttp(deps, connections, async () => {}, { port: 0 });
    try {
      expect((await readyz(http.port)).status).toBe(200);
      redis.freeze();
      const frozen = await settles('readyz (frozen)', readyz(http.port));
      expect(frozen.status).toBe(503);
      expect(frozen.body.redis).toMatch(/timed out|down/);
      expect(frozen.body.postgres).toBe('ok');
      redis.thaw();
      await redis.kill();
      const down = await settles('readyz (down)', readyz(http.port));
      expect(down.status).toBe(503);
      expect(down.body.redis).toMatch(/down/);
      await redis.start();
      await waitFor('ready again', async () => (await readyz(http.port)).status === 200);
    } finally {
      await http.close();
      await connections.quitAll();
      await h.close();
      await redis.destroy();
    }
  });
});

describe('daemon and Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer({ start: false });
  });
  afterAll(async () => {
    await redis?.destroy();
  });

  it('starting with Redis down waits not ready, logs it in a bounded way, and starts when Redis appears', async () => {
    const port = await freePort();
    const config = testConfig({ databaseUrl: db.url, prefix: uniquePrefix(), overrides: { redis: { url: redis.url } } });
    const { lines, log } = captureLog();
    let daemon: Daemon | undefined;
    const starting = startDaemon({ config, clock: fixedClock('2026-11-12T02:00:00Z'), log, role: 'all', port, migrate: false }).then((d) => (daemon = d));
    try {
      const notReady = await waitFor('readyz answering', async () => readyz(port).catch(() => undefined));
      expect(notReady.status).toBe(503);
      expect(notReady.body.redis).toMatch(/down|waiting/);
      // Several reconnect rounds pass while we wait: the log says so once, not per attempt or per connection.
      await new Promise((r) => setTimeout(r, 3000));
      expect(daemon).toBeUndefined();
      expect(lines.some((l) => l.msg === 'parcelwatch started')).toBe(false);
      const redisLines = lines.filter((l) => /redis/i.test(String(l.msg)));
      expect(redisLines.length).toBeGreaterThanOrEqual(1);
      expect(redisLines.length).toBeLessThanOrEqual(2);
      await redis.start();
      await settles('daemon start after Redis appeared', starting, 20_000);
      expect(lines.some((l) => l.msg === 'parcelwatch started')).toBe(true);
      await waitFor('ready', async () => (await readyz(port)).status === 200);
    } finally {
      await redis.start().catch(() => {});
      await starting.catch(() => {});
      await daemon?.stop();
    }
  });

  it('shutdown with Redis gone ends, and cleanly', async () => {
    await redis.start().catch(() => {});
    const config = testConfig({ databaseUrl: db.url, prefix: uniquePrefix(), overrides: { redis: { url: redis.url } } });
    const { lines, log } = captureLog();
    const daemon = await startDaemon({ config, clock: fixedClock('2026-11-12T02:00:00Z'), log, role: 'all', port: 0, migrate: false });
    await redis.kill();
    await new Promise((r) => setTimeout(r, 500));
    await settles('stop with Redis down', daemon.stop(), 15_000);
    expect(lines.some((l) => l.msg === 'parcelwatch stopped')).toBe(true);
  });

  it('a stop signal while waiting for Redis ends the start cleanly', async () => {
    await redis.kill();
    const config = testConfig({ databaseUrl: db.url, prefix: uniquePrefix(), overrides: { redis: { url: redis.url } } });
    const { log } = captureLog();
    const abort = new AbortController();
    const starting = startDaemon({ config, clock: fixedClock('2026-11-12T02:00:00Z'), log, role: 'all', port: 0, migrate: false, signal: abort.signal });
    await new Promise((r) => setTimeout(r, 500));
    abort.abort();
    const err = await settles('aborted start', starting.then(() => null, (e: Error) => e));
    expect(err).not.toBeNull();
    expect(err!.name).toBe('AbortError');
  });
});
