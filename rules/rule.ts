import type { Config, ExceptionType, Severity } from '../config/schema.js';
import { HOUR_MS } from '../domain/clock.js';
import type { RuleOutcome, SubjectFacts, Verdict } from '../domain/facts.js';

/**
 * A pure detection rule. Rules never read the clock or do I/O: `now` and the config are passed in,
 * so replays (`run-once --now`) and tests give the same answers as production.
 */
export interface Rule {
  type: ExceptionType;
  evaluate(f: SubjectFacts, now: Date, cfg: Config): RuleOutcome;
  /**
   * Plain English reason used when an open exception of this type resolves, read from the facts
   * that no longer produce a verdict. `cfg` is optional: only late_shipment uses it (to say whether
   * the collection was late), and callers without a config still get a sensible text.
   */
  resolution(f: SubjectFacts, cfg?: Config): string;
}

/** One rung of a severity ladder: from instant `at` (epoch ms) on, the severity is `severity`. */
export interface Step {
  at: number;
  severity: Severity;
}

/**
 * The instant `hours` after `from`, in whole epoch ms rounded UP. Thresholds may be fractional
 * hours; a Date truncates fractional ms, and a truncated instant would sit just before the real
 * threshold, so nextCheckAt would fire 1 ms too early and see the old verdict. Rounding up keeps
 * `now >= step` exactly equivalent to `now - from >= hours` for integer-ms `now`.
 */
export function thresholdAt(from: Date, hours: number): number {
  return Math.ceil(from.getTime() + hours * HOUR_MS);
}

/**
 * Where `now` sits on an ascending ladder: the severity of the last step reached (null before the
 * first) and the next step still ahead (null once the top is reached). Steps must be ascending.
 */
export function climb(steps: readonly Step[], now: Date): { severity: Severity | null; next: Date | null } {
  const t = now.getTime();
  let severity: Severity | null = null;
  for (const step of steps) {
    if (t >= step.at) severity = step.severity;
    else return { severity, next: new Date(step.at) };
  }
  return { severity, next: null };
}

/** Hours as a 1-decimal number for details (agents read these; more precision is noise). */
export function round1(hours: number): number {
  return Math.round(hours * 10) / 10;
}

/**
 * The provider's own alert flags (kuaidi100:201/202/205, kdniao:401/402/403/412/417, …), deduplicated.
 * They are extra evidence for the agent, attached to whatever rule fires; they never open or
 * escalate an exception by themselves, because providers flag on their own thresholds, not ours.
 */
export function providerSignals(f: SubjectFacts): string[] {
  return [...new Set(f.providerFlags)];
}

/** Details every verdict carries, merged under the rule's own details. */
export function commonDetails(f: SubjectFacts): Record<string, unknown> {
  return { providerSignals: providerSignals(f) };
}

export function makeVerdict(
  type: ExceptionType,
  f: SubjectFacts,
  severity: Severity,
  details: Record<string, unknown>,
  extra: { deadlineAt?: Date | null; penaltyYuan?: number | null } = {},
): Verdict {
  return {
    type,
    severity,
    deadlineAt: extra.deadlineAt ?? null,
    penaltyYuan: extra.penaltyYuan ?? null,
    details: { ...commonDetails(f), ...details },
  };
}

export const NO_OUTCOME: RuleOutcome = Object.freeze({ verdict: null, nextCheckAt: null }) as RuleOutcome;

/**
 * A rule measured from one start instant with ascending hour thresholds (warning, then critical…).
 * Before the first threshold there is no verdict but a nextCheckAt, so detection comes back exactly
 * when the verdict would open.
 */
export function ladderOutcome(
  type: ExceptionType,
  f: SubjectFacts,
  now: Date,
  since: Date,
  rungs: readonly { hours: number; severity: Severity }[],
  details: (elapsedHours: number) => Record<string, unknown>,
): RuleOutcome {
  const { severity, next } = climb(
    rungs.map((r) => ({ at: thresholdAt(since, r.hours), severity: r.severity })),
    now,
  );
  if (severity === null) return { verdict: null, nextCheckAt: next };
  const elapsed = (now.getTime() - since.getTime()) / HOUR_MS;
  return { verdict: makeVerdict(type, f, severity, details(elapsed)), nextCheckAt: next };
}

/** A short English description of where a shipment stands, for resolution texts. */
export function describeStatus(f: SubjectFacts): string {
  switch (f.status) {
    case 'delivered':
      return f.deliveredAt ? `delivered at ${f.deliveredAt.toISOString()}` : 'delivered';
    case 'returned':
      return 'returned to sender';
    case 'cancelled':
      return 'shipment cancelled';
    default:
      return `status now ${f.status.replace(/_/g, ' ')}`;
  }
}
