import type { Config } from '../config/schema.js';
import type { RuleOutcome, SubjectFacts } from '../domain/facts.js';
import type { Status } from '../domain/status.js';
import { describeStatus, ladderOutcome, NO_OUTCOME, round1, type Rule } from './rule.js';

/** Moving through the network: the states where silence means the parcel is stuck. */
const IN_TRANSIT: ReadonlySet<Status> = new Set(['collected', 'in_transit', 'arrived_at_hub']);

/**
 * The newest carrier event we know of. Events can arrive out of order, so the folded lastEventAt
 * may be older than the collection scan or the current status' start; any of them is carrier activity.
 */
export function latestActivity(f: SubjectFacts): Date | null {
  let latest: Date | null = null;
  for (const d of [f.lastEventAt, f.collectedAt, f.statusSince]) {
    if (d && (latest === null || d.getTime() > latest.getTime())) latest = d;
  }
  return latest;
}

/** tracking_stalled (物流信息不更新): in transit with no new carrier event for too long. */
export const stalledRule: Rule = {
  type: 'tracking_stalled',
  evaluate(f: SubjectFacts, now: Date, cfg: Config): RuleOutcome {
    if (!IN_TRANSIT.has(f.status) || f.lastEventAt === null) return NO_OUTCOME;
    const since = latestActivity(f)!;
    const c = cfg.rules.stalled;
    return ladderOutcome(
      'tracking_stalled',
      f,
      now,
      since,
      [
        { hours: c.noEventHours, severity: 'warning' },
        { hours: c.criticalAfterHours, severity: 'critical' },
      ],
      (h) => ({
        lastEventAt: since.toISOString(),
        hoursSinceLastEvent: round1(h),
        lastEvent: f.lastEventText,
        lastHub: f.lastHub,
        status: f.status,
      }),
    );
  },
  resolution(f: SubjectFacts): string {
    if (f.deliveredAt || f.status === 'delivered') return 'delivered';
    if (IN_TRANSIT.has(f.status)) return 'tracking moved';
    return `tracking moved (${describeStatus(f)})`;
  },
};
