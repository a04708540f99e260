import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgresServer, type PostgresServer } from '../helpers/processes.js';

/*
 * postgres.js 3.4.9 throws an uncaught TypeError (nextWrite on a nulled socket) when a transaction's
 * statement is in flight as Postgres restarts: the daemon died with exit 1. bin/postgres-fix.mjs repairs
 * the driver as it is loaded. The same child runs without and with the repair: the first shows the crash
 * is real on this driver version (so the test cannot pass vacuously), the second that the repair holds.
 */
let pg: PostgresServer;
beforeAll(async () => {
  pg = await startPostgresServer();
});
afterAll(async () => {
  await pg?.destroy();
});

async function runThroughRestart(fix: boolean): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [new URL('./pg-restart-child.mjs', import.meta.url).pathname], {
    env: { ...process.env, PG_URL: pg.url, PG_FIX: fix ? '1' : '0', RUN_MS: '5000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += String(d)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  while (!out.includes('running')) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 500));
  pg.stop('fast'); // transactions in flight are cut
  await new Promise((r) => setTimeout(r, 1000));
  await pg.start();
  const code = await exited;
  return { code, out };
}

describe('postgres.js through a Postgres restart', () => {
  it('without the repair, a transaction in flight crashes the process (the bug is real here)', async () => {
    const { code, out } = await runThroughRestart(false);
    expect(out).toMatch(/uncaught: Cannot read properties of null \(reading 'write'\)/);
    expect(code).toBe(3);
  });

  it('with the repair, the transactions fail with CONNECTION_CLOSED, are retried, and every connection works afterwards', async () => {
    const { code, out } = await runThroughRestart(true);
    expect(out).not.toMatch(/uncaught/);
    expect(out).toMatch(/survived ok=\d+ after=8/);
    expect(code).toBe(0);
  });
});
