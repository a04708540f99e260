import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgresServer, type PostgresServer } from '../helpers/processes.js';

/*
 * postgres.js 3.4.9 throws an uncaught TypeError (nextWrite on a nulled socket) when a transaction's
 * statement is in flight as Postgres restarts: the daemon died with exit 1. bin/postgres-fix.mjs repairs
 * the driver as it is loaded. The same child runs without and with the repair: the first shows the crash
 * is real on this driver version (so the test cannot pass vacuously), the second that the repair holds
 * through repeated restarts and that the pool reconnects afterwards (the hang the repair's last part fixes).
 */
let pg: PostgresServer;
beforeAll(async () => {
  pg = await startPostgresServer();
});
afterAll(async () => {
  await pg?.destroy();
});

/** The child loops transactions for `runMs` while Postgres is restarted once per entry of `stops`. */
async function runThroughRestarts(fix: boolean, stops: ('fast' | 'immediate')[], runMs: number): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [new URL('./pg-restart-child.mjs', import.meta.url).pathname], {
    env: { ...process.env, PG_URL: pg.url, PG_FIX: fix ? '1' : '0', RUN_MS: String(runMs) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += String(d)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  while (!out.includes('running')) await new Promise((r) => setTimeout(r, 50));
  for (const mode of stops) {
    if (child.exitCode !== null) break; // crashed already (the unrepaired driver)
    await new Promise((r) => setTimeout(r, 500));
    pg.stop(mode); // transactions in flight are cut
    await new Promise((r) => setTimeout(r, 1000));
    await pg.start();
  }
  const code = await exited;
  return { code, out };
}

describe('postgres.js through a Postgres restart', () => {
  it('without the repair, a transaction in flight crashes the process (the bug is real here)', async () => {
    const { code, out } = await runThroughRestarts(false, ['fast'], 5000);
    expect(out).toMatch(/uncaught: Cannot read properties of null \(reading 'write'\)/);
    expect(code).toBe(3);
  });

  it('with the repair, restarts never crash the process and every pooled connection comes back', async () => {
    // Four restarts in one run: before the "closed connection parked in the full queue" repair, about half
    // of single restarts left the pool waiting forever (the child then exited 13 on its unsettled await
    // instead of printing "survived"), so four in a row all but always showed it.
    const { code, out } = await runThroughRestarts(true, ['fast', 'immediate', 'fast', 'immediate'], 12000);
    expect(out).not.toMatch(/uncaught/);
    expect(out).toMatch(/survived ok=\d+ after=8/);
    expect(code).toBe(0);
  });
});

/** A child of this directory run to its end against this test's Postgres: its stdout and exit code. */
async function runChild(file: string, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [new URL(file, import.meta.url).pathname], {
    env: { ...process.env, PG_URL: pg.url, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += String(d)));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  return { code, out };
}

/** pg-startup-drop-child.mjs in `mode`: its summary line and exit code. */
const startupDrop = (fix: boolean, mode: 'drop' | 'terminate' | 'refuse' | 'late' | 'reserve-refused') =>
  runChild('./pg-startup-drop-child.mjs', { PG_FIX: fix ? '1' : '0', MODE: mode });

// A Postgres restart also cuts the connections the pool is opening at that moment, while postgres.js still
// fetches the array types (porsager/postgres#1192, #1205, #1223): a dropped promise ended the daemon with
// `unhandled rejection: connect ECONNREFUSED` in the fault suite, and a dead backend's FATAL was replayed
// onto the next connection's first query. A proxy cuts one connection; 20 numbered queries follow.
describe('postgres.js when a connection dies during its startup or is terminated', () => {
  it('without the repair: an unhandled rejection ends the process (FATAL 57P01, or the reconnect refused)', async () => {
    for (const mode of ['terminate', 'refuse'] as const) {
      const { code, out } = await startupDrop(false, mode);
      expect(out, mode).toMatch(mode === 'refuse' ? /unhandled: connect ECONNREFUSED/ : /unhandled: terminating connection/);
      expect(code, mode).toBe(4);
    }
  });

  it("without the repair: a terminated backend's error fails a later query on the new connection", async () => {
    const { code, out } = await startupDrop(false, 'late');
    // The query in flight when the backend died, and the next one, which ran on a fresh connection.
    expect(out).toMatch(/done ok=18 failed=2 wrong=0 hung=0/);
    expect(code).toBe(0);
  });

  it('with the repair: no unhandled rejection, and only a query that met the dead backend or the refused reconnect fails', async () => {
    // reserve-refused: a reserve() whose connection attempt was refused, then the pool used (the waiting-list
    // repair; the lost connection it prevents was found by reading, not reproduced here).
    const expected = { drop: 'ok=20 failed=0', terminate: 'ok=20 failed=0', refuse: 'ok=19 failed=1', late: 'ok=19 failed=1', 'reserve-refused': 'ok=20 failed=0' };
    for (const [mode, counts] of Object.entries(expected) as [keyof typeof expected, string][]) {
      const { code, out } = await startupDrop(true, mode);
      expect(out, mode).not.toMatch(/unhandled/);
      expect(out, mode).toContain(`done ${counts} wrong=0 hung=0`);
      expect(code, mode).toBe(0);
    }
  });
});

/** pg-reserved-close-child.mjs: `fix` 'connection' = only the repairs of src/connection.js. */
async function reservedClose(fix: '1' | 'connection', mode: 'reserve' | 'begin'): Promise<string> {
  const { code, out } = await runChild('./pg-reserved-close-child.mjs', { PG_FIX: fix, MODE: mode });
  expect(code).toBe(0);
  return out;
}

// The hang behind "150 parcels never polled again" in sweeps.test.ts: a poll flush's pipelined transaction
// (sql.reserve) lost its connection with a statement queued behind one still being described; that statement
// never settled, nor did the flush, nor any poll job behind it.
describe('postgres.js when a reserved or transaction connection is terminated with statements queued', () => {
  it('without the pool repairs: the queued statement never settles, and a released dead connection fails a pool query', async () => {
    expect(await reservedClose('connection', 'reserve')).toContain('done queued=hung answered=9');
    expect(await reservedClose('connection', 'begin')).toContain('done queued=hung answered=10');
  });

  it('with them: the queued statement fails with the connection, and the pool answers every later query', async () => {
    expect(await reservedClose('1', 'reserve')).toContain('done queued=rejected answered=10');
    expect(await reservedClose('1', 'begin')).toContain('done queued=rejected answered=10');
  });
});
