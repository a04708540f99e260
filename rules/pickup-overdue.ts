import type { Config } from '../config/schema.js';
import type { RuleOutcome, SubjectFacts } from '../domain/facts.js';
import { describeStatus, ladderOutcome, NO_OUTCOME, round1, type Rule } from './rule.js';

/**
 * pickup_overdue (快递柜/驿站超时未取): waiting in a locker or station; stations send unclaimed
 * parcels back, so the customer gets a reminder before that happens.
 */
export const pickupOverdueRule: Rule = {
  type: 'pickup_overdue',
  evaluate(f: SubjectFacts, now: Date, cfg: Config): RuleOutcome {
    if (f.status !== 'at_pickup_point' || f.statusSince === null || f.deliveredAt !== null) return NO_OUTCOME;
    return ladderOutcome(
      'pickup_overdue',
      f,
      now,
      f.statusSince,
      [{ hours: cfg.rules.pickupOverdue.hours, severity: 'warning' }],
      (h) => ({ atPickupPointSince: f.statusSince!.toISOString(), hoursAtPickupPoint: round1(h), lastHub: f.lastHub }),
    );
  },
  resolution(f: SubjectFacts): string {
    if (f.deliveredAt || f.status === 'delivered') return 'picked up';
    return describeStatus(f);
  },
};
