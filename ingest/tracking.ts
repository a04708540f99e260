/**
 * Turning a provider's reply into stored state: the new events (and only those, database-enforced),
 * each shipment's status folded from them, its next poll, its poll error fields, bad replies quarantined.
 *
 * Every source of tracking facts goes through `ingestResults`: the poll job (jobs/poll-tracking.ts,
 * batched by ingest/tracking-batch.ts), provider pushes, and the benchmark. A push is not a poll
 * (`IngestOptions.source`): it stamps last_pushed_at, never the poll counters the per-number caps read.
 */
import type { Sql } from '../db/client.js';
import type { NormalizedEvent, ProviderName, TrackResult } from '../carriers/carrier.js';
import type { Config } from '../config/schema.js';
import { needsStorable, storableText } from './text.js';
import { pipelinedTransaction } from '../db/pipelined-transaction.js';
import {
  applyShipmentUpdates,
  insertEvents,
  quarantineReplies,
  type QuarantineRow,
  type EventRow,
  type InsertedEvent,
  type ShipmentPollRow,
  type ShipmentUpdate,
} from '../db/queries/tracking.js';
import { eventKey } from '../domain/event-key.js';
import { carrierAsked } from '../domain/facts.js';
import { foldEvents } from '../domain/fold-events.js';
import { nextPollAt } from '../domain/poll-policy.js';
import type { Deps } from '../jobs/define-job.js';
import { shipDeadlineAt } from '../rules/late-shipment.js';

/**
 * Where the answers came from. `poll`: our query (last_polled_at, recent_polls, poll_count, the poll error
 * fields and the next poll move). `push`: the provider's push (last_pushed_at moves; the poll counters, which
 * Kuaidi100's per-number query cap and the poll floor read, and the poll error fields stay; the next poll is
 * kept — a planned poll's lease included — unless the parcel no longer needs polling). Both stamp
 * last_answer_at.
 */
export type IngestSource = 'poll' | 'push';

export interface IngestOptions {
  source?: IngestSource;
  /**
   * More statements for the same transaction, issued once the insert has said which events are new (push
   * receipts and subscriptions): they commit with the events or not at all. Each must be sent without
   * awaiting anything else first (see db/pipelined-transaction.ts).
   */
  within?: (tx: Sql, summaries: IngestSummary[]) => Promise<unknown>[];
}

export interface IngestItem {
  shipment: ShipmentPollRow;
  result: TrackResult | { kind: 'error'; errorKind: string; message: string };
}

export interface IngestSummary {
  polled: number;
  newEvents: number;
  notFound: number;
  rejected: number;
  malformed: number;
  errors: number;
  /** Provider call failures by kind (transient, auth, quota, malformed). */
  errorsByKind: Record<string, number>;
  /** Shipments that received at least one new event, with exactly those events. */
  changed: Map<number, InsertedEvent[]>;
}

/**
 * Store one batch of provider answers: new events only (database-enforced), shipment state folded from
 * exactly those, next poll scheduled, bad replies quarantined. Used by poll jobs and the benchmark.
 */
export async function ingestResults(
  deps: Pick<Deps, 'sql' | 'config' | 'metrics'>,
  provider: ProviderName,
  items: IngestItem[],
  now: Date,
  opts: IngestOptions = {},
): Promise<IngestSummary> {
  const [summary] = await ingestGroups(deps, provider, [items], now, opts);
  return summary!;
}

export function emptySummary(polled: number): IngestSummary {
  return { polled, newEvents: 0, notFound: 0, rejected: 0, malformed: 0, errors: 0, errorsByKind: {}, changed: new Map() };
}

/**
 * ingestResults for several poll jobs at once (one summary per group): one event insert and one
 * shipment update for all of them. A shipment may appear in one group only (the coalescer sees to it).
 *
 * The event insert, the quarantine rows and the shipment update commit together: the update folds
 * exactly the events the insert reports as new, so if the update were lost after the insert committed,
 * a retry would find those events already stored and never fold them into the shipment's state.
 * Rows are written in shipment id order (detection locks shipments in id order too).
 */
export async function ingestGroups(
  deps: Pick<Deps, 'sql' | 'config' | 'metrics'>,
  provider: ProviderName,
  groups: IngestItem[][],
  now: Date,
  opts: IngestOptions = {},
): Promise<IngestSummary[]> {
  const { sql } = deps;
  const source = opts.source ?? 'poll';
  const summaries = groups.map((g) => emptySummary(g.length));
  const items = groups.flatMap((list, group) => list.map((item) => ({ ...item, result: storableResult(item.result), group })));
  items.sort((a, b) => a.shipment.id - b.shipment.id);
  const rows: EventRow[] = [];
  for (const { shipment, result } of items) {
    if (result.kind !== 'ok') continue;
    const seen = new Set<string>();
    for (const e of result.events) {
      const key = eventKey(e.occurredAt, e.text);
      if (seen.has(key)) continue; // providers sometimes repeat a line inside one reply
      seen.add(key);
      rows.push(toRow(shipment.id, key, e, provider));
    }
  }
  let folded: FoldedBatch;
  if (rows.length === 0 && !opts.within) {
    // Nothing to insert: the update (and quarantine rows) need no transaction around them.
    folded = foldBatch(deps.config, provider, source, items, [], summaries, now);
    await quarantineReplies(sql, folded.quarantine, now);
    await applyShipmentUpdates(sql, folded.updates, now, source);
  } else {
    folded = await pipelinedTransaction(
      sql,
      (tx) => insertEvents(tx, rows, now),
      (tx, inserted) => {
        const f = foldBatch(deps.config, provider, source, items, inserted, summaries, now);
        const statements = [quarantineReplies(tx, f.quarantine, now), applyShipmentUpdates(tx, f.updates, now, source), ...(opts.within?.(tx, summaries) ?? [])];
        return { result: f, statements };
      },
    );
  }
  // Counted once committed (a rolled-back batch is retried and counted then).
  deps.metrics.eventsIngested.inc({ provider }, summaries.reduce((n, s) => n + s.newEvents, 0));
  for (const result of folded.results) deps.metrics.pollsTotal.inc({ provider, result });
  for (const q of folded.quarantine) deps.metrics.quarantined.inc({ provider, kind: q.errorKind });
  for (const [carrier, n] of folded.unclassified) deps.metrics.eventsUnclassified.inc({ provider, carrier }, n);
  return summaries;
}

