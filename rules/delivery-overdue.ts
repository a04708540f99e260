import type { Config } from '../config/schema.js';
import type { RuleOutcome, SubjectFacts } from '../domain/facts.js';
import { describeStatus, ladderOutcome, NO_OUTCOME, round1, type Rule } from './rule.js';

/** delivery_overdue (派签超时): out for delivery and not signed for after too long. */
export const deliveryOverdueRule: Rule = {
  type: 'delivery_overdue',
  evaluate(f: SubjectFacts, now: Date, cfg: Config): RuleOutcome {
    if (f.status !== 'out_for_delivery' || f.statusSince === null || f.deliveredAt !== null) return NO_OUTCOME;
    return ladderOutcome(
      'delivery_overdue',
      f,
      now,
      f.statusSince,
      [{ hours: cfg.rules.deliveryOverdue.hours, severity: 'warning' }],
      (h) => ({ outForDeliverySince: f.statusSince!.toISOString(), hoursOutForDelivery: round1(h), lastHub: f.lastHub }),
    );
  },
  resolution(f: SubjectFacts): string {
    if (f.deliveredAt || f.status === 'delivered') return 'delivered';
    return describeStatus(f);
  },
};
