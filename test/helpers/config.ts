import { deepMerge, loadConfig, type DeepPartial } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { TEST_REDIS_URL } from './services.js';

/** Defaults + test database/Redis prefix + overrides; the machine's environment is ignored. */
export function testConfig(opts: { databaseUrl: string; prefix: string; overrides?: DeepPartial<Config> }): Config {
  const base = {
    log: { level: 'silent' },
    database: { url: opts.databaseUrl, poolSize: 8 },
    redis: { url: TEST_REDIS_URL, prefix: opts.prefix },
    http: { port: 0, host: '127.0.0.1' },
  };
  return loadConfig({ env: {}, overrides: deepMerge(base, opts.overrides ?? {}) as DeepPartial<Config> });
}
