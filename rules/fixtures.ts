/** Test fixtures for rule tests (not a test file itself; no runtime users). */
import { HOUR_MS, MINUTE_MS } from '../domain/clock.js';
import type { SubjectFacts } from '../domain/facts.js';

export const T0 = new Date('2026-11-11T00:00:00.000Z');

/** T0 (or `from`) plus h hours, m minutes, s seconds, ms milliseconds. */
export function at(h: number, m = 0, s = 0, ms = 0, from: Date = T0): Date {
  return new Date(from.getTime() + h * HOUR_MS + m * MINUTE_MS + s * 1000 + ms);
}

/**
 * An uncollected normal Taobao order paid at T0, no shipment yet. Unless `lastQueriedAt` is given, the
 * carrier is taken to have answered when the parcel was marked shipped (else at payment), so the rules
 * judge carrier facts; pass `lastQueriedAt: null` for a parcel the carrier was never asked about.
 */
export function facts(over: Partial<SubjectFacts> = {}): SubjectFacts {
  return {
    lastQueriedAt: over.markedShippedAt ?? T0,
    orderId: 1,
    shipmentId: null,
    platform: 'taobao',
    orderType: 'normal',
    paidAt: T0,
    promisedShipBy: null,
    amount: 100,
    carrier: null,
    trackingNo: null,
    markedShippedAt: null,
    collectedAt: null,
    deliveredAt: null,
    lastEventAt: null,
    lastEventText: null,
    lastHub: null,
    status: 'pending',
    statusSince: null,
    providerFlags: [],
    ...over,
  };
}

/** A shipment collected at `collectedAt`, in transit, last event at `lastEventAt` (defaults to collection). */
export function shipped(collectedAt: Date, over: Partial<SubjectFacts> = {}): SubjectFacts {
  return facts({
    shipmentId: 10,
    carrier: 'ZTO',
    trackingNo: '78000000001',
    markedShippedAt: collectedAt,
    collectedAt,
    lastEventAt: collectedAt,
    lastEventText: '【杭州转运中心】已发出',
    lastHub: '杭州转运中心',
    status: 'in_transit',
    statusSince: collectedAt,
    ...over,
  });
}
