import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, DatabaseUrlError, reconnectBackoff } from '../db/client.js';
import { fixedClock } from '../domain/clock.js';
import { startDaemon } from '../worker/daemon.js';
import { createDeps } from '../worker/deps.js';
import { createLogger } from '../worker/logger.js';
import { testConfig } from './helpers/config.js';
import { captureLog } from './helpers/log.js';
import { createTestDb, type TestDb } from './helpers/db.js';
import { databaseUrl } from './helpers/services.js';
import { uniquePrefix } from './helpers/redis.js';

/*
 * Postgres misconfiguration and silence: a DATABASE_URL that names an unknown database or role, or is no
 * URL at all, fails the start at once (no retry rounds) with a message naming DATABASE_URL; a host that
 * accepts connections and never answers hits the connect timeout and says so; a statement that runs past
 * database.statementTimeoutMs fails instead of holding its connection.
 */

async function startWith(url: string) {
  const { lines, log } = captureLog();
  const config = testConfig({ databaseUrl: url, prefix: uniquePrefix() });
  const err = await startDaemon({ config, clock: fixedClock('2026-11-12T02:00:00Z'), log, role: 'worker' }).then(
    async (d) => {
      await d.stop();
      return null;
    },
    (e: Error) => e,
  );
  return { err, retries: lines.filter((l) => /retrying/.test(String(l.msg))) };
}

describe('permanent DATABASE_URL errors fail the start at once', () => {
  it('unknown database', async () => {
    const { err, retries } = await startWith(databaseUrl('pw_no_such_database'));
    expect(err).toBeInstanceOf(DatabaseUrlError);
    expect(err!.message).toMatch(/^DATABASE_URL \(127\.0\.0\.1:5432\/pw_no_such_database\): database "pw_no_such_database" does not exist/);
    expect(retries).toEqual([]);
  });

  it('unknown role', async () => {
    const u = new URL(databaseUrl('postgres'));
    u.username = 'pw_no_such_role';
    const { err, retries } = await startWith(u.toString());
    expect(err).toBeInstanceOf(DatabaseUrlError);
    expect(err!.message).toMatch(/DATABASE_URL .*role "pw_no_such_role" does not exist/);
    expect(retries).toEqual([]);
  });

  it('malformed URL, and a URL of another scheme', async () => {
    for (const [url, want] of [
      ['not a url', /DATABASE_URL is not a valid URL/],
      ['mysql://root@127.0.0.1/db', /DATABASE_URL must start with postgres:\/\//],
    ] as const) {
      const { err, retries } = await startWith(url);
      expect(err).toBeInstanceOf(DatabaseUrlError);
      expect(err!.message).toMatch(want);
      expect(retries).toEqual([]);
    }
  });
});

describe('a Postgres that does not answer', () => {
  let silent: Server;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    silent = createServer((s) => sockets.push(s)); // accepts, reads nothing, answers nothing
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  });

  it('a host that accepts and never answers hits the connect timeout, and the error says so', async () => {
    const port = (silent.address() as { port: number }).port;
    const err = await createDb({ url: `postgres://postgres@127.0.0.1:${port}/pw`, poolSize: 1 }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).not.toBeInstanceOf(DatabaseUrlError); // may come up later: retried by the daemon
    expect(err!.message).toMatch(/DATABASE_URL \(127\.0\.0\.1:\d+\/pw\): Postgres accepted the connection but did not answer within 10 s \(connect timeout\)/);
  }, 30_000);
});

describe('database.statementTimeoutMs', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('a statement running past it fails with the timeout, and the connection serves the next one', async () => {
    const config = testConfig({ databaseUrl: db.url, prefix: uniquePrefix(), overrides: { database: { statementTimeoutMs: 300 } } });
    const { deps, db: h } = await createDeps(config, fixedClock('2026-11-12T02:00:00Z'), createLogger('silent', { pretty: false }));
    try {
      await expect(deps.sql`select pg_sleep(3)`).rejects.toThrow(/statement timeout/);
      const [{ n }] = (await deps.sql`select 1::int as n`) as unknown as [{ n: number }];
      expect(n).toBe(1);
      const [{ setting }] = (await deps.sql`select current_setting('statement_timeout') as setting`) as unknown as [{ setting: string }];
      expect(setting).toBe('300ms');
    } finally {
      await h.close();
    }
  });
});

describe('reconnect backoff', () => {
  // The driver's own default, as postgres.js 3.4.9 defines it (src/index.js backoff).
  const driverDefault = (retries: number) => (0.5 + Math.random() / 2) * Math.min(3 ** retries / 100, 20);

  it('after a long outage a connection retries within 2 s, where the driver default waits 10 to 20 s', () => {
    for (const retries of [12, 20, 50, 1000]) {
      for (let i = 0; i < 50; i++) {
        expect(reconnectBackoff(retries)).toBeLessThanOrEqual(2);
        expect(reconnectBackoff(retries)).toBeGreaterThanOrEqual(1);
        expect(driverDefault(retries)).toBeGreaterThanOrEqual(10);
      }
    }
    // The first retries stay quick (a connection cut once reconnects at once).
    expect(reconnectBackoff(0)).toBeLessThanOrEqual(0.05);
  });

  it("is the daemon pools' backoff", async () => {
    const db = await createDb({ url: databaseUrl('test'), poolSize: 1 });
    try {
      expect(db.sql.options.backoff).toBe(reconnectBackoff);
    } finally {
      await db.close();
    }
  });
});

