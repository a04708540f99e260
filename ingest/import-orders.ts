import type { Config, Platform } from '../config/schema.js';
import type { Sql } from '../db/client.js';
import { orderKey, OrderRows, prepareOrderRows, writeOrderRows, type PreparedOrderRows, type UpsertOrdersResult } from '../db/queries/orders.js';
import type { Clock } from '../domain/clock.js';
import { addFlatOrderFast, carrierWarnings, FLAT_ORDER_COLUMNS, flatRowToOrder, inputLimits, parseOrder } from './order-input.js';
import { OrderTally } from './order-tally.js';
import { chinaTimeToIso, resolveHeader, withExportNames, type ResolvedHeader } from './order-columns.js';
import { detectEncoding, detectFormat, ErrorReport, readCsvRecords, readRows, recordObject, type ImportEncoding, type ImportFormat } from './read-rows.js';

export interface ImportSummary {
  format: ImportFormat;
  encoding: ImportEncoding;
  /** Rows read (blank lines not counted). */
  rows: number;
  /** Distinct orders stored: new, changed, or given a parcel (once, however many batches its rows fell into). */
  stored: number;
  /** Distinct valid orders already stored exactly so (a re-import), stored by none of their rows. */
  unchanged: number;
  /** Parcels newly added. */
  shipments: number;
  /** Lines of the errors file: rows refused, and orders refused whole for a parcel that clashes. */
  rejectedRows: number;
  /** Accepted rows with a warning (carrier to be detected); listed in the report as `warning: …`. */
  warnings: number;
  errorReport: string | null;
  seconds: number;
}

export interface ImportOptions {
  sql: Sql;
  clock: Clock;
  /** The accepted instants (config `input`), judged against the wall-clock time the import starts. */
  input: Config['input'];
  file: string;
  format?: ImportFormat;
  /** Default: detected (UTF-8 with or without BOM, else GB18030). */
  encoding?: ImportEncoding;
  /** Where bad rows go (line, orderId, reason); default FILE.errors.csv. */
  errorReport?: string;
  /**
   * The platform of rows that name none (no platform column, or an empty cell): a marketplace's export does not say
   * which marketplace it comes from, and without this its orders are taken as taobao (the schema's default).
   */
  platform?: Platform;
  batchSize?: number;
  onProgress?: (rows: number) => void;
}

/**
 * CSV columns (one row per parcel; an order with no parcel has empty carrier/trackingNo; rows of one order
 * may repeat the order columns): orderId, platform, type, paidAt, promisedShipBy, amount, currency,
 * customerName, customerPhone, customerHandle, carrier, trackingNo, markedShippedAt.
 */
export const CSV_COLUMNS = FLAT_ORDER_COLUMNS;
const PLATFORM = FLAT_ORDER_COLUMNS.indexOf('platform');

/** The file cannot be imported as it stands (its header); nothing was stored. */
export class ImportHeaderError extends Error {
  override name = 'ImportHeaderError';
}

/**
 * The header's problems: a column it does not know (in a file of our own column names), a column named twice, a
 * required column missing, carrier without trackingNo or the reverse. A marketplace export's names are mapped by
 * resolveHeader (ingest/order-columns.ts).
 */
export function headerProblems(header: readonly string[]): string[] {
  return resolveHeader(header).problems;
}

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

export function conflictReason(c: UpsertOrdersResult['conflicts'][number]): string {
  return (
    `trackingNo ${c.trackingNo} (${c.carrier}) already serves order ${c.otherOrderId} of another customer ` +
    `(a parcel may serve several orders only of one customer: same platform and phone or handle); nothing of order ${c.orderId} was stored`
  );
}

/**
 * Stream rows → validate → upsert in batches, one batch written while the next is read and validated (at most
 * one in flight, so memory stays bounded by two batches whatever the file size). Bad rows go to the report in
 * line order, each batch's once its write has settled, with the orders refused for a parcel that clashes.
 * A batch ends between orders where it can (adjacent rows of one order go together), but rows of one order may
 * lie anywhere in the file: a later batch's rows update the same order (the last row's order fields win, every
 * parcel is kept, as within a batch), and OrderTally counts each order once as stored or unchanged.
 */
