import type { DeepPartial } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { fixedClock } from '../../domain/clock.js';
import { createLogger } from '../../worker/logger.js';
import { startDaemon, type Daemon } from '../../worker/daemon.js';
import { testConfig } from './config.js';
import { createTestDb, type TestDb } from './db.js';
import { dropPrefix, uniquePrefix } from './redis.js';

export interface TestApi {
  db: TestDb;
  daemon: Daemon;
  clock: ReturnType<typeof fixedClock>;
  /** http://127.0.0.1:PORT */
  base: string;
  /** POST a JSON body; the status and the parsed answer. */
  post(path: string, body: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** The daemon in its `api` role on a fresh database, its clock fixed at `start`, for black-box HTTP tests. */
export async function startTestApi(overrides?: DeepPartial<Config>, start = '2026-11-12T00:00:00Z'): Promise<TestApi> {
  const db = await createTestDb();
  const prefix = uniquePrefix();
  const clock = fixedClock(start);
  const config = testConfig({ databaseUrl: db.url, prefix, overrides });
  const daemon = await startDaemon({ config, clock, log: createLogger('silent', { pretty: false }), role: 'api', migrate: false });
  const base = `http://127.0.0.1:${daemon.http!.port}`;
  return {
    db,
    daemon,
    clock,
    base,
    async post(path, body) {
      const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, body: await res.json() };
    },
    async close() {
      await daemon.stop();
      await db.drop();
      await dropPrefix(prefix);
    },
  };
}
