import { parseCarrierTime } from '../../domain/local-time.js';
import type { DroppedEvent, NormalizedEvent, TrackResult } from '../carrier.js';
import { unifyHubSpellings } from '../carrier-reading.js';
import { extractHub } from '../hub.js';
import { clip, isRecord, sortAscending, textOf } from '../http.js';
import { decideStatus, type Decision } from '../decide-status.js';
import { SEVENTEEN_STAGE, SEVENTEEN_SUB_STATUS, seventeenStatus } from './status-map.js';

/** Item-level rejection codes (tracking-apis.md §1c, from clients mirroring the v2 docs). */
export const ST_ALREADY_REGISTERED = -18019901;
export const ST_NOT_REGISTERED = -18019902;
export const ST_CARRIER_NOT_DETECTED = -18019903;
export const ST_QUOTA_EXHAUSTED = -18019908;
export const ST_NO_INFO_YET = -18019909;

/** One `gettrackinfo` accepted item → TrackResult. */
export function parseAcceptedItem(item: Record<string, unknown>, trackingNo: string, timeZone: string): TrackResult {
  const info = item.track_info;
  if (!isRecord(info)) return { kind: 'malformed', trackingNo, error: 'track_info missing', raw: clip(JSON.stringify(item)) };
  const latest = isRecord(info.latest_status) ? info.latest_status : {};
  const summaryStatus = seventeenStatus(latest.status, latest.sub_status);
  const tracking = isRecord(info.tracking) ? info.tracking : {};
  const providers = Array.isArray(tracking.providers) ? tracking.providers : [];

  const events: NormalizedEvent[] = [];
  const dropped: DroppedEvent[] = [];
  for (const [pi, p] of providers.entries()) {
    if (!isRecord(p) || (p.events !== undefined && p.events !== null && !Array.isArray(p.events))) {
      return { kind: 'malformed', trackingNo, error: `tracking.providers[${pi}] malformed`, raw: clip(JSON.stringify(item)) };
    }
    for (const [ei, e] of ((p.events as unknown[] | null | undefined) ?? []).entries()) {
      if (!isRecord(e)) return { kind: 'malformed', trackingNo, error: `providers[${pi}].events[${ei}] is not an object`, raw: clip(JSON.stringify(item)) };
      // time_utc is unambiguous; time_iso carries an offset; a bare local time is read in the business zone.
      const occurredAt = parseCarrierTime(e.time_utc, timeZone) ?? parseCarrierTime(e.time_iso, timeZone);
      if (!occurredAt) {
        dropped.push({ where: `providers[${pi}].events[${ei}]`, error: 'no parseable time_utc/time_iso', raw: clip(JSON.stringify(e)) });
        continue;
      }
      const text = textOf(e.description).trim();
      const sub = typeof e.sub_status === 'string' ? e.sub_status : null;
      const stage = typeof e.stage === 'string' ? e.stage : null;
      const location = textOf(e.location).trim() || null;
      const decided = eventStatus(sub, stage, text);
      events.push({
        occurredAt,
        status: decided.status,
        rule: decided.rule,
        hub: decided.status === 'info_received' ? null : extractHub(text, location),
        location,
        text,
        providerCode: sub ?? stage,
        raw: e,
      });
    }
  }
  if (events.length === 0 && dropped.length) {
    return { kind: 'malformed', trackingNo, error: `every event dropped: ${dropped[0]!.where} ${dropped[0]!.error}`, raw: clip(JSON.stringify(item)) };
  }
  if (events.length === 0 && (latest.status === 'NotFound' || latest.status == null)) {
    return { kind: 'not_found', trackingNo, message: textOf(latest.sub_status) || 'NotFound' };
  }
  const flags: string[] = [];
  // 17TRACK has no separate alert codes; its Expired status (运输过久) is the closest signal.
  if (latest.status === 'Expired') flags.push('seventeenTrack:Expired');
  return { kind: 'ok', trackingNo, events: unifyHubSpellings(sortAscending(events)), summaryStatus, flags, ...(dropped.length ? { dropped } : {}) };
}

/**
 * Evidence order: a specific `sub_status` (InTransit_Arrival), then `stage` (Delivered), then a
 * `…_Other` sub-status (coarse: it only names the main status). Events with neither are read from
 * the English (or Chinese) description.
 */
function eventStatus(sub: string | null, stage: string | null, text: string): Decision {
  const fromSub = sub ? SEVENTEEN_SUB_STATUS[sub] : undefined;
  const fromStage = stage ? SEVENTEEN_STAGE[stage] : undefined;
  return decideStatus(
    [
      fromSub ? { status: fromSub, rule: `17track:sub_status=${sub}`, specific: !sub!.endsWith('_Other') } : null,
      fromStage ? { status: fromStage, rule: `17track:stage=${stage}`, specific: true } : null,
    ],
    text,
  );
}
