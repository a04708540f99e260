import { PLATFORMS, type Config, type LateShipmentPolicy, type Platform } from '../config/schema.js';
import { lateShipmentPolicyFor } from '../config/load.js';
import type { Sql } from '../db/client.js';
import { HOUR_MS } from '../domain/clock.js';
import { carrierAsked, type RuleOutcome, type SubjectFacts } from '../domain/facts.js';
import { climb, describeStatus, makeVerdict, NO_OUTCOME, round1, type Rule, type Step } from './rule.js';

/** Once the parcel is back with (or heading back to) the sender or cancelled, shipping late is moot. */
const ENDED_STATUSES = new Set(['delivered', 'returned', 'returning', 'cancelled']);

/** Buyer compensation on a breach: rate × amount, capped, in fen precision. */
export function latePenaltyYuan(amount: number, policy: LateShipmentPolicy): number {
  const raw = Math.min(amount * policy.penaltyRate, policy.penaltyCapYuan);
  // EPSILON so amounts like 1.005 round the way a person would, not the way binary floats do.
  return Math.round((raw + Number.EPSILON) * 100) / 100;
}

/** What the ship deadline is computed from (a subset of SubjectFacts, so poll rows can use it too). */
export interface DeadlineFacts {
  orderType: string;
  paidAt: Date;
  promisedShipBy: Date | null;
}

/** Order types held to the promised ship date instead of the paid-at clock (shipDeadline). */
export const PROMISE_BASED_TYPES = ['presale', 'custom'] as const;

const isPromiseBased = (orderType: string) => (PROMISE_BASED_TYPES as readonly string[]).includes(orderType);

/**
 * The paid-at clock's length in whole ms, rounded up so that "now >= deadline" matches "age >= shipWithinHours"
 * exactly for the whole-ms instants we store. Integer, so SQL (shipDeadlineSql) adds exactly the same amount.
 */
function shipWithinMs(policy: LateShipmentPolicy): number {
  return Math.ceil(policy.shipWithinHours * HOUR_MS);
}

/**
 * The ship deadline and its basis — the one definition; shipDeadlineSql is the same for set-based queries.
 * Presale/custom orders are exempt from the paid-at clock and are held to the promised ship date instead;
 * without one there is nothing to measure (null).
 */
export function shipDeadline(f: DeadlineFacts, policy: LateShipmentPolicy): { deadline: Date; basis: 'paid_at+72h' | 'promised_ship_by' } | null {
  if (isPromiseBased(f.orderType)) {
    return f.promisedShipBy ? { deadline: f.promisedShipBy, basis: 'promised_ship_by' } : null;
  }
  return { deadline: new Date(f.paidAt.getTime() + shipWithinMs(policy)), basis: 'paid_at+72h' };
}

/** shipDeadline's instant for an order of `platform` under `cfg` (its per-platform override applied); null: none. */
export function shipDeadlineAt(f: DeadlineFacts & { platform: string }, cfg: Config): Date | null {
  return shipDeadline(f, lateShipmentPolicyFor(cfg, f.platform as Platform))?.deadline ?? null;
}

/**
 * shipDeadlineAt as a SQL expression (timestamptz, NULL when there is no deadline) over the orders table aliased
 * `alias` (its columns type, paid_at, promised_ship_by, platform), for queries that filter or rank parcels by
 * it (jobs/plan-polls.ts). Built from the same config and PROMISE_BASED_TYPES, with the same whole-ms hours; a
 * platform without an entry gets the default policy as lateShipmentPolicyFor gives it.
 */
export function shipDeadlineSql(sql: Sql, cfg: Config, alias: string) {
  const col = (name: string) => sql(`${alias}.${name}`);
  const ms = PLATFORMS.map((p) => shipWithinMs(lateShipmentPolicyFor(cfg, p)));
  const defaultMs = shipWithinMs(cfg.rules.lateShipment.default);
  return sql`(case when ${col('type')} = any(${PROMISE_BASED_TYPES as unknown as string[]}::text[]) then ${col('promised_ship_by')}
    else ${col('paid_at')} + coalesce((${ms}::float8[])[array_position(${[...PLATFORMS]}::text[], ${col('platform')}::text)], ${defaultMs}::float8)
      * interval '1 millisecond' end)`;
}

