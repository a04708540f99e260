/**
 * Scenario 1, order import: `importOrders` (what `parcelwatch import orders FILE` runs) on a generated CSV
 * vs raw COPY of the same rows into orders and shipments.
 *
 * Our side runs in a child process (bench/import-child.ts through bin/parcelwatch.mjs, the CLI's loader, with
 * the CLI's pool of 2), so its peak RSS is the importer's own: the kernel's VmHWM of the process that runs the
 * import, not the harness's. Its time is taken around importOrders inside the child (as the CLI reports it);
 * process start and module loading, which COPY does not pay either, are kept as a fact (childWallSeconds).
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { ImportChildResult } from '../import-child.js';
import { BENCH_NOW, orderRows, writeOrdersCsv } from '../generate.js';
import { freshTables, gc, median, rowsWrittenSince, xidMark } from '../context.js';
import { sidesOf, type ResultRow, type Scenario, type ScenarioContext } from '../types.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `parcelwatch import orders` on `file` in a child process; its result and wall time from spawn to exit. */
async function importInChild(dbUrl: string, file: string, errors: string): Promise<ImportChildResult & { wallSeconds: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'parcelwatch.mjs'), dbUrl, file, errors], {
    cwd: ROOT,
    env: { ...process.env, PARCELWATCH_ENTRY: 'bench/import-child' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  const wallSeconds = (performance.now() - t0) / 1000;
  const line = out.trim().split('\n').pop();
  if (code !== 0 || !line) throw new Error(`import child exited with ${code}: ${err.trim() || out.trim()}`);
  return { ...(JSON.parse(line) as ImportChildResult), wallSeconds };
}

const iso = (d: Date | null) => (d ? d.toISOString() : '\\N');

/** The same order book pre-rendered as COPY text (outside the timing: the baseline only pays COPY). */
async function writeCopyFiles(dir: string, shipments: number): Promise<{ orders: string; shipments: string }> {
  const files = { orders: join(dir, 'orders.copy'), shipments: join(dir, 'shipments.copy') };
  const o = createWriteStream(files.orders);
  const s = createWriteStream(files.shipments);
  const epoch = new Date(0).toISOString();
  const stamp = BENCH_NOW.toISOString();
  let ob = '';
  let sb = '';
  let lastOrder = 0;
  for (const r of orderRows(shipments)) {
    if (r.orderNo !== lastOrder) {
      lastOrder = r.orderNo;
      ob += [r.orderNo, r.platform, r.orderId, r.type, iso(r.paidAt), iso(r.promisedShipBy), r.amount, r.currency, r.customerName, r.customerPhone, r.customerHandle, epoch, stamp, stamp].join('\t') + '\n';
    }
    sb += [r.orderNo, r.carrier, r.trackingNo, iso(r.markedShippedAt), stamp, stamp].join('\t') + '\n';
    if (ob.length > 1 << 20) {
      if (!o.write(ob)) await once(o, 'drain');
      ob = '';
    }
    if (sb.length > 1 << 20) {
      if (!s.write(sb)) await once(s, 'drain');
      sb = '';
    }
  }
  o.end(ob);
  s.end(sb);
  await Promise.all([once(o, 'finish'), once(s, 'finish')]);
  return files;
}

export const importScenario: Scenario = {
  id: 'import',
  title: '1 order import',
  async run({ env, shipments, another }: ScenarioContext): Promise<ResultRow[]> {
    const csv = join(env.tmpDir, 'orders.csv');
    await writeOrdersCsv(csv, shipments);
    const copy = await writeCopyFiles(env.tmpDir, shipments);
    const ours: number[] = [];
    const base: number[] = [];
    const rss: number[] = [];
    const wall: number[] = [];
    const imported: number[] = [];
    const rejected: number[] = [];
    for (let rep = 0; another(rep); rep++) {
      for (const side of sidesOf(rep)) {
        await freshTables(env.sql);
        gc();
        if (side === 'ours') {
          const r = await importInChild(env.dbUrl, csv, join(env.tmpDir, 'import.errors.csv'));
          ours.push(r.seconds);
          rss.push(r.peakRssMb);
          wall.push(r.wallSeconds);
          imported.push(r.shipments);
          rejected.push(r.rejectedRows);
        } else {
          const t0 = performance.now();
          const ow = await env.raw
            .unsafe(
              'copy orders (id, platform, external_id, type, paid_at, promised_ship_by, amount, currency, customer_name, customer_phone, customer_handle, next_check_at, created_at, updated_at) from stdin',
            )
            .writable();
          await pipeline(createReadStream(copy.orders), ow);
          const sw = await env.raw
            // the shipments_schedule_rows trigger gives COPY's parcels their schedule rows, as it does ours
            .unsafe('copy shipments (order_id, carrier, tracking_no, marked_shipped_at, created_at, updated_at) from stdin')
            .writable();
          await pipeline(createReadStream(copy.shipments), sw);
          await env.raw`select setval('orders_id_seq', (select max(id) from orders))`;
          base.push((performance.now() - t0) / 1000);
        }
      }
    }
    const [{ n }] = (await env.sql`select count(*)::int as n from shipments`) as unknown as [{ n: number }];
    if (n !== shipments) throw new Error(`import scenario: ${n} shipments in the table, expected ${shipments}`);
    // The same file again over the same rows (the last side's): an idempotent import writes nothing.
    const mark = await xidMark(env.sql);
    const again = await importInChild(env.dbUrl, csv, join(env.tmpDir, 'import.errors.csv'));
    const rewritten = await rowsWrittenSince(env.sql, mark, ['orders', 'shipments']);
    const s = median(ours);
    const b = median(base);
    const ratio = shipments / s / (shipments / b);
    const peak = Math.max(...rss);
    return [
      {
        scenario: '1',
        label: 'order import (CSV)',
        unit: 'parcel rows',
        measured: true,
        items: shipments,
        seconds: s,
        itemsPerSec: shipments / s,
        baseline: 'COPY orders+shipments',
        baselineSeconds: b,
        baselineItemsPerSec: shipments / b,
        ratio,
        peakRssMb: peak,
        shipmentsPerSec: shipments / s,
        target: '>= 50 % of COPY; RSS <= 256 MB',
        met: ratio >= 0.5 && peak <= 256,
        note:
          `ours runs as its own process (bench/import-child.ts via bin/parcelwatch.mjs, pool of 2, like \`parcelwatch import orders\`); ` +
          `peak RSS is that process's VmHWM (tsx loader included); seconds are timed around importOrders in it, ` +
          `spawn-to-exit (process start, tsx, connect) was ${median(wall).toFixed(1)} s`,
        facts: {
          shipmentsImported: imported,
          rejectedRows: rejected,
          peakRssMb: rss,
          childWallSeconds: wall,
          reimportRowsWritten: [rewritten],
          reimportNewShipments: [again.shipments],
          reimportSeconds: [again.seconds],
        },
        runs: { ours, baseline: base },
      },
    ];
  },
};
