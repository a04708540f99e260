import { createHash } from 'node:crypto';
import { z } from 'zod';
import { PROVIDERS, ProviderError, type NormalizedEvent, type ProviderName, type TrackResult } from '../carriers/carrier.js';
import type { Config } from '../config/schema.js';
import { lateShipmentPolicyFor } from '../config/load.js';
import type { Sql } from '../db/client.js';
import {
  applyShipmentUpdates,
  insertEvents,
  loadShipmentsForPoll,
  quarantineReplies,
  type QuarantineRow,
  raiseAlert,
  type EventRow,
  type InsertedEvent,
  type ShipmentPollRow,
  type ShipmentUpdate,
} from '../db/queries/tracking.js';
import { addHours, MINUTE_MS } from '../domain/clock.js';
import { eventKey } from '../domain/event-key.js';
import { foldEvents } from '../domain/fold-events.js';
import { nextPollAt } from '../domain/poll-policy.js';
import type { Platform } from '../config/schema.js';
import { Coalescer } from './coalescer.js';
import { defineJob, type Deps, type FollowUp, type JobContext } from './define-job.js';

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

function shipDeadline(s: ShipmentPollRow, config: Config): Date | null {
  if (s.collectedAt) return null;
  if (s.orderType !== 'normal') return s.promisedShipBy;
  return addHours(s.paidAt, lateShipmentPolicyFor(config, s.platform as Platform).shipWithinHours);
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
): Promise<IngestSummary> {
  const [summary] = await ingestGroups(deps, provider, [items], now);
  return summary!;
}

