import iconv from 'iconv-lite';
import { z } from 'zod';
import { CARRIER_CODES, carrierName } from '../carriers/carrier-codes.js';
import { STATUS_LABELS } from '../domain/status.js';
import { EXCEPTION_TYPES } from '../config/schema.js';
import type { SqlOrTx } from '../db/client.js';
import { carrierScorecards, exceptionTrends, todaySummary, type Period, type Scorecard, type TrendPoint } from '../db/queries/reports.js';
import type { Deps } from '../jobs/define-job.js';
import { csvEscape } from '../ingest/read-rows.js';
import { SEVERITY_LABELS, TYPE_LABELS } from '../notify/agents/markdown.js';
import { HttpError } from './http-kit.js';

/** `30d`, `12h` (before `now`) or an ISO-8601 instant. */
export function parseSince(value: string, now: Date): Date {
  const rel = /^(\d+(?:\.\d+)?)([dh])$/.exec(value.trim());
  if (rel) return new Date(now.getTime() - Number(rel[1]) * (rel[2] === 'd' ? 86_400_000 : 3_600_000));
  const d = new Date(value);
  if (Number.isNaN(d.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(value)) throw new HttpError(400, `since: ${JSON.stringify(value)} is neither 30d/12h nor an ISO-8601 instant`);
  return d;
}

const reportQuery = z.object({
  since: z.string().default('30d'),
  until: z.iso.datetime({ offset: true }).optional(),
  carrier: z.string().min(1).optional(),
  type: z.enum(EXCEPTION_TYPES).optional(),
  by: z.enum(['carrier', 'route']).default('carrier'),
});
/** A report request: its period and filters. */
export interface ReportQuery extends Period {
  carrier?: string;
  type?: (typeof EXCEPTION_TYPES)[number];
  by: 'carrier' | 'route';
}

export function parseReportQuery(params: Record<string, string | undefined>, now: Date): ReportQuery {
  const parsed = reportQuery.safeParse(Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined && v !== '')));
  if (!parsed.success) throw new HttpError(400, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const { since, until, ...rest } = parsed.data;
  const end = until ? new Date(until) : now;
  return { ...rest, since: parseSince(since, end), until: end };
}

export interface CarrierReport {
  since: string;
  until: string;
  items: (Scorecard & { carrierName: string })[];
}

export async function carrierReport(deps: Pick<Deps, 'sql' | 'config'>, q: ReportQuery): Promise<CarrierReport> {
  const cards = await carrierScorecards(deps.sql as SqlOrTx, q, { minSamples: deps.config.norms.minSamples, carrier: q.carrier, byRoute: q.by === 'route' });
  return { since: q.since.toISOString(), until: q.until.toISOString(), items: cards.map((c) => ({ ...c, carrierName: carrierName(c.carrier) })) };
}

export interface ExceptionReport {
  since: string;
  until: string;
  timeZone: string;
  items: TrendPoint[];
  totals: Record<string, { opened: number; resolved: number }>;
}

export async function exceptionReport(deps: Pick<Deps, 'sql' | 'config'>, q: ReportQuery): Promise<ExceptionReport> {
  const items = await exceptionTrends(deps.sql as SqlOrTx, q, deps.config.timezone, { carrier: q.carrier, type: q.type });
  const totals: ExceptionReport['totals'] = {};
  for (const i of items) {
    const t = (totals[i.type] ??= { opened: 0, resolved: 0 });
    t.opened += i.opened;
    t.resolved += i.resolved;
  }
  return { since: q.since.toISOString(), until: q.until.toISOString(), timeZone: deps.config.timezone, items, totals };
}

/** GET /api/reports/carriers?since=30d&until=&carrier=&by=carrier|route */
export const getCarrierReport = (deps: Deps, params: URLSearchParams) => carrierReport(deps, parseReportQuery(Object.fromEntries(params), deps.clock.now()));
/** GET /api/reports/exceptions?since=30d&until=&carrier=&type= */
export const getExceptionReport = (deps: Deps, params: URLSearchParams) => exceptionReport(deps, parseReportQuery(Object.fromEntries(params), deps.clock.now()));
/** GET /api/reports/today */
export const getToday = (deps: Deps) => todaySummary(deps.sql, deps.clock.now());
/** GET /api/reports/vocabulary: the zh-CN labels the console shows (kept where they live: notify/agents/markdown.ts, domain/status.ts, carriers/carrier-codes.ts). */
export const getVocabulary = (deps: Pick<Deps, 'config'>) => ({ timeZone: deps.config.timezone, types: TYPE_LABELS, severities: SEVERITY_LABELS, statuses: STATUS_LABELS, carriers: Object.fromEntries(CARRIER_CODES.map((c) => [c, carrierName(c)])) });

