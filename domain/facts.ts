import type { ExceptionType, Platform, Severity } from '../config/schema.js';
import type { TransitNorm } from './norms.js';
import type { Status } from './status.js';

export type OrderType = 'normal' | 'presale' | 'custom';

/**
 * What detection rules see about one subject: a shipment, or an order with no shipment yet
 * (shipmentId null, shipment fields null/'pending').
 */
export interface SubjectFacts {
  orderId: number;
  shipmentId: number | null;
  platform: Platform;
  orderType: OrderType;
  paidAt: Date;
  promisedShipBy: Date | null;
  /** Order amount in yuan. */
  amount: number;
  carrier: string | null;
  trackingNo: string | null;
  markedShippedAt: Date | null;
  /** First carrier scan. */
  collectedAt: Date | null;
  deliveredAt: Date | null;
  lastEventAt: Date | null;
  lastEventText: string | null;
  lastHub: string | null;
  status: Status;
  /** Time (event time) the current status began. */
  statusSince: Date | null;
  /** Provider alert flags, e.g. `kuaidi100:202`, `kdniao:412`. */
  providerFlags: string[];
  /**
   * When the carrier last answered about this parcel (a completed poll, not-found included, or a push);
   * null when it never has. Until it has answered since the parcel was marked shipped, "no scan" is
   * unknown, not a finding: see {@link carrierAsked}.
   */
  lastQueriedAt: Date | null;
  /**
   * The transit norm that applies to this parcel (route → carrier → global, see db/queries/norms.ts), or
   * null when the shop has no history and no seed. Supplied by detection only for collected, undelivered parcels.
   */
  transitNorm?: TransitNorm | null;
}

/** A rule's finding: this subject has this problem now, at this severity. */
export interface Verdict {
  type: ExceptionType;
  severity: Severity;
  /** The instant the rule measures against (ship deadline for late_shipment), if any. */
  deadlineAt: Date | null;
  /** Estimated buyer compensation in yuan (late_shipment). */
  penaltyYuan: number | null;
  /** Facts for agents and the API (hoursLeft, hoursOverdue, penaltyPoints, providerSignals, …). */
  details: Record<string, unknown>;
}

/** One rule applied to one subject at one instant. */
export interface RuleOutcome {
  verdict: Verdict | null;
  /** Earliest instant at which time alone could change this rule's verdict (null = only new facts can). */
  nextCheckAt: Date | null;
}

/**
 * Whether a shipment subject may be judged on carrier facts: the carrier has answered at least once since
 * the parcel was marked shipped (or at all, when it is not marked). On a fresh book every parcel is
 * unpolled; judging its empty scan history would open fake-shipment and late-shipment exceptions that the
 * first poll resolves minutes later (tasks and agent webhooks for nothing). Order-level subjects (no
 * shipment) need no carrier answer and are always judged.
 */
export function carrierAsked(f: Pick<SubjectFacts, 'shipmentId' | 'markedShippedAt' | 'lastQueriedAt'>): boolean {
  if (f.shipmentId === null) return true;
  if (f.lastQueriedAt === null) return false;
  return f.markedShippedAt === null || f.lastQueriedAt.getTime() >= f.markedShippedAt.getTime();
}
