import { fixedClock } from '../../domain/clock.js';
import type { Config } from '../../config/schema.js';
import type { DeepPartial } from '../../config/load.js';
import type { Deps } from '../../jobs/define-job.js';
import { createDeps } from '../../worker/deps.js';
import { createLogger } from '../../worker/logger.js';
import { runOnce } from '../../worker/run-once.js';
import { upsertOrders } from '../../db/queries/orders.js';
import { inputLimits, parseOrder } from '../../ingest/order-input.js';
import { testConfig } from './config.js';
import { createTestDb, type TestDb } from './db.js';
import { dropPrefix, uniquePrefix } from './redis.js';

export interface TestApp {
  db: TestDb;
  config: Config;
  deps: Deps;
  clock: ReturnType<typeof fixedClock>;
  prefix: string;
  /** run-once at `at` (moves the clock). */
  cycle(at: string): ReturnType<typeof runOnce>;
  /** Insert orders through the same validation as the API. */
  addOrders(orders: unknown[]): Promise<void>;
  close(): Promise<void>;
}

export async function createTestApp(overrides?: DeepPartial<Config>, start = '2026-11-11T00:00:00+08:00'): Promise<TestApp> {
  const db = await createTestDb();
  const prefix = uniquePrefix();
  const config = testConfig({ databaseUrl: db.url, prefix, overrides });
  const clock = fixedClock(start);
  const { deps, db: handle } = await createDeps(config, clock, createLogger('silent', { pretty: false }));
  return {
    db,
    config,
    deps,
    clock,
    prefix,
    cycle(at) {
      clock.set(at);
      return runOnce(deps);
    },
    async addOrders(orders) {
      const parsed = orders.map((o) => parseOrder(o, inputLimits(config.input)));
      const bad = parsed.filter((p) => !p.ok);
      if (bad.length) throw new Error(`bad test orders: ${JSON.stringify(bad)}`);
      await upsertOrders(deps.sql, parsed.map((p) => (p.ok ? p.order : null!)), clock.now());
    },
    async close() {
      await handle.close();
      await db.drop();
      await dropPrefix(prefix);
    },
  };
}
