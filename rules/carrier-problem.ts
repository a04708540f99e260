import type { RuleOutcome, SubjectFacts } from '../domain/facts.js';
import { PROBLEM_STATUSES, type Status } from '../domain/status.js';
import { describeStatus, makeVerdict, NO_OUTCOME, type Rule } from './rule.js';

/** The parcel is not reaching the buyer at all: the shop must act (reship, refund, call). */
const CRITICAL_STATUSES: ReadonlySet<Status> = new Set(['rejected', 'returning', 'returned']);

/** Lost (丢失) or damaged (破损): reship or refund first, claim from the carrier afterwards. */
const LOST_OR_DAMAGED = /丢失|破损/;

export function isLostOrDamaged(f: SubjectFacts): boolean {
  return f.lastEventText !== null && LOST_OR_DAMAGED.test(f.lastEventText);
}

/**
 * carrier_problem: the carrier itself reports trouble. Opens immediately (no time threshold), so
 * time never changes it and nextCheckAt is always null. Provider alert flags are recorded but do not
 * open it alone: they fire on the provider's thresholds, and our time rules already cover those cases.
 */
export const carrierProblemRule: Rule = {
  type: 'carrier_problem',
  evaluate(f: SubjectFacts): RuleOutcome {
    if (!PROBLEM_STATUSES.has(f.status)) return NO_OUTCOME;
    const lostOrDamaged = isLostOrDamaged(f);
    const severity = CRITICAL_STATUSES.has(f.status) || lostOrDamaged ? 'critical' : 'warning';
    return {
      verdict: makeVerdict('carrier_problem', f, severity, {
        status: f.status,
        since: f.statusSince?.toISOString() ?? null,
        lastEvent: f.lastEventText,
        lastHub: f.lastHub,
        lostOrDamaged,
      }),
      nextCheckAt: null,
    };
  },
  resolution(f: SubjectFacts): string {
    if (f.deliveredAt || f.status === 'delivered') return 'delivered';
    return `carrier problem cleared (${describeStatus(f)})`;
  },
};
