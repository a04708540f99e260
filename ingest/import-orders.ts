import type { Sql } from '../db/client.js';
import { OrderRows, prepareOrderRows, writeOrderRows, type PreparedOrderRows } from '../db/queries/orders.js';
import type { Clock } from '../domain/clock.js';
import { addFlatOrderFast, carrierWarnings, FLAT_ORDER_COLUMNS, flatRowToOrder, parseOrder } from './order-input.js';
import { detectFormat, ErrorReport, readCsvRecords, readRows, recordObject } from './read-rows.js';

export interface ImportSummary {
  rows: number;
  orders: number;
  shipments: number;
  rejectedRows: number;
  /** Accepted rows with a warning (carrier to be detected); listed in the report as `warning: …`. */
  warnings: number;
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
export const CSV_COLUMNS = FLAT_ORDER_COLUMNS;

type Rejected = { line: number; orderId: string | null; reason: string };

/** The valid rows of up to batchSize file rows (tagged with their lines), and the rows refused among them. */
interface Batch {
  rows: OrderRows;
  /** File rows taken (a row of the schema's path may add several flat rows). */
  taken: number;
  rejected: Rejected[];
  /** Accepted rows the report should still name (unknown carrier). */
  warnings: Rejected[];
}

const newBatch = (): Batch => ({ rows: new OrderRows(), taken: 0, rejected: [], warnings: [] });

/**
 * Stream rows → validate → upsert in batches, one batch written while the next is read and validated (at most
 * one in flight, so memory stays bounded by two batches whatever the file size). Bad rows go to the report in
 * line order, each batch's once its write has settled, with the parcels that already belong to another order.
 */
export async function importOrders(opts: ImportOptions): Promise<ImportSummary> {
  const started = performance.now();
  const format = detectFormat(opts.file, opts.format);
  const batchSize = opts.batchSize ?? 2500;
  const report = new ErrorReport(opts.errorReport ?? `${opts.file}.errors.csv`, ['line', 'orderId', 'reason']);
  const summary: ImportSummary = { rows: 0, orders: 0, shipments: 0, rejectedRows: 0, warnings: 0, errorReport: null, seconds: 0 };

  const write = async (b: Batch, prepared: PreparedOrderRows | null) => {
    const rejected = b.rejected;
    if (prepared) {
      const r = await writeOrderRows(opts.sql, prepared, opts.clock.now());
      summary.orders += b.taken;
      summary.shipments += r.newShipments;
      r.conflicts.forEach((c, i) =>
        rejected.push({ line: r.conflictSources[i]!, orderId: c.orderId, reason: `trackingNo ${c.trackingNo} (${c.carrier}) already belongs to another order` }),
      );
      if (r.conflicts.length) rejected.sort((x, y) => x.line - y.line);
    }
    const listed = b.warnings.length ? [...rejected, ...b.warnings].sort((x, y) => x.line - y.line) : rejected;
    for (const x of listed) report.write([x.line, x.orderId ?? '', x.reason]);
    summary.rejectedRows += rejected.length;
    summary.warnings += b.warnings.length;
    await report.drained();
  };

  let batch = newBatch();
  let inFlight: Promise<void> | null = null;
  const flush = async () => {
    const b = batch;
    batch = newBatch();
    // Deduplicate and serialize this batch while the previous one is still being written, then wait for it.
    const prepared = b.rows.length ? prepareOrderRows(b.rows) : null;
    if (inFlight) await inFlight;
    inFlight = write(b, prepared);
    inFlight.catch(() => {}); // awaited at the next flush; this only keeps it from counting as unhandled meanwhile
  };

  const refuse = (line: number, orderId: string | null, reason: string) => batch.rejected.push({ line, orderId, reason });
  const parsed = (line: number, raw: unknown) => {
    const p = parseOrder(raw);
    if (p.ok) {
      batch.rows.add(p.order, line);
      batch.taken++;
      for (const w of carrierWarnings(p.order)) batch.warnings.push({ line, orderId: p.order.orderId, reason: `warning: ${w}` });
    } else refuse(line, p.orderId, p.errors.join('; '));
  };
  const full = () => batch.taken >= batchSize || batch.rejected.length >= batchSize;
  const counted = () => {
    summary.rows++;
    if (summary.rows % 10_000 === 0) opts.onProgress?.(summary.rows);
  };

  try {
    if (format === 'csv') {
      let header: string[] | null = null;
      let col: number[] | null = null;
      for await (const records of readCsvRecords(opts.file)) {
        for (const rec of records) {
          if (!header) {
            header = rec.fields;
            // A header naming one column twice leaves the mapping to recordObject (the later one wins where present).
            const unique = FLAT_ORDER_COLUMNS.every((k) => header!.indexOf(k) === header!.lastIndexOf(k));
            col = unique ? FLAT_ORDER_COLUMNS.map((k) => header!.indexOf(k)) : null;
            continue;
          }
          counted();
          if (col && addFlatOrderFast(rec.fields, col, batch.rows, rec.line)) batch.taken++;
          else parsed(rec.line, flatRowToOrder(recordObject(header, rec.fields)));
          if (full()) await flush();
        }
      }
    } else {
      for await (const row of readRows(opts.file, format)) {
        counted();
        if ('error' in row) refuse(row.line, null, row.error);
        else parsed(row.line, row.raw);
        if (full()) await flush();
      }
    }
    await flush();
    await inFlight;
  } catch (err) {
    await (inFlight as Promise<void> | null)?.catch(() => {});
    await report.close();
    throw err;
  }
  opts.onProgress?.(summary.rows);
  await report.close();
  summary.errorReport = report.written;
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}
