import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createTestDb, type TestDb } from './db.js';
import { dropPrefix, uniquePrefix } from './redis.js';
import { TEST_REDIS_URL } from './services.js';

const run = promisify(execFile);
const BIN = new URL('../../bin/parcelwatch.mjs', import.meta.url).pathname;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `parcelwatch …` as a user would (a child process), with LOG_LEVEL=warn unless `env` says otherwise. */
export async function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliResult> {
  try {
    const r = await run(process.execPath, [BIN, ...args], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, timeout: timeoutMs });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A test database and Redis prefix, and the environment pointing the CLI at them (machine config ignored). */
export async function cliDatabase(): Promise<{ db: TestDb; env: Record<string, string>; drop(): Promise<void> }> {
  const db = await createTestDb();
  const prefix = uniquePrefix();
  const env = { DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, PARCELWATCH_QUEUE_PREFIX: prefix, PARCELWATCH_CONFIG: '' };
  return {
    db,
    env,
    async drop() {
      await db.drop();
      await dropPrefix(prefix);
    },
  };
}
