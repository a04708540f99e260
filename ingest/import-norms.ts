import { z } from 'zod';
import { normalizeCarrier } from '../carriers/carrier-codes.js';
import type { Sql } from '../db/client.js';
import { upsertNormSeeds, type NormSeed } from '../db/queries/norms.js';
import type { Clock } from '../domain/clock.js';
import { ErrorReport, readRows } from './read-rows.js';

export const NORM_CSV_COLUMNS = ['carrier', 'origin', 'destination', 'p50Hours', 'p90Hours', 'samples'] as const;

/** `*` or empty = any. Areas are written as the norms store them: a city (杭州市) or a province (广东省). */
const area = z
  .string()
  .trim()
  .max(40)
  .transform((v) => (v === '' ? '*' : v));

const seedRow = z
  .object({
    carrier: z
      .string()
      .trim()
      .transform((v, ctx) => {
        if (v === '' || v === '*') return '*';
        const code = normalizeCarrier(v);
        if (!code) ctx.addIssue({ code: 'custom', message: `unknown carrier ${JSON.stringify(v)}` });
        return code ?? v;
      }),
    origin: area.default('*'),
    destination: area.default('*'),
    p50Hours: z.coerce.number().positive().max(24 * 90),
    p90Hours: z.coerce.number().positive().max(24 * 180),
    samples: z.coerce.number().int().nonnegative().default(0),
  })
  .refine((r) => r.p90Hours >= r.p50Hours, { message: 'p90Hours is below p50Hours', path: ['p90Hours'] })
  .refine((r) => (r.origin === '*') === (r.destination === '*'), { message: 'a route needs both origin and destination (or neither, for a carrier-wide norm)', path: ['destination'] })
  .refine((r) => r.carrier !== '*' || r.origin === '*', { message: 'a global norm (carrier *) has no route', path: ['origin'] });

export interface NormImportSummary {
  rows: number;
  upserted: number;
  rejectedRows: number;
  errorReport: string | null;
}

/**
 * Seed norms for a shop without delivered history: CSV `carrier,origin,destination,p50Hours,p90Hours,samples`
 * (carrier `*` = global; empty origin/destination = carrier-wide). A seed stands in at its level until a learned
 * norm there reaches norms.minSamples. Re-importing is idempotent; bad rows are reported by line, not fatal.
 */
export async function importNormSeeds(opts: { sql: Sql; clock: Clock; file: string; errorReport?: string }): Promise<NormImportSummary> {
  const report = new ErrorReport(opts.errorReport ?? `${opts.file}.errors.csv`, ['line', 'carrier', 'reason']);
  const summary: NormImportSummary = { rows: 0, upserted: 0, rejectedRows: 0, errorReport: null };
  let batch: NormSeed[] = [];
  const flush = async () => {
    summary.upserted += await upsertNormSeeds(opts.sql, batch, opts.clock.now());
    batch = [];
  };
  for await (const row of readRows(opts.file, 'csv', { trimCsv: true })) {
    summary.rows++;
    if ('error' in row) {
      summary.rejectedRows++;
      report.write([row.line, '', row.error]);
      continue;
    }
    const raw = Object.fromEntries(NORM_CSV_COLUMNS.map((k) => [k, row.raw[k] === '' && k === 'samples' ? undefined : row.raw[k]]));
    const parsed = seedRow.safeParse(raw);
    if (!parsed.success) {
      summary.rejectedRows++;
      report.write([row.line, String(row.raw.carrier ?? ''), parsed.error.issues.map((i) => `${i.path.join('.') || 'row'}: ${i.message}`).join('; ')]);
      continue;
    }
    batch.push(parsed.data);
    if (batch.length >= 1000) await flush();
  }
  await flush();
  await report.close();
  summary.errorReport = report.written;
  return summary;
}
