import type { Config } from '../config/schema.js';
import { MINUTE_MS } from './clock.js';
import { TERMINAL_STATUSES, type Status } from './status.js';

export interface PollFacts {
  status: Status;
  collectedAt: Date | null;
  markedShippedAt: Date | null;
  lastEventAt: Date | null;
  /** Ship deadline of the order (rules/late-shipment.ts shipDeadlineAt); only heeded while uncollected. */
  shipDeadline: Date | null;
  chased: boolean;
  hadError: boolean;
}

/**
 * The instant an uncollected parcel comes near its ship deadline (polling.nearDeadlineHours before it): polling
 * tightens (nextPollAt), pushes no longer suffice (pushCoverage). jobs/plan-polls.ts ranks by the same window.
 */
export function nearDeadlineFrom(shipDeadline: Date, nearDeadlineHours: number): number {
  return shipDeadline.getTime() - nearDeadlineHours * 60 * MINUTE_MS;
}

/**
 * When to poll a shipment next: adaptive to its state, never below the provider's per-number floor
 * (Kuaidi100 locks numbers queried more than every 30 min). NULL = stop polling.
 */
export function nextPollAt(f: PollFacts, now: Date, cfg: Config['polling'], floorMinutes: number): Date | null {
  if (TERMINAL_STATUSES.has(f.status)) return null;
  const since = f.lastEventAt ?? f.markedShippedAt;
  if (since && now.getTime() - since.getTime() > cfg.stopAfterDays * 1440 * MINUTE_MS) return null;
  let minutes: number;
  if (f.hadError) minutes = cfg.errorBackoffMinutes;
  else if (!f.collectedAt) {
    const nearDeadline = f.shipDeadline !== null && now.getTime() >= nearDeadlineFrom(f.shipDeadline, cfg.nearDeadlineHours);
    minutes = nearDeadline ? cfg.nearDeadlineMinutes : cfg.notCollectedMinutes;
  } else if (f.status === 'out_for_delivery' || f.status === 'at_pickup_point') minutes = cfg.outForDeliveryMinutes;
  else if (f.status === 'problem' || f.status === 'failed_attempt' || f.status === 'rejected' || f.status === 'returning') {
    minutes = cfg.problemMinutes;
  } else minutes = cfg.inTransitMinutes;
  if (f.chased && !f.hadError) minutes = Math.min(minutes, cfg.chasedMinutes);
  return new Date(now.getTime() + Math.max(minutes, floorMinutes) * MINUTE_MS);
}

/** What polling needs to know about a shipment's push subscription. */
export interface PushFacts {
  /** The mode of the shipment's provider (config providers.<p>.mode; the sandbox only polls). */
  mode: 'poll' | 'push' | 'both';
  /** Subscription state (db/schema/push.ts), null when the shipment has none yet. */
  state: string | null;
  subscribedAt: Date | null;
  lastPushAt: Date | null;
  collectedAt: Date | null;
  /** Ship deadline of the order (as in PollFacts); only heeded while uncollected. */
  shipDeadline: Date | null;
}

/** Why a shipment of a push-mode provider is polled anyway. */
export type FallbackReason = 'unsubscribed' | 'silent' | 'deadline';

export type Coverage =
  | { poll: true; fallback: FallbackReason | null }
  /** Pushes cover it: no poll; look again at `until` (when it would fall silent or near its deadline). */
  | { poll: false; until: Date };

/**
 * Whether a due shipment is polled or left to its pushes. Poll and both modes always poll (no fallback).
 * In push mode a shipment is polled when it is not subscribed (failed, aborted, key refused, not yet),
 * when no push came for `fallbackAfterHours` since the last one (or since subscribing), and always
 * while uncollected within `nearDeadlineHours` of its ship deadline: the 72-hour verdict must rest on a
 * fresh query, not on a push that may be late.
 */
export function pushCoverage(f: PushFacts, now: Date, cfg: { fallbackAfterHours: number; nearDeadlineHours: number }): Coverage {
  if (f.mode !== 'push') return { poll: true, fallback: null };
  if (f.state !== 'subscribed') return { poll: true, fallback: 'unsubscribed' };
  const hour = 60 * MINUTE_MS;
  const deadlineWatch = !f.collectedAt && f.shipDeadline ? nearDeadlineFrom(f.shipDeadline, cfg.nearDeadlineHours) : Infinity;
  if (now.getTime() >= deadlineWatch) return { poll: true, fallback: 'deadline' };
  const since = Math.max(f.lastPushAt?.getTime() ?? -Infinity, f.subscribedAt?.getTime() ?? -Infinity);
  const silentAt = since + cfg.fallbackAfterHours * hour;
  if (!Number.isFinite(since) || now.getTime() >= silentAt) return { poll: true, fallback: 'silent' };
  return { poll: false, until: new Date(Math.min(silentAt, deadlineWatch)) };
}
