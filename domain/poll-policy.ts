import type { Config } from '../config/schema.js';
import { MINUTE_MS } from './clock.js';
import { TERMINAL_STATUSES, type Status } from './status.js';

export interface PollFacts {
  status: Status;
  collectedAt: Date | null;
  markedShippedAt: Date | null;
  lastEventAt: Date | null;
  /** Ship deadline of the order (paid + 72 h, or the promise), when still uncollected. */
  shipDeadline: Date | null;
  chased: boolean;
  hadError: boolean;
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
    const nearDeadline =
      f.shipDeadline !== null && f.shipDeadline.getTime() - now.getTime() <= cfg.nearDeadlineHours * 60 * MINUTE_MS;
    minutes = nearDeadline ? cfg.nearDeadlineMinutes : cfg.notCollectedMinutes;
  } else if (f.status === 'out_for_delivery' || f.status === 'at_pickup_point') minutes = cfg.outForDeliveryMinutes;
  else if (f.status === 'problem' || f.status === 'failed_attempt' || f.status === 'rejected' || f.status === 'returning') {
    minutes = cfg.problemMinutes;
  } else minutes = cfg.inTransitMinutes;
  if (f.chased && !f.hadError) minutes = Math.min(minutes, cfg.chasedMinutes);
  return new Date(now.getTime() + Math.max(minutes, floorMinutes) * MINUTE_MS);
}
