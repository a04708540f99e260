/**
 * The importer process of bench scenario 1: what `parcelwatch import orders FILE` does (its own pool of 2,
 * `importOrders`), in a process of its own started through the same loader (bin/parcelwatch.mjs: tsx in
 * process in a checkout), so its peak RSS is the importer's and nothing else's. The bench's fixed clock keeps
 * the rows identical to the baseline's.
 *
 *   PARCELWATCH_ENTRY=bench/import-child node bin/parcelwatch.mjs DB_URL FILE ERRORS_FILE
 *
 * Prints one JSON line: the import summary, its seconds (timed around importOrders, like the CLI's own
 * figure: process start, module loading and connecting are not in it) and VmHWM, the kernel's peak RSS of this
 * process, read at the end.
 */
import { readFileSync } from 'node:fs';
import { createDb } from '../db/client.js';
import { fixedClock } from '../domain/clock.js';
import { importOrders } from '../ingest/import-orders.js';
import { loadConfig } from '../config/load.js';
import { BENCH_NOW } from './generate.js';

export interface ImportChildResult {
  rows: number;
  orders: number;
  shipments: number;
  rejectedRows: number;
  seconds: number;
  /** Peak resident set size of this process (VmHWM), MB. */
  peakRssMb: number;
}

function vmHwmMb(): number {
  const kb = /VmHWM:\s+(\d+)\s*kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return kb ? Number(kb) / 1024 : process.resourceUsage().maxRSS / 1024;
}

const [url, file, errors] = process.argv.slice(2);
if (!url || !file || !errors) {
  process.stderr.write('usage: PARCELWATCH_ENTRY=bench/import-child node bin/parcelwatch.mjs DB_URL FILE ERRORS_FILE\n');
  process.exit(2);
}
const db = await createDb({ url, poolSize: 2 });
try {
  const t0 = performance.now();
  const s = await importOrders({ sql: db.sql, clock: fixedClock(BENCH_NOW), input: loadConfig({ env: {} }).input, file, errorReport: errors });
  const seconds = (performance.now() - t0) / 1000;
  const out: ImportChildResult = { rows: s.rows, orders: s.stored + s.unchanged, shipments: s.shipments, rejectedRows: s.rejectedRows, seconds, peakRssMb: vmHwmMb() };
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await db.close();
}
