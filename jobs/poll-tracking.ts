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
import { defineJob, type Deps } from './define-job.js';

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
  const { sql, config } = deps;
  const floor = config.providers[provider].minPollIntervalMinutes;
  const summary: IngestSummary = { polled: items.length, newEvents: 0, notFound: 0, rejected: 0, malformed: 0, errors: 0, errorsByKind: {}, changed: new Map() };
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
  const inserted = await insertEvents(sql, rows, now);
  for (const e of inserted) {
    let list = summary.changed.get(e.shipmentId);
    if (!list) summary.changed.set(e.shipmentId, (list = []));
    list.push(e);
  }
  summary.newEvents = inserted.length;
  deps.metrics.eventsIngested.inc({ provider }, inserted.length);

  const updates: ShipmentUpdate[] = [];
  const quarantine: QuarantineRow[] = [];
  for (const { shipment: s, result } of items) {
    const fresh = summary.changed.get(s.id) ?? [];
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
        deps.metrics.quarantined.inc({ provider, kind: 'malformed' });
        quarantine.push({ shipmentId: s.id, provider, errorKind: 'malformed', error: result.error, raw: result.raw });
        break;
      case 'error':
        summary.errors++;
        summary.errorsByKind[result.errorKind] = (summary.errorsByKind[result.errorKind] ?? 0) + 1;
        errKind = result.errorKind;
        err = result.message;
        break;
    }
    deps.metrics.pollsTotal.inc({ provider, result: result.kind === 'error' ? result.errorKind : result.kind });
    const flagsChanged = flags.join(',') !== s.providerFlags.join(',');
    updates.push({
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
  await quarantineReplies(sql, quarantine, now);
  await applyShipmentUpdates(sql, updates, now);
  return summary;
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

/** Daily quota (Kdniao 1002): atomically take `n` calls from today's budget; returns how many were granted. */
async function takeQuota(sql: Sql, provider: string, day: string, n: number, quota: number): Promise<number> {
  const [row] = await sql`
    insert into provider_usage (provider, day, calls) values (${provider}, ${day}, 0)
    on conflict (provider, day) do update set calls = provider_usage.calls
    returning calls`;
  const used = Number(row!.calls);
  const grant = Math.max(0, Math.min(n, quota - used));
  if (grant > 0) await sql`update provider_usage set calls = calls + ${grant} where provider = ${provider} and day = ${day}`;
  return grant;
}

export const pollTracking = defineJob({
  name: 'poll-tracking',
  queue: 'tracking',
  payload: z.object({ provider: z.enum(PROVIDERS), shipmentIds: z.array(z.number().int().positive()).min(1).max(100) }),
  attempts: 5,
  async handle({ provider: providerName, shipmentIds }, deps, ctx) {
    const { sql, clock, config, providers, log } = deps;
    const now = clock.now();
    const provider = providers.get(providerName);
    if (!provider) throw new Error(`provider ${providerName} is not enabled`);
    const pcfg = config.providers[providerName];
    const cap = providerName === 'kuaidi100' ? config.providers.kuaidi100.maxQueriesPer24h : null;
    const all = await loadShipmentsForPoll(sql, shipmentIds);
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
      await sql`update shipments set next_poll_at = greatest(coalesce(last_polled_at, ${now}::timestamptz) + ${pcfg.minPollIntervalMinutes} * interval '1 minute', ${now}::timestamptz + interval '1 minute')
                where id = any(${sql.array(deferred.map((s) => s.id))}::bigint[]) and next_poll_at is not null`;
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
        deps.metrics.providerRequests.inc({ provider: providerName, result: err.kind });
        if (err.kind === 'transient') {
          // Store what earlier chunks brought, then let BullMQ retry this job with backoff.
          await ingestResults(deps, providerName, items, now);
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
    const summary = await ingestResults(deps, providerName, items, now);
    const changedIds = [...summary.changed.keys()];
    if (changedIds.length) {
      // New facts: judge just these shipments now, so a delivered parcel resolves within one poll.
      await ctx.enqueue([{ job: 'detect-exceptions', payload: { shipmentIds: changedIds }, jobId: `detect-${ctx.jobId}` }]);
      // Chased parcels with new scans: tell the customer within this cycle.
      const chasedIds = all.filter((s) => s.chased && summary.changed.has(s.id)).map((s) => s.id);
      if (chasedIds.length) await ctx.enqueue([{ job: 'notify-chasers', payload: { shipmentIds: chasedIds }, jobId: `chasers-${ctx.jobId}` }]);
    }
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
