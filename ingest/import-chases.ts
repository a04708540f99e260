import { chaseBody } from '../api/chases.js';
import type { Sql } from '../db/client.js';
import { ChaseRefused, registerChases, type ChasePolicy } from '../db/queries/chases.js';
import type { Clock } from '../domain/clock.js';
import { detectFormat, ErrorReport, readRows } from './read-rows.js';

export const CHASE_CSV_COLUMNS = ['orderId', 'trackingNo', 'contact', 'channel', 'note'] as const;

export interface ChaseImportSummary {
  rows: number;
  chasesCreated: number;
  alreadyRegistered: number;
  rejectedRows: number;
  errorReport: string | null;
}

export interface ChaseImportOptions {
  sql: Sql;
  clock: Clock;
  file: string;
  /** chasePolicy(config): default and enabled channels, whether other contacts are allowed. */
  policy: ChasePolicy;
  format?: 'csv' | 'ndjson';
  /** Where bad rows go (line, orderId, trackingNo, reason); default FILE.errors.csv. */
  errorReport?: string;
}

/**
 * Bulk registration (CSV with columns orderId,trackingNo,contact,channel,note, or NDJSON with the API's
 * fields). Each row goes through the same validation and registration as POST /api/chases, so a row is
 * idempotent and a refused row (unknown order, already delivered) is reported by line, not fatal.
 */
export async function importChases(opts: ChaseImportOptions): Promise<ChaseImportSummary> {
  const report = new ErrorReport(opts.errorReport ?? `${opts.file}.errors.csv`, ['line', 'orderId', 'trackingNo', 'reason']);
  const summary: ChaseImportSummary = { rows: 0, chasesCreated: 0, alreadyRegistered: 0, rejectedRows: 0, errorReport: null };

  const reject = (line: number, raw: Record<string, unknown> | null, reason: string) => {
    summary.rejectedRows++;
    const f = (k: string) => (raw && typeof raw[k] === 'string' ? (raw[k] as string) : '');
    report.write([line, f('orderId'), f('trackingNo'), reason]);
  };

  const format = detectFormat(opts.file, opts.format);
  for await (const row of readRows(opts.file, format, { trimCsv: true })) {
    summary.rows++;
    if ('error' in row) {
      reject(row.line, null, row.error);
      continue;
    }
    // Empty CSV cells mean "not given" (contact/channel default like the API).
    const raw = format === 'csv' ? Object.fromEntries(CHASE_CSV_COLUMNS.map((k) => [k, row.raw[k] ? row.raw[k] : undefined])) : row.raw;
    const b = chaseBody.safeParse(raw);
    if (!b.success) {
      reject(row.line, raw, b.error.issues.map((i) => `${i.path.join('.') || 'row'}: ${i.message}`).join('; '));
      continue;
    }
    try {
      const r = await registerChases(opts.sql, b.data, opts.policy, opts.clock.now());
      summary.chasesCreated += r.created;
      summary.alreadyRegistered += r.items.length - r.created;
    } catch (err) {
      if (err instanceof ChaseRefused) reject(row.line, raw, err.message);
      else throw err;
    }
  }
  await report.close();
  summary.errorReport = report.written;
  return summary;
}
