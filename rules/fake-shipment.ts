import type { Config } from '../config/schema.js';
import { carrierAsked, type RuleOutcome, type SubjectFacts } from '../domain/facts.js';
import { isCarrierScan, TERMINAL_STATUSES, type Status } from '../domain/status.js';
import { describeStatus, ladderOutcome, NO_OUTCOME, round1, type Rule } from './rule.js';

/** No physical carrier scan yet: pre-advice (label printed) does not prove the parcel left. */
const NO_SCAN: ReadonlySet<Status> = new Set(['pending', 'info_received', 'unknown']);

/**
 * fake_shipment_risk (虚假发货): marked shipped but the carrier never scanned it. Tracking normally
 * appears within 1–3 days of marking shipped; after that the buyer can claim a fake shipment.
 */
export const fakeShipmentRule: Rule = {
  type: 'fake_shipment_risk',
  evaluate(f: SubjectFacts, now: Date, cfg: Config): RuleOutcome {
    if (f.markedShippedAt === null || f.collectedAt !== null || !NO_SCAN.has(f.status)) return NO_OUTCOME;
    // No answer from the carrier since marking shipped: "no scan" is unknown, not a finding. The first answer
    // makes the parcel due again (ingest: recheck), so waiting for it costs no sweep.
    if (!carrierAsked(f)) return NO_OUTCOME;
    const c = cfg.rules.fakeShipment;
    return ladderOutcome(
      'fake_shipment_risk',
      f,
      now,
      f.markedShippedAt,
      [
        { hours: c.noScanAfterHours, severity: 'warning' },
        { hours: c.criticalAfterHours, severity: 'critical' },
      ],
      (h) => ({ markedShippedAt: f.markedShippedAt!.toISOString(), hoursSinceMarkedShipped: round1(h), status: f.status }),
    );
  },
  resolution(f: SubjectFacts): string {
    if (f.collectedAt) return `collected by carrier at ${f.collectedAt.toISOString()}`;
    if (f.markedShippedAt === null) return 'no longer marked shipped';
    // A carrier scan status without a collection time still proves the carrier has the parcel.
    if (isCarrierScan(f.status) && !TERMINAL_STATUSES.has(f.status)) return `carrier scan received (${describeStatus(f)})`;
    return describeStatus(f);
  },
};
