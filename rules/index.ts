import type { Config, ExceptionType } from '../config/schema.js';
import type { SubjectFacts, Verdict } from '../domain/facts.js';
import { carrierProblemRule } from './carrier-problem.js';
import { deliveryOverdueRule } from './delivery-overdue.js';
import { fakeShipmentRule } from './fake-shipment.js';
import { lateShipmentRule } from './late-shipment.js';
import { pickupOverdueRule } from './pickup-overdue.js';
import { routeOverdueRule } from './route-overdue.js';
import type { Rule } from './rule.js';
import { stalledRule } from './stalled.js';
import { undeliveredRule } from './undelivered.js';

export type { Rule } from './rule.js';
export { providerSignals } from './rule.js';
export { compareSeverity, isMoreSevere, maxSeverity, severityRank } from './severity.js';

/** Every rule, in EXCEPTION_TYPES order. */
export const allRules: readonly Rule[] = [
  lateShipmentRule,
  fakeShipmentRule,
  undeliveredRule,
  stalledRule,
  carrierProblemRule,
  deliveryOverdueRule,
  pickupOverdueRule,
  routeOverdueRule,
];

/** The rule of each exception type (resolution texts, re-evaluation of one open exception). */
export const rulesByType: Readonly<Record<ExceptionType, Rule>> = Object.fromEntries(allRules.map((r) => [r.type, r])) as Record<
  ExceptionType,
  Rule
>;

/**
 * All rules on one subject at `now`: the verdicts that hold, and the earliest instant at which time
 * alone changes any of them (detection re-reads the subject then; null = wait for new facts).
 */
export function evaluateSubject(f: SubjectFacts, now: Date, cfg: Config): { verdicts: Verdict[]; nextCheckAt: Date | null } {
  const verdicts: Verdict[] = [];
  let next: number | null = null;
  for (const rule of allRules) {
    const out = rule.evaluate(f, now, cfg);
    if (out.verdict) verdicts.push(out.verdict);
    if (out.nextCheckAt && (next === null || out.nextCheckAt.getTime() < next)) next = out.nextCheckAt.getTime();
  }
  return { verdicts, nextCheckAt: next === null ? null : new Date(next) };
}
