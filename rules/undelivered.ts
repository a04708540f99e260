import type { Config } from '../config/schema.js';
import type { RuleOutcome, SubjectFacts } from '../domain/facts.js';
import type { Status } from '../domain/status.js';
import { describeStatus, ladderOutcome, NO_OUTCOME, round1, type Rule } from './rule.js';

/** States in which "not delivered yet" is no longer a question. */
const DONE: ReadonlySet<Status> = new Set(['delivered', 'returned', 'cancelled']);

/**
 * undelivered_3d (超过3天未正常签收): collected long ago and still not signed for. Measured from the
 * collection scan, not the latest event: a parcel that keeps moving can still be late.
 */
export const undeliveredRule: Rule = {
  type: 'undelivered_3d',
  evaluate(f: SubjectFacts, now: Date, cfg: Config): RuleOutcome {
    // deliveredAt wins over a status that disagrees (a stray scan folded after the signature).
    if (f.collectedAt === null || f.deliveredAt !== null || DONE.has(f.status)) return NO_OUTCOME;
    const c = cfg.rules.undelivered;
    return ladderOutcome(
      'undelivered_3d',
      f,
      now,
      f.collectedAt,
      [
        { hours: c.afterCollectedHours, severity: 'warning' },
        { hours: c.criticalAfterHours, severity: 'critical' },
      ],
      (h) => ({
        collectedAt: f.collectedAt!.toISOString(),
        hoursSinceCollected: round1(h),
        status: f.status,
        lastEventAt: f.lastEventAt?.toISOString() ?? null,
        lastEvent: f.lastEventText,
        lastHub: f.lastHub,
      }),
    );
  },
  resolution(f: SubjectFacts): string {
    if (f.deliveredAt) return 'delivered';
    return describeStatus(f);
  },
};