/** A table for people: column keys (table/json), zh-CN headers (CSV for Excel) and rows. */
export interface Table {
  keys: string[];
  headers: string[];
  rows: (string | number | null)[][];
}

const pct = (r: number | null) => (r === null ? null : Math.round(r * 1000) / 10);

export function carrierTable(r: CarrierReport): Table {
  const route = r.items.some((i) => 'origin' in i);
  type Item = CarrierReport['items'][number];
  type Col = readonly [string, string, (i: Item) => string | number | null];
  const cols: Col[] = [
    ['carrier', '快递', (i) => i.carrier],
    ['carrierName', '快递名称', (i) => i.carrierName],
    ...(route
      ? [
          ['origin', '始发地', (i: Item) => i.origin ?? null] as const,
          ['destination', '目的地', (i: Item) => i.destination ?? null] as const,
        ]
      : []),
    ['parcels', '包裹数', (i) => i.parcels],
    ['delivered', '已签收', (i) => i.delivered],
    ['onTimePct', '准时率(%)', (i) => pct(i.onTimeRate)],
    ['medianTransitHours', '时效中位数(小时)', (i) => i.medianTransitHours],
    ['p90TransitHours', 'P90时效(小时)', (i) => i.p90TransitHours],
    ['medianCollectionDelayHours', '发货到揽收中位数(小时)', (i) => i.medianCollectionDelayHours],
    ...EXCEPTION_TYPES.map((t) => [`${t}Pct`, `${TYPE_LABELS[t]}(%)`, (i: Item) => pct(i.exceptions[t]?.rate ?? 0)] as const),
    ['rejectedPct', '拒签(%)', (i) => pct(i.rejected.rate)],
    ['returnedPct', '退回(%)', (i) => pct(i.returned.rate)],
    ['outreachTasks', '外呼任务', (i) => i.outreach.tasks],
    ['outreachDone', '已完成任务', (i) => i.outreach.byStatus.done ?? 0],
    ['outcomes', '处理结果', (i) => Object.entries(i.outreach.byOutcome).map(([k, v]) => `${k}:${v}`).join(' ')],
    ['compensationYuan', '已赔付(元)', (i) => i.outreach.compensationYuan],
  ];
  return { keys: cols.map((c) => c[0]), headers: cols.map((c) => c[1]), rows: r.items.map((i) => cols.map((c) => c[2](i))) };
}

export function exceptionTable(r: ExceptionReport): Table {
  return {
    keys: ['day', 'type', 'carrier', 'opened', 'resolved'],
    headers: ['日期', '异常类型', '快递', '新增', '已解决'],
    rows: r.items.map((i) => [i.day, TYPE_LABELS[i.type as keyof typeof TYPE_LABELS] ?? i.type, i.carrier ? carrierName(i.carrier) : '未发货', i.opened, i.resolved]),
  };
}

export type CsvEncoding = 'utf8' | 'gb18030';

/** CSV that opens in Chinese Excel: UTF-8 with a BOM, or GB18030 (no BOM) on request; CRLF line ends. */
export function encodeCsv(t: Table, encoding: CsvEncoding = 'utf8'): Buffer {
  const text = [t.headers, ...t.rows].map((r) => r.map((v) => csvEscape(v === null ? '' : String(v))).join(',')).join('\r\n') + '\r\n';
  return encoding === 'gb18030' ? iconv.encode(text, 'gb18030') : Buffer.from(`\ufeff${text}`, 'utf8');
}

/** A plain-text table for the terminal. */
export function renderTable(t: Table): string {
  const cells = [t.keys, ...t.rows.map((r) => r.map((v) => (v === null ? '—' : String(v))))];
  const widths = t.keys.map((_, i) => Math.max(...cells.map((r) => [...r[i]!].length)));
  return cells.map((r) => r.map((v, i) => v + ' '.repeat(widths[i]! - [...v].length)).join('  ').trimEnd()).join('\n') + '\n';
}