export async function importOrders(opts: ImportOptions): Promise<ImportSummary> {
  const started = performance.now();
  const format = detectFormat(opts.file, opts.format);
  const encoding = opts.encoding ?? (await detectEncoding(opts.file));
  const batchSize = opts.batchSize ?? 2500;
  const report = new ErrorReport(opts.errorReport ?? `${opts.file}.errors.csv`, ['line', 'orderId', 'reason']);
  const summary: ImportSummary = { format, encoding, rows: 0, stored: 0, unchanged: 0, shipments: 0, rejectedRows: 0, warnings: 0, errorReport: null, seconds: 0 };

  const tally = new OrderTally();
  const write = async (b: Batch, prepared: PreparedOrderRows | null) => {
    const rejected = b.rejected;
    if (prepared) {
      const r = await writeOrderRows(opts.sql, prepared, opts.clock.now());
      const refused = new Set(r.conflicts.map((c) => orderKey(c.platform, c.orderId)));
      for (const k of prepared.orderKeys()) if (!refused.has(k)) tally.note(k, r.storedKeys.has(k));
      summary.stored = tally.stored;
      summary.unchanged = tally.unchanged;
      summary.shipments += r.newShipments;
      r.conflicts.forEach((c, i) => rejected.push({ line: r.conflictSources[i]!, orderId: c.orderId, reason: conflictReason(c) }));
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

  const limits = inputLimits(opts.input);
  // A marketplace export's names for our columns, shown beside ours in refusal reasons.
  let exportNames: ResolvedHeader['exportNames'] = {};
  const refuse = (line: number, orderId: string | null, reason: string) => batch.rejected.push({ line, orderId, reason });
  const parsed = (line: number, raw: unknown) => {
    const p = parseOrder(raw, limits);
    if (p.ok) {
      batch.rows.add(p.order, line);
      batch.taken++;
      for (const w of carrierWarnings(p.order)) batch.warnings.push({ line, orderId: p.order.orderId, reason: `warning: ${w}` });
    } else refuse(line, p.orderId, withExportNames(p.errors.join('; '), exportNames));
  };
  // A full batch is sent before the next row of another order; past twice the size, whatever the order (bounded memory).
  let lastKey: string | null = null;
  const beforeRow = async (key: string | null) => {
    const n = Math.max(batch.taken, batch.rejected.length);
    if (n >= 2 * batchSize || (n >= batchSize && key !== lastKey)) await flush();
    lastKey = key;
  };
  const counted = () => {
    summary.rows++;
    if (summary.rows % 10_000 === 0) opts.onProgress?.(summary.rows);
  };

  try {
    if (format === 'csv') {
      let header: ResolvedHeader | null = null;
      let col: number[] = [];
      let platformCol = -1;
      let addedPlatform = false;
      for await (const records of readCsvRecords(opts.file, { encoding })) {
        for (const rec of records) {
          if (!header) {
            if (rec.error) throw new ImportHeaderError(`${opts.file}: header: ${rec.error}`);
            header = resolveHeader(rec.fields);
            if (header.problems.length) throw new ImportHeaderError(`${opts.file}: header (line ${rec.line}): ${header.problems.join('; ')}`);
            col = header.col;
            exportNames = header.exportNames;
            if (opts.platform && col[PLATFORM]! === -1) {
              // No platform column: one after the file's columns (a ragged row's extra cell there is overwritten).
              col[PLATFORM] = header.canonical.length;
              header.canonical.push('platform');
              addedPlatform = true;
            }
            platformCol = opts.platform ? col[PLATFORM]! : -1;
            continue;
          }
          counted();
          const cells = rec.fields;
          if (!rec.error) {
            if (platformCol !== -1 && (addedPlatform || !cells[platformCol]?.trim())) cells[platformCol] = opts.platform!;
            for (const i of header.chinaTime) if (i < cells.length) cells[i] = chinaTimeToIso(cells[i]!);
          }
          await beforeRow(rec.error ? null : `${cells[col[PLATFORM]!] ?? ''}\u0001${cells[col[0]!] ?? ''}`);
          if (rec.error) {
            refuse(rec.line, null, rec.error);
            continue;
          }
          if (addFlatOrderFast(cells, col, batch.rows, rec.line, limits)) batch.taken++;
          else parsed(rec.line, flatRowToOrder(recordObject(header.canonical, cells)));
        }
      }
    } else {
      for await (const row of readRows(opts.file, format, { encoding })) {
        counted();
        const raw = 'raw' in row ? row.raw : null;
        if (raw && opts.platform && (raw.platform === undefined || raw.platform === null || raw.platform === '')) raw.platform = opts.platform;
        await beforeRow(raw ? `${String(raw.platform ?? '')}\u0001${String(raw.orderId ?? '')}` : null);
        if ('error' in row) refuse(row.line, null, row.error);
        else parsed(row.line, row.raw);
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