interface FoldedBatch {
  updates: ShipmentUpdate[];
  quarantine: QuarantineRow[];
  /** Poll result per item, for the metrics. */
  results: string[];
  /** New events no rule or code could classify, by carrier (ops add rules for them: `events unclassified`). */
  unclassified: Map<string, number>;
}

/**
 * Once the insert has said which events are new: each shipment's state folded from exactly those,
 * its next poll, its error fields; malformed replies to quarantine; counters into its group's summary.
 */
function foldBatch(
  config: Config,
  provider: ProviderName,
  source: IngestSource,
  items: (IngestItem & { group: number })[],
  inserted: InsertedEvent[],
  summaries: IngestSummary[],
  now: Date,
): FoldedBatch {
  const floor = config.providers[provider].minPollIntervalMinutes;
  const changed = new Map<number, InsertedEvent[]>();
  for (const e of inserted) {
    let list = changed.get(e.shipmentId);
    if (!list) changed.set(e.shipmentId, (list = []));
    list.push(e);
  }
  const out: FoldedBatch = { updates: [], quarantine: [], results: [], unclassified: new Map() };
  for (const { shipment: s, result, group } of items) {
    const summary = summaries[group]!;
    const fresh = changed.get(s.id) ?? [];
    if (fresh.length) {
      summary.changed.set(s.id, fresh);
      summary.newEvents += fresh.length;
      const unknown = fresh.filter((e) => e.status === 'unknown').length;
      if (unknown) out.unclassified.set(s.carrier, (out.unclassified.get(s.carrier) ?? 0) + unknown);
    }
    const state = foldEvents(s, fresh);
    let errKind: string | null = null;
    let err: string | null = null;
    let flags = s.providerFlags;
    switch (result.kind) {
      case 'ok':
        flags = result.flags;
        // Single events the parser left out: the rest of the reply counts, each dropped one is quarantined with its reason.
        for (const d of result.dropped ?? []) {
          out.quarantine.push({ shipmentId: s.id, provider, errorKind: 'event_dropped', error: `${d.where}: ${d.error}`, raw: d.raw });
        }
        break;
      case 'not_found':
        summary.notFound++;
        break;
      case 'rejected':
        summary.rejected++;
        errKind = 'rejected';
        err = `${result.code}: ${result.message}`;
        break;
      case 'malformed':
        summary.malformed++;
        errKind = 'malformed';
        err = result.error;
        out.quarantine.push({ shipmentId: s.id, provider, errorKind: 'malformed', error: result.error, raw: result.raw });
        break;
      case 'error':
        summary.errors++;
        summary.errorsByKind[result.errorKind] = (summary.errorsByKind[result.errorKind] ?? 0) + 1;
        errKind = result.errorKind;
        err = result.message;
        break;
    }
    if (source === 'poll') out.results.push(result.kind === 'error' ? result.errorKind : result.kind);
    const flagsChanged = flags.join(',') !== s.providerFlags.join(',');
    out.updates.push({
      id: s.id,
      ...state,
      providerFlags: flags,
      nextPollAt: nextPollAt(
        { ...state, markedShippedAt: s.markedShippedAt, shipDeadline: shipDeadlineAt(s, config), chased: s.chased, hadError: errKind !== null },
        now,
        config.polling,
        floor,
      ),
      polled: result.kind !== 'error',
      pollErrorKind: errKind,
      pollError: err,
      // The carrier's first answer since the parcel was marked shipped makes it judgeable on carrier facts
      // (domain/facts.ts carrierAsked): judge it now even when the answer brought nothing new ("no scan yet").
      recheck: fresh.length > 0 || flagsChanged || (result.kind !== 'error' && !carrierAsked({ shipmentId: s.id, markedShippedAt: s.markedShippedAt, lastQueriedAt: s.lastAnswerAt })),
    });
  }
  return out;
}

/**
 * A reply whose texts Postgres can store (ingest/text.ts storableText): before this, one scan line with a NUL
 * failed the whole write every time, so the parcel was never tracked and its job failed on every poll.
 */
function storableResult(result: IngestItem['result']): IngestItem['result'] {
  if (result.kind !== 'ok' || !result.events.some((e) => needsStorable(e.text) || needsStorable(e.hub) || needsStorable(e.location))) return result;
  const clean = (s: string | null) => (s === null ? null : storableText(s));
  return { ...result, events: result.events.map((e) => ({ ...e, text: storableText(e.text), hub: clean(e.hub), location: clean(e.location) })) };
}

function toRow(shipmentId: number, key: string, e: NormalizedEvent, provider: string): EventRow {
  return {
    shipmentId,
    eventKey: key,
    occurredAt: e.occurredAt,
    status: e.status,
    hub: e.hub,
    location: e.location,
    text: e.text,
    provider,
    providerCode: e.providerCode,
    rule: e.rule ?? null,
    raw: e.raw,
  };
}