function emptySummary(polled: number): IngestSummary {
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
async function ingestGroups(
  deps: Pick<Deps, 'sql' | 'config' | 'metrics'>,
  provider: ProviderName,
  groups: IngestItem[][],
  now: Date,
): Promise<IngestSummary[]> {
  const { sql } = deps;
  const summaries = groups.map((g) => emptySummary(g.length));
  const items = groups.flatMap((list, group) => list.map((item) => ({ ...item, group })));
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
  if (rows.length === 0) {
    // Nothing to insert: the update (and quarantine rows) need no transaction around them.
    folded = foldBatch(deps.config, provider, items, [], summaries, now);
    await quarantineReplies(sql, folded.quarantine, now);
    await applyShipmentUpdates(sql, folded.updates, now);
  } else {
    folded = await pipelinedTransaction(
      sql,
      (tx) => insertEvents(tx, rows, now),
      (tx, inserted) => {
        const f = foldBatch(deps.config, provider, items, inserted, summaries, now);
        return { result: f, statements: [quarantineReplies(tx, f.quarantine, now), applyShipmentUpdates(tx, f.updates, now)] };
      },
    );
  }
  // Counted once committed (a rolled-back batch is retried and counted then).
  deps.metrics.eventsIngested.inc({ provider }, summaries.reduce((n, s) => n + s.newEvents, 0));
  for (const result of folded.results) deps.metrics.pollsTotal.inc({ provider, result });
  if (folded.quarantine.length) deps.metrics.quarantined.inc({ provider, kind: 'malformed' }, folded.quarantine.length);
  return summaries;
}

interface FoldedBatch {
  updates: ShipmentUpdate[];
  quarantine: QuarantineRow[];
  /** Poll result per item, for the metrics. */
  results: string[];
}

/**
 * Once the insert has said which events are new: each shipment's state folded from exactly those,
 * its next poll, its error fields; malformed replies to quarantine; counters into its group's summary.
 */
function foldBatch(
  config: Config,
  provider: ProviderName,
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
  const out: FoldedBatch = { updates: [], quarantine: [], results: [] };
  for (const { shipment: s, result, group } of items) {
    const summary = summaries[group]!;
    const fresh = changed.get(s.id) ?? [];
    if (fresh.length) {
      summary.changed.set(s.id, fresh);
      summary.newEvents += fresh.length;
    }
    const state = foldEvents(s, fresh);
    let errKind: string | null = null;
    let err: string | null = null;
    let flags = s.providerFlags;
    switch (result.kind) {
      case 'ok':
        flags = result.flags;
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
    out.results.push(result.kind === 'error' ? result.errorKind : result.kind);
    const flagsChanged = flags.join(',') !== s.providerFlags.join(',');
    out.updates.push({
      id: s.id,
      ...state,
      providerFlags: flags,
      nextPollAt: nextPollAt(
        { ...state, markedShippedAt: s.markedShippedAt, shipDeadline: shipDeadline({ ...s, ...state }, config), chased: s.chased, hadError: errKind !== null },
        now,
        config.polling,
        floor,
      ),
      polled: result.kind !== 'error',
      pollErrorKind: errKind,
      pollError: err,
      recheck: fresh.length > 0 || flagsChanged,
    });
  }
  return out;
}

/**
 * A transaction in two round trips instead of sql.begin's four: BEGIN goes down the wire with the first
 * statement, COMMIT with the last ones (postgres.js pipelines queries on a reserved connection). `last`
 * gets the first statement's result and returns its statements, already issued (each query function
 * must send its query without awaiting anything else first), and the caller's result.
 * If a last statement fails, Postgres answers the COMMIT of the aborted transaction with a rollback and
 * the statement's error is thrown; if the first fails, nothing else is sent and the transaction is
 * rolled back.
 */
async function pipelinedTransaction<F, R>(
  sql: Sql,
  first: (tx: Sql) => Promise<F>,
  last: (tx: Sql, firstResult: F) => { result: R; statements: Promise<unknown>[] },
): Promise<R> {
  const tx = await sql.reserve();
  let open = false;
  try {
    const begun = tx`begin`.execute();
    open = true;
    const [b, f] = await Promise.allSettled([begun, first(tx)]);
    if (b.status === 'rejected') throw b.reason;
    if (f.status === 'rejected') throw f.reason;
    const { result, statements } = last(tx, f.value);
    // A query goes on the wire in the order its handler runs, a few microtask hops after its function
    // awaits it; COMMIT must not overtake them, so it is sent once the microtask queue has drained.
    await new Promise((r) => setImmediate(r));
    const outcomes = await Promise.allSettled([...statements, tx`commit`.execute()]);
    open = false;
    const failed = outcomes.find((o) => o.status === 'rejected');
    if (failed) throw failed.reason;
    return result;
  } catch (err) {
    if (open) await tx`rollback`.catch(() => {});
    throw err;
  } finally {
    tx.release();
  }
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
    raw: e.raw,
  };
}

/** Kuaidi100 locks a number queried more than 48 times in 24 h; the floor and the cap hold across restarts. */
function allowedNow(s: ShipmentPollRow, now: Date, floorMinutes: number, cap: number | null): boolean {
  if (s.lastPolledAt && now.getTime() - s.lastPolledAt.getTime() < floorMinutes * MINUTE_MS) return false;
  if (cap !== null) {
    const recent = s.recentPolls.filter((p) => now.getTime() - p.getTime() < 24 * 60 * MINUTE_MS).length;
    if (recent >= cap) return false;
  }
  return true;
}

/**
 * Daily quota (Kdniao 1002): take up to `n` calls from today's budget in one locked read-modify-write, so
 * workers racing for the last calls never overshoot it; returns how many were granted.
 */
export async function takeQuota(sql: Sql, provider: string, day: string, n: number, quota: number): Promise<number> {
  await sql`insert into provider_usage (provider, day, calls) values (${provider}, ${day}, 0) on conflict (provider, day) do nothing`;
  const [row] = await sql`
    with cur as (select calls from provider_usage where provider = ${provider} and day = ${day} for update)
    update provider_usage u set calls = greatest(u.calls, least(u.calls + ${n}, ${quota}))
    from cur where u.provider = ${provider} and u.day = ${day}
    returning u.calls - cur.calls as granted`;
  return Number(row?.granted ?? 0);
}

/** What one poll job hands to the shared ingest flush. */
interface IngestInput {
  items: IngestItem[];
  now: Date;
  /** The job's id and enqueue: detection of what changed is enqueued before the job completes. */
  jobId: string;
  enqueue: JobContext['enqueue'];
}

/** Postgres rejected the statement (bad data), as opposed to a lost connection. */
const isPostgresError = (err: unknown) => err instanceof Error && err.name === 'PostgresError';

/**
 * Per process (per Deps): the poll jobs a worker runs concurrently share their loads and their writes,
 * one statement per flush instead of one per job (see Coalescer).
 */
interface PollBatching {
  load: Coalescer<number[], ShipmentPollRow[]>;
  ingest: Map<ProviderName, Coalescer<IngestInput, IngestSummary>>;
}

const batching = new WeakMap<Deps, PollBatching>();

/** Shipments loaded in one flush (a job brings at most 100). */
const LOAD_MAX = 1000;
/** Shipments written in one flush: ~8 events each, one statement per table. */
const INGEST_MAX = 500;

function pollBatching(deps: Deps): PollBatching {
  let b = batching.get(deps);
  if (!b) {
    b = {
      load: new Coalescer(
        async (inputs) => {
          const rows = await loadShipmentsForPoll(deps.sql, [...new Set(inputs.flat())]);
          const byId = new Map(rows.map((r) => [r.id, r]));
          return inputs.map((ids) => [...new Set(ids)].flatMap((id) => byId.get(id) ?? []));
        },
        // One load at a time: the next one collects the jobs that start meanwhile.
        { maxWeight: LOAD_MAX, maxInFlight: 1, weight: (ids) => ids.length },
      ),
      ingest: new Map(),
    };
    batching.set(deps, b);
  }
  return b;
}

/**
 * The shared write of one provider's poll jobs: events, shipments and quarantine in one transaction,
 * then one detection job (and one chaser notice job) for every shipment of the flush that changed.
 * Two flushes may run at once (never with a shipment in common), so the next batch is written while
 * the previous one commits.
 */
function ingestBatcher(deps: Deps, provider: ProviderName): Coalescer<IngestInput, IngestSummary> {
  const b = pollBatching(deps);
  let c = b.ingest.get(provider);
  if (!c) {
    c = new Coalescer(
      async (inputs) => {
        // Written as of the batch's latest poll instant (its jobs polled within milliseconds of each other).
        const now = new Date(Math.max(...inputs.map((i) => i.now.getTime())));
        const summaries = await ingestGroups(deps, provider, inputs.map((i) => i.items), now);
        await enqueueFollowUps(inputs, summaries);
        return summaries;
      },
      {
        maxWeight: INGEST_MAX,
        maxInFlight: 2,
        weight: (i) => i.items.length,
        keys: (i) => i.items.map((it) => it.shipment.id),
        isolate: isPostgresError,
      },
    );
    b.ingest.set(provider, c);
  }
  return c;
}

/**
 * New facts: judge the changed shipments now, so a delivered parcel resolves within one poll; chased
 * parcels with new scans: tell the customer within this cycle. One job for the whole flush; its id is
 * the first poll job's id plus a digest of the shipment ids, so a re-enqueue of the same work is a no-op
 * while a different set never collides with it (a flush of one job keeps `detect-<poll job id>`).
 */
async function enqueueFollowUps(inputs: IngestInput[], summaries: IngestSummary[]): Promise<void> {
  const byEnqueue = new Map<JobContext['enqueue'], { jobIds: string[]; changed: number[]; chased: number[] }>();
  inputs.forEach((input, i) => {
    const summary = summaries[i]!;
    if (summary.changed.size === 0) return;
    let g = byEnqueue.get(input.enqueue);
    if (!g) byEnqueue.set(input.enqueue, (g = { jobIds: [], changed: [], chased: [] }));
    g.jobIds.push(input.jobId);
    for (const { shipment } of input.items) {
      if (!summary.changed.has(shipment.id)) continue;
      g.changed.push(shipment.id);
      if (shipment.chased) g.chased.push(shipment.id);
    }
  });
  for (const [enqueue, g] of byEnqueue) {
    const changed = [...new Set(g.changed)].sort((a, b) => a - b);
    const chased = [...new Set(g.chased)].sort((a, b) => a - b);
    const tag = g.jobIds.length === 1 ? g.jobIds[0]! : `${g.jobIds[0]!}-${createHash('sha1').update(changed.join(',')).digest('hex').slice(0, 12)}`;
    const followUps: FollowUp[] = [{ job: 'detect-exceptions', payload: { shipmentIds: changed }, jobId: `detect-${tag}` }];
    if (chased.length) followUps.push({ job: 'notify-chasers', payload: { shipmentIds: chased }, jobId: `chasers-${tag}` });
    await enqueue(followUps);
  }
}

export const pollTracking = defineJob({
  name: 'poll-tracking',
  queue: 'tracking',
  payload: z.object({ provider: z.enum(PROVIDERS), shipmentIds: z.array(z.number().int().positive()).min(1).max(100) }),
  // attempts and backoff: providers.retry (the runtime's default)
  async handle({ provider: providerName, shipmentIds }, deps, ctx) {
    const { sql, clock, config, providers, log } = deps;
    const now = clock.now();
    const provider = providers.get(providerName);
    if (!provider) throw new Error(`provider ${providerName} is not enabled`);
    const pcfg = config.providers[providerName];
    const cap = providerName === 'kuaidi100' ? config.providers.kuaidi100.maxQueriesPer24h : null;
    const all = await pollBatching(deps).load.submit(shipmentIds);
    let due = all.filter((s) => allowedNow(s, now, pcfg.minPollIntervalMinutes, cap) && s.status !== 'delivered');
    const deferred = all.filter((s) => !due.includes(s));
    if (providerName === 'kdniao' && config.providers.kdniao.requestType === '1002') {
      const granted = await takeQuota(sql, 'kdniao-1002', now.toISOString().slice(0, 10), due.length, config.providers.kdniao.dailyQuota);
      if (granted < due.length) {
        await raiseAlert(sql, 'quota:kdniao-1002', `Kdniao 1002 daily quota of ${config.providers.kdniao.dailyQuota} used up`, now);
        deferred.push(...due.slice(granted));
        due = due.slice(0, granted);
      }
    }
    if (deferred.length) {
      // Too soon for this number (floor or 24 h cap): keep it due at the earliest allowed instant.
      await sql`update shipment_schedule c set next_poll_at = greatest(coalesce(s.last_polled_at, ${now}::timestamptz) + ${pcfg.minPollIntervalMinutes} * interval '1 minute', ${now}::timestamptz + interval '1 minute')
                from shipments s
                where s.id = c.shipment_id and c.shipment_id = any(${sql.array(deferred.map((s) => s.id))}::bigint[]) and c.next_poll_at is not null`;
    }
    const items: IngestItem[] = [];
    const requests = due.map((s) => ({
      shipmentId: s.id,
      carrier: s.carrier,
      trackingNo: s.trackingNo,
      phone: s.phone,
      paidAt: s.paidAt,
      markedShippedAt: s.markedShippedAt,
    }));
    for (let i = 0; i < requests.length; i += provider.maxBatch) {
      const chunk = requests.slice(i, i + provider.maxBatch);
      const chunkRows = due.slice(i, i + provider.maxBatch);
      try {
        const results = await provider.track(chunk, { clock, log: ctx.log, timeZone: config.timezone });
        deps.metrics.providerRequests.inc({ provider: providerName, result: 'ok' });
        const byNo = new Map(results.map((r) => [r.trackingNo, r]));
        for (const s of chunkRows) {
          items.push({
            shipment: s,
            result: byNo.get(s.trackingNo) ?? { kind: 'malformed', trackingNo: s.trackingNo, error: 'number missing from the provider reply', raw: '' },
          });
        }
      } catch (err) {
        if (!(err instanceof ProviderError)) throw err;
        // A breaker rejection never left the process: not a provider failure.
        deps.metrics.providerRequests.inc({ provider: providerName, result: err.opts.circuitOpen ? 'circuit_open' : err.kind });
        if (err.kind === 'transient') {
          // Store what earlier chunks brought, then let BullMQ retry this job with backoff.
          if (items.length) await ingestBatcher(deps, providerName).submit({ items, now, jobId: ctx.jobId, enqueue: ctx.enqueue });
          throw err;
        }
        if (err.kind === 'auth' || err.kind === 'quota') {
          const created = await raiseAlert(sql, `${err.kind}:${providerName}`, err.message, now);
          if (created) log.error({ provider: providerName, err }, `provider ${err.kind} failure: polling of this provider is backing off`);
        } else {
          await quarantineReplies(sql, [{ shipmentId: chunkRows[0]?.id ?? null, provider: providerName, errorKind: 'malformed', error: err.message, raw: err.opts.raw ?? null }], now);
          deps.metrics.quarantined.inc({ provider: providerName, kind: 'call' });
          log.warn({ provider: providerName, err }, 'malformed provider reply quarantined');
        }
        for (const s of chunkRows) items.push({ shipment: s, result: { kind: 'error', errorKind: err.kind, message: err.message } });
      }
    }
    // The shared flush also enqueues detection of what changed (see enqueueFollowUps).
    const summary = items.length ? await ingestBatcher(deps, providerName).submit({ items, now, jobId: ctx.jobId, enqueue: ctx.enqueue }) : emptySummary(0);
    return {
      summary: {
        polled: due.length,
        deferred: deferred.length,
        newEvents: summary.newEvents,
        notFound: summary.notFound,
        rejected: summary.rejected,
        malformed: summary.malformed,
        errors: summary.errors,
        ...Object.fromEntries(Object.entries(summary.errorsByKind).map(([k, v]) => [`errors.${k}`, v])),
      },
    };
  },
});
