import type { Sql } from '../db/client.js';
import { upsertOrders } from '../db/queries/orders.js';
import type { Clock } from '../domain/clock.js';
import { parseOrder, type OrderInput } from './order-input.js';
import { detectFormat, ErrorReport, readRows } from './read-rows.js';

export interface ImportSummary {
  rows: number;
  orders: number;
  shipments: number;
  rejectedRows: number;
  errorReport: string | null;
  seconds: number;
}

export interface ImportOptions {
  sql: Sql;
  clock: Clock;
  file: string;
  format?: 'csv' | 'ndjson';
  /** Where bad rows go (line, orderId, reason); default FILE.errors.csv. */
  errorReport?: string;
  batchSize?: number;
  onProgress?: (rows: number) => void;
}

/**
 * CSV columns (one row per parcel; an order with no parcel has empty carrier/trackingNo; rows of one order
 * may repeat the order columns): orderId, platform, type, paidAt, promisedShipBy, amount, currency,
 * customerName, customerPhone, customerHandle, carrier, trackingNo, markedShippedAt.
 */
export const CSV_COLUMNS = [
  'orderId',
  'platform',
  'type',
  'paidAt',
  'promisedShipBy',
  'amount',
  'currency',
  'customerName',
  'customerPhone',
  'customerHandle',
  'carrier',
  'trackingNo',
  'markedShippedAt',
] as const;

function csvRowToOrder(r: Record<string, string>): unknown {
  const blank = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());
  return {
    orderId: blank(r.orderId),
    platform: blank(r.platform),
    type: blank(r.type),
    paidAt: blank(r.paidAt),
    promisedShipBy: blank(r.promisedShipBy),
    amount: blank(r.amount),
    currency: blank(r.currency),
    customer: { name: blank(r.customerName), phone: blank(r.customerPhone), handle: blank(r.customerHandle) },
    shipments:
      blank(r.trackingNo) || blank(r.carrier)
        ? [{ carrier: r.carrier ?? '', trackingNo: r.trackingNo ?? '', markedShippedAt: blank(r.markedShippedAt) }]
        : [],
  };
}

/** Stream rows → validate → upsert in batches; memory stays bounded by one batch whatever the file size. */
export async function importOrders(opts: ImportOptions): Promise<ImportSummary> {
  const started = performance.now();
  const format = detectFormat(opts.file, opts.format);
  const batchSize = opts.batchSize ?? 5000;
  const report = new ErrorReport(opts.errorReport ?? `${opts.file}.errors.csv`, ['line', 'orderId', 'reason']);
  const summary: ImportSummary = { rows: 0, orders: 0, shipments: 0, rejectedRows: 0, errorReport: null, seconds: 0 };

  const reject = (line: number, orderId: string | null, reason: string) => {
    summary.rejectedRows++;
    report.write([line, orderId ?? '', reason]);
  };

  let batch: OrderInput[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const current = batch;
    batch = [];
    const r = await upsertOrders(opts.sql, current, opts.clock.now());
    summary.orders += current.length;
    summary.shipments += r.newShipments;
    for (const c of r.conflicts) reject(0, c.orderId, `trackingNo ${c.trackingNo} (${c.carrier}) already belongs to another order`);
  };

  const accept = async (line: number, raw: unknown) => {
    summary.rows++;
    const parsed = parseOrder(raw);
    if (!parsed.ok) reject(line, parsed.orderId, parsed.errors.join('; '));
    else batch.push(parsed.order);
    if (batch.length >= batchSize) await flush();
    if (summary.rows % 10_000 === 0) opts.onProgress?.(summary.rows);
  };

  for await (const row of readRows(opts.file, format)) {
    if ('error' in row) {
      summary.rows++;
      reject(row.line, null, row.error);
    } else await accept(row.line, format === 'csv' ? csvRowToOrder(row.raw as Record<string, string>) : row.raw);
  }
  await flush();
  opts.onProgress?.(summary.rows);
  await report.close();
  summary.errorReport = report.written;
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}
