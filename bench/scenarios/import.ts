/**
 * Scenario 1, order import: `importOrders` (what `parcelwatch import orders FILE` runs) on a generated CSV
 * vs raw COPY of the same rows into orders and shipments. Peak RSS is sampled in-process
 * (process.memoryUsage().rss every 20 ms while the importer runs), so it includes the harness itself.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { importOrders } from '../../ingest/import-orders.js';
import { fixedClock } from '../../domain/clock.js';
import { BENCH_NOW, orderRows, writeOrdersCsv } from '../generate.js';
import { freshTables, gc, median, withRss } from '../context.js';
import { sidesOf, type ResultRow, type Scenario, type ScenarioContext } from '../types.js';

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
    sb += [r.orderNo, r.carrier, r.trackingNo, iso(r.markedShippedAt), epoch, epoch, stamp, stamp].join('\t') + '\n';
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
  async run({ env, shipments, reps }: ScenarioContext): Promise<ResultRow[]> {
    const csv = join(env.tmpDir, 'orders.csv');
    await writeOrdersCsv(csv, shipments);
    const copy = await writeCopyFiles(env.tmpDir, shipments);
    const ours: number[] = [];
    const base: number[] = [];
    const rss: number[] = [];
    const growth: number[] = [];
    const imported: number[] = [];
    const rejected: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
      for (const side of sidesOf(rep)) {
        await freshTables(env.sql);
        gc();
        if (side === 'ours') {
          const t0 = performance.now();
          const { value, peakRssMb, startRssMb } = await withRss(() =>
            importOrders({ sql: env.sql, clock: fixedClock(BENCH_NOW), file: csv, errorReport: join(env.tmpDir, 'import.errors.csv') }),
          );
          ours.push((performance.now() - t0) / 1000);
          rss.push(peakRssMb);
          growth.push(peakRssMb - startRssMb);
          imported.push(value.shipments);
          rejected.push(value.rejectedRows);
        } else {
          const t0 = performance.now();
          const ow = await env.raw
            .unsafe(
              'copy orders (id, platform, external_id, type, paid_at, promised_ship_by, amount, currency, customer_name, customer_phone, customer_handle, next_check_at, created_at, updated_at) from stdin',
            )
            .writable();
          await pipeline(createReadStream(copy.orders), ow);
          const sw = await env.raw
            .unsafe('copy shipments (order_id, carrier, tracking_no, marked_shipped_at, next_poll_at, next_check_at, created_at, updated_at) from stdin')
            .writable();
          await pipeline(createReadStream(copy.shipments), sw);
          await env.raw`select setval('orders_id_seq', (select max(id) from orders))`;
          base.push((performance.now() - t0) / 1000);
        }
      }
    }
    const [{ n }] = (await env.sql`select count(*)::int as n from shipments`) as unknown as [{ n: number }];
    if (n !== shipments) throw new Error(`import scenario: ${n} shipments in the table, expected ${shipments}`);
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
        note: `peak RSS sampled in-process, so it includes the harness (tsx, pools, earlier scenarios); the importer's own growth above the RSS at its start was at most ${Math.max(...growth).toFixed(0)} MB`,
        facts: { shipmentsImported: imported, rejectedRows: rejected, rssGrowthMb: growth },
        runs: { ours, baseline: base },
      },
    ];
  },
};
