import type { Config } from '../config/schema.js';
import type { RuleOutcome, SubjectFacts } from '../domain/facts.js';
import { normDetails } from '../domain/norms.js';
import type { Status } from '../domain/status.js';
import { describeStatus, ladderOutcome, NO_OUTCOME, round1, type Rule } from './rule.js';

/** States in which "still on its way" is no longer a question. */
const DONE: ReadonlySet<Status> = new Set(['delivered', 'returned', 'cancelled']);

/**
 * route_overdue (慢于线路时效): collected, not delivered, and on the way longer than this route's p90 transit
 * time × the configured factor. The norm is the shop's own history (or a seed): on a fast route this opens
 * well before the flat undelivered_3d, on a slow one it waits for what is slow there. No norm, no verdict.
 * The norm can move between two judgements (refresh-norms); nextCheckAt is computed from the norm of this
 * one, and a parcel's next poll re-judges it anyway.
 */
export const routeOverdueRule: Rule = {
  type: 'route_overdue',
  evaluate(f: SubjectFacts, now: Date, cfg: Config): RuleOutcome {
    const norm = f.transitNorm;
    if (!norm || f.collectedAt === null || f.deliveredAt !== null || DONE.has(f.status)) return NO_OUTCOME;
    const c = cfg.rules.routeOverdue;
    return ladderOutcome(
      'route_overdue',
      f,
      now,
      f.collectedAt,
      [
        { hours: norm.p90Hours * c.factor, severity: 'warning' },
        { hours: norm.p90Hours * Math.max(c.factor, c.criticalFactor), severity: 'critical' },
      ],
      (h) => ({
        collectedAt: f.collectedAt!.toISOString(),
        hoursSinceCollected: round1(h),
        thresholdHours: round1(norm.p90Hours * c.factor),
        norm: normDetails(norm),
        route: { origin: norm.routeOrigin ?? null, destination: norm.routeDestination ?? null },
        status: f.status,
        lastEventAt: f.lastEventAt?.toISOString() ?? null,
        lastHub: f.lastHub,
      }),
    );
  },
  resolution(f: SubjectFacts): string {
    if (f.deliveredAt) return 'delivered';
    return describeStatus(f);
  },
};
