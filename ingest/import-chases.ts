import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse as parseCsv } from 'csv-parse';
import { chaseBody } from '../api/chases.js';
import type { Sql } from '../db/client.js';
import { ChaseRefused, registerChases, type ChaseChannel } from '../db/queries/chases.js';
import type { Clock } from '../domain/clock.js';

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
  defaultChannel: ChaseChannel;
  format?: 'csv' | 'ndjson';
  /** Where bad rows go (line, orderId, trackingNo, reason); default FILE.errors.csv. */
  errorReport?: string;
}

function csvEscape(v: string): string {
  return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/**
 * Bulk registration (CSV with columns orderId,trackingNo,contact,channel,note, or NDJSON with the API's
 * fields). Each row goes through the same validation and registration as POST /api/chases, so a row is
 * idempotent and a refused row (unknown order, already delivered) is reported by line, not fatal.
 */
export async function importChases(opts: ChaseImportOptions): Promise<ChaseImportSummary> {
  const format = opts.format ?? (/\.(nd)?jsonl?$/i.test(opts.file) ? 'ndjson' : 'csv');
  const reportPath = opts.errorReport ?? `${opts.file}.errors.csv`;
  let report: WriteStream | null = null;
  const summary: ChaseImportSummary = { rows: 0, chasesCreated: 0, alreadyRegistered: 0, rejectedRows: 0, errorReport: null };

  const reject = (line: number, raw: Record<string, unknown> | null, reason: string) => {
    summary.rejectedRows++;
    if (!report) {
      report = createWriteStream(reportPath);
      report.write('line,orderId,trackingNo,reason\n');
      summary.errorReport = reportPath;
    }
    const f = (k: string) => (raw && typeof raw[k] === 'string' ? (raw[k] as string) : '');
    report.write(`${line},${csvEscape(f('orderId'))},${csvEscape(f('trackingNo'))},${csvEscape(reason)}\n`);
  };

  const accept = async (line: number, raw: Record<string, unknown>) => {
    summary.rows++;
    const b = chaseBody.safeParse(raw);
    if (!b.success) return reject(line, raw, b.error.issues.map((i) => `${i.path.join('.') || 'row'}: ${i.message}`).join('; '));
    try {
      const r = await registerChases(opts.sql, b.data, opts.defaultChannel, opts.clock.now());
      summary.chasesCreated += r.created;
      summary.alreadyRegistered += r.items.length - r.created;
    } catch (err) {
      if (err instanceof ChaseRefused) reject(line, raw, err.message);
      else throw err;
    }
  };

  if (format === 'ndjson') {
    const rl = createInterface({ input: createReadStream(opts.file, 'utf8'), crlfDelay: Infinity });
    let line = 0;
    for await (const text of rl) {
      line++;
      if (!text.trim()) continue;
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch (err) {
        summary.rows++;
        reject(line, null, `not JSON: ${(err as Error).message}`);
        continue;
      }
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
        summary.rows++;
        reject(line, null, 'not a JSON object');
        continue;
      }
      await accept(line, raw as Record<string, unknown>);
    }
  } else {
    const parser = createReadStream(opts.file).pipe(
      parseCsv({ columns: true, bom: true, skip_empty_lines: true, relax_column_count: true, info: true, trim: true }),
    );
    for await (const rec of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      // Empty cells mean "not given" (contact/channel default like the API).
      const raw = Object.fromEntries(CHASE_CSV_COLUMNS.map((k) => [k, rec.record[k] ? rec.record[k] : undefined]));
      await accept(rec.info.lines, raw);
    }
  }
  if (report) await new Promise<void>((resolve) => (report as unknown as WriteStream).end(resolve));
  return summary;
}