/**
 * late_shipment (延迟发货): the carrier's collection scan — not the seller's "shipped" click — must
 * exist by the deadline. Warning and critical open at the same offsets before the deadline for
 * both bases (for normal orders that is simply paidAt + warnAtHours / criticalAtHours).
 */
export const lateShipmentRule: Rule = {
  type: 'late_shipment',
  evaluate(f: SubjectFacts, now: Date, cfg: Config): RuleOutcome {
    // Collected: the clock stopped. Ended states: the order no longer needs shipping.
    if (f.collectedAt !== null || ENDED_STATUSES.has(f.status)) return NO_OUTCOME;
    // A parcel the carrier has not answered about may well be collected: judged once it has (the first answer
    // makes it due again). Polling is what must come early near the deadline (domain/poll-policy.ts).
    if (!carrierAsked(f)) return NO_OUTCOME;
    const policy = lateShipmentPolicyFor(cfg, f.platform);
    const d = shipDeadline(f, policy);
    if (!d) return NO_OUTCOME;
    const deadlineMs = d.deadline.getTime();
    // Offsets measured back from the deadline; ceil keeps fractional-hour configs exact (see thresholdAt).
    const before = (hours: number) => Math.ceil(deadlineMs - hours * HOUR_MS);
    const steps: Step[] = [
      { at: before(policy.shipWithinHours - policy.warnAtHours), severity: 'warning' },
      { at: before(policy.shipWithinHours - policy.criticalAtHours), severity: 'critical' },
      { at: deadlineMs, severity: 'breach' },
    ];
    const { severity, next } = climb(steps, now);
    if (severity === null) return { verdict: null, nextCheckAt: next };
    const leftHours = (deadlineMs - now.getTime()) / HOUR_MS;
    const details: Record<string, unknown> = {
      deadline: d.deadline.toISOString(),
      ...(leftHours > 0
        ? // Floor: never tell an agent there is more time left than there is.
          { hoursLeft: Math.max(0, Math.floor(leftHours * 10) / 10) }
        : { hoursOverdue: round1(Math.max(0, -leftHours)) }),
      penaltyPoints: policy.penaltyPoints,
      ageHours: round1((now.getTime() - f.paidAt.getTime()) / HOUR_MS),
      basis: d.basis,
    };
    return {
      // The penalty is the estimate of what a breach costs, shown from the first warning so agents can weigh it.
      verdict: makeVerdict('late_shipment', f, severity, details, {
        deadlineAt: d.deadline,
        penaltyYuan: latePenaltyYuan(f.amount, policy),
      }),
      nextCheckAt: next,
    };
  },
  resolution(f: SubjectFacts, cfg?: Config): string {
    if (f.collectedAt === null) {
      if (ENDED_STATUSES.has(f.status)) return describeStatus(f);
      // E.g. a presale order whose promise date was removed, or the order type changed.
      return 'no longer measured against a ship deadline';
    }
    const at = f.collectedAt.toISOString();
    const age = round1((f.collectedAt.getTime() - f.paidAt.getTime()) / HOUR_MS);
    if (!cfg) return `collected by carrier at ${at} (${age} h after payment)`;
    const d = shipDeadline(f, lateShipmentPolicyFor(cfg, f.platform));
    if (d && f.collectedAt.getTime() >= d.deadline.getTime()) {
      const late = round1((f.collectedAt.getTime() - d.deadline.getTime()) / HOUR_MS);
      return `collected by carrier at ${at}, late: ${late} h after the ship deadline ${d.deadline.toISOString()}`;
    }
    return `collected by carrier at ${at}, on time`;
  },
};
