import { parseSince, UNCLASSIFIED_DEFAULTS } from '../api/events.js';
import { plausibleTrackingNo } from '../api/shipments.js';
import { carrierName, normalizeCarrier } from '../carriers/carrier-codes.js';
import type { Config } from '../config/schema.js';
import { createDb } from '../db/client.js';
import { listUnclassified, showShipments, type ShipmentView, type UnclassifiedText } from '../db/queries/shipment-view.js';
import { type Clock } from '../domain/clock.js';
import { formatLocal } from '../domain/local-time.js';
import { renderTable } from './table.js';
import { choice, int, parseCommand, text, UsageError } from './cli-args.js';

export const EXPLAIN_USAGE = `  shipment show TRACKING_NO [--carrier C] [--format table|json]   every event with the rule that decided it, state, exceptions, next poll/check, poll failures
  events unclassified [--since 7d] [--limit N] [--format table|json]   event texts no rule classified, grouped, most frequent first
`;

/** Where a command writes (tests capture it). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: CliIo = { out: (t) => void process.stdout.write(t), err: (t) => void process.stderr.write(t) };

/** A command-line mistake: main.ts prints it with the usage and exits 64 (the one CLI usage error). */
export const ExplainUsageError = UsageError;

/** Instants for people: business-local "YYYY-MM-DD HH:mm", or "—". */
const local = (iso: string | null, tz: string) => (iso ? formatLocal(new Date(iso), tz) : '—');

/** One parcel explained: its state, why each event got its status, what is open, what happens next. */
export function renderShipment(v: ShipmentView, tz: string): string {
  const head = [
    `${v.trackingNo}  ${v.carrier} (${carrierName(v.carrier)})  orders ${v.orderIds.join(', ') || '—'}`,
    `  status       ${v.status} since ${local(v.statusSince, tz)}`,
    `  shipped      ${local(v.markedShippedAt, tz)} (seller)   collected ${local(v.collectedAt, tz)}   delivered ${local(v.deliveredAt, tz)}`,
    `  last hub     ${v.lastHub ?? '—'}`,
    `  next poll    ${v.nextPollAt ? local(v.nextPollAt, tz) : 'none (polling stopped)'}   next check ${v.nextCheckAt ? local(v.nextCheckAt, tz) : 'none'}`,
    `  last poll    ${local(v.lastPolledAt, tz)}${v.pollErrorKind ? `   error ${v.pollErrorKind}: ${v.pollError ?? ''}` : ''}${v.providerFlags.length ? `   flags ${v.providerFlags.join(',')}` : ''}`,
    // Only when it matters: a parcel whose poll jobs fail is polled alone and backs off (README "Reliability").
    ...(v.pollFailures > 0
      ? [`  poll failed  ${v.pollFailures} job(s) in a row, failed for good: polled alone, backing off up to 24 h; next poll above; a poll answer resets it`]
      : []),
  ].join('\n');
  const events = v.events.length
    ? renderTable(
        ['time', 'status', 'rule', 'code', 'hub', 'text'],
        v.events.map((e) => [local(e.occurredAt, tz), e.status, e.rule ?? (e.status === 'unknown' ? '(no rule matched)' : '(not recorded)'), e.providerCode ?? '', e.hub ?? '', e.text]),
        [16, 16, 28, 12, 20, 80],
      )
    : '  no events stored\n';
  const exceptions = v.exceptions.length
    ? renderTable(
        ['type', 'severity', 'status', 'opened', 'deadline', 'resolved', 'order'],
        v.exceptions.map((x) => [x.type, x.severity, x.status, local(x.openedAt, tz), local(x.deadlineAt, tz), x.resolvedAt ? `${local(x.resolvedAt, tz)} ${x.resolution ?? ''}`.trim() : '', `${x.orderId}${x.parcelLevel ? '' : ' (order-level)'}`]),
      )
    : '  none\n';
  return `${head}\n\nevents (${v.events.length}, times ${tz})\n${events}\nexceptions\n${exceptions}`;
}

export function renderUnclassified(items: UnclassifiedText[], since: Date, tz: string): string {
  const table = renderTable(
    ['count', 'parcels', 'carriers', 'providers', 'last seen', 'example', 'text'],
    items.map((i) => [String(i.count), String(i.parcels), i.carriers.join(','), i.providers.join(','), local(i.lastSeenAt, tz), `${i.example.carrier} ${i.example.trackingNo}`, i.text]),
    [8, 8, 20, 20, 16, 30, 100],
  );
  return `${table}${items.length} unclassified text(s) since ${formatLocal(since, tz)} (${tz})\n`;
}

/**
 * `parcelwatch shipment show` and `parcelwatch events unclassified`; returns the exit code (1 when the
 * tracking number is unknown). Look-backs count from `clock`.
 */
export async function explainCommand(cfg: Config, command: 'shipment' | 'events', args: string[], clock: Clock, io: CliIo = processIo): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseCommand(
    {
      command: `${command} ${sub ?? ''}`.trim(),
      options: {
        carrier: text(),
        format: choice(['table', 'json'], 'table'),
        since: text(UNCLASSIFIED_DEFAULTS.since),
        limit: int(1, UNCLASSIFIED_DEFAULTS.maxLimit, UNCLASSIFIED_DEFAULTS.limit),
      },
      positionals: command === 'shipment' ? ['TRACKING_NO?'] : [],
    },
    rest,
  );
  const format = values.format;
  const out = io.out;
  if (command === 'shipment') {
    if (sub !== 'show' || positionals.length !== 1) throw new ExplainUsageError('shipment show TRACKING_NO [--carrier C] [--format table|json]');
    const trackingNo = positionals[0]!.trim();
    const carrier = values.carrier === undefined ? undefined : normalizeCarrier(values.carrier);
    if (carrier === null) throw new ExplainUsageError(`unknown carrier ${JSON.stringify(values.carrier)}`);
    const items = plausibleTrackingNo(trackingNo) ? await withDb(cfg, (sql) => showShipments(sql, trackingNo, { carrier })) : [];
    if (items.length === 0) {
      io.err(`tracking number ${JSON.stringify(trackingNo)} not found${carrier ? ` for carrier ${carrier}` : ''}\n`);
      return 1;
    }
    out(format === 'json' ? `${JSON.stringify({ items }, null, 2)}\n` : items.map((v) => renderShipment(v, cfg.timezone)).join('\n'));
    return 0;
  }
  if (sub !== 'unclassified' || positionals.length) throw new ExplainUsageError('events unclassified [--since 7d] [--limit N] [--format table|json]');
  const since = parseSince(values.since, clock.now());
  if (!since) throw new ExplainUsageError(`--since ${values.since}: give a look-back like 7d / 36h / 90m or an ISO-8601 instant`);
  const limit = values.limit;
  const items = await withDb(cfg, (sql) => listUnclassified(sql, { since, limit }));
  out(format === 'json' ? `${JSON.stringify({ since: since.toISOString(), items }, null, 2)}\n` : renderUnclassified(items, since, cfg.timezone));
  return 0;
}

async function withDb<T>(cfg: Config, f: (sql: Awaited<ReturnType<typeof createDb>>['sql']) => Promise<T>): Promise<T> {
  const db = await createDb({ url: cfg.database.url, poolSize: 2 });
  try {
    return await f(db.sql);
  } finally {
    await db.close();
  }
}
