import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { EXCEPTION_TYPES, type Config } from '../config/schema.js';
import type { SubjectFacts } from '../domain/facts.js';
import { at, facts, shipped } from './fixtures.js';
import { allRules, evaluateSubject, rulesByType } from './index.js';

const cfg = loadConfig({ env: {} });
// Fractional-hour thresholds land between whole milliseconds; nextCheckAt must still be exact.
const oddCfg = loadConfig({
  env: {},
  overrides: {
    rules: {
      lateShipment: { default: { warnAtHours: 47.00000001, criticalAtHours: 59.99999999 } },
      fakeShipment: { noScanAfterHours: 23.3333333333 },
      undelivered: { afterCollectedHours: 71.12345678 },
      stalled: { noEventHours: 47.00000001, criticalAfterHours: 95.5555555555 },
      deliveryOverdue: { hours: 0.0000001 },
      pickupOverdue: { hours: 48.000000001 },
    },
  },
});

const scenarios: [string, SubjectFacts][] = [
  ['uncollected Taobao order marked shipped at +10 h', facts({ markedShippedAt: at(10), status: 'info_received', trackingNo: 'X' })],
  ['uncollected JD order', facts({ platform: 'jd' })],
  ['presale with promise', facts({ orderType: 'presale', promisedShipBy: at(200, 30) })],
  ['collected, then silent in transit', shipped(at(20))],
  ['out-of-order: lastEventAt before collection', shipped(at(20), { lastEventAt: at(15), statusSince: at(15) })],
  ['out for delivery', shipped(at(20), { status: 'out_for_delivery', statusSince: at(40), lastEventAt: at(40) })],
  ['at pickup point', shipped(at(20), { status: 'at_pickup_point', statusSince: at(45), lastEventAt: at(45) })],
  ['carrier problem', shipped(at(20), { status: 'problem', statusSince: at(30), lastEventAt: at(30), providerFlags: ['kuaidi100:201'] })],
];

const signature = (f: SubjectFacts, now: Date, c: Config) =>
  evaluateSubject(f, now, c)
    .verdicts.map((v) => `${v.type}:${v.severity}`)
    .join(',');

describe('nextCheckAt is exact: at next − 1 ms the old verdicts, at next a change', () => {
  for (const [name, c] of [
    ['default config', cfg],
    ['fractional-hour config', oddCfg],
  ] as const) {
    it.each(scenarios)(`${name}: %s`, (_, f) => {
      let now = f.paidAt;
      let steps = 0;
      for (;;) {
        const { nextCheckAt } = evaluateSubject(f, now, c);
        if (nextCheckAt === null) break;
        expect(nextCheckAt.getTime()).toBeGreaterThan(now.getTime());
        const before = signature(f, now, c);
        expect(signature(f, new Date(nextCheckAt.getTime() - 1), c)).toBe(before);
        expect(signature(f, nextCheckAt, c)).not.toBe(before);
        now = nextCheckAt;
        expect(++steps).toBeLessThan(20);
      }
      // Nothing left to wait for: much later, the verdicts are the same.
      expect(signature(f, new Date(now.getTime() + 1000 * 3_600_000), c)).toBe(signature(f, now, c));
    });
  }

  it('each rule on its own: nextCheckAt − 1 ms keeps its verdict, nextCheckAt changes it', () => {
    for (const [, f] of scenarios) {
      for (const rule of allRules) {
        let now = f.paidAt;
        for (let out = rule.evaluate(f, now, oddCfg); out.nextCheckAt; out = rule.evaluate(f, now, oddCfg)) {
          const next = out.nextCheckAt;
          expect(rule.evaluate(f, new Date(next.getTime() - 1), oddCfg).verdict?.severity).toBe(out.verdict?.severity);
          expect(rule.evaluate(f, next, oddCfg).verdict?.severity).not.toBe(out.verdict?.severity);
          now = next;
        }
      }
    }
  });
});

describe('thresholds between whole milliseconds', () => {
  it('opens at the first whole ms where elapsed ≥ threshold, never 1 ms early', () => {
    const f = shipped(at(20));
    const hours = oddCfg.rules.stalled.noEventHours;
    const next = evaluateSubject(f, at(21), oddCfg).nextCheckAt!;
    const elapsed = (d: Date) => (d.getTime() - at(20).getTime()) / 3_600_000;
    expect(elapsed(next)).toBeGreaterThanOrEqual(hours);
    expect(elapsed(new Date(next.getTime() - 1))).toBeLessThan(hours);
    expect(evaluateSubject(f, next, oddCfg).verdicts.map((v) => v.type)).toContain('tracking_stalled');
  });
});

describe('evaluateSubject', () => {
  it('collects every verdict and the earliest next check', () => {
    const f = facts({ markedShippedAt: at(10), status: 'info_received', trackingNo: 'X', providerFlags: ['kuaidi100:202'] });
    const r = evaluateSubject(f, at(50), cfg);
    expect(r.verdicts.map((v) => [v.type, v.severity])).toEqual([
      ['late_shipment', 'warning'],
      ['fake_shipment_risk', 'warning'],
    ]);
    // late_shipment goes critical at +60 h; fake shipment at +58 h (10 + 48).
    expect(r.nextCheckAt).toEqual(at(58));
    for (const v of r.verdicts) expect(v.details.providerSignals).toEqual(['kuaidi100:202']);
  });

  it('nothing due: no verdicts and null', () => {
    const delivered = shipped(at(20), { status: 'delivered', deliveredAt: at(60), statusSince: at(60), lastEventAt: at(60) });
    expect(evaluateSubject(delivered, at(500), cfg)).toEqual({ verdicts: [], nextCheckAt: null });
  });

  it('a fresh order waits for the first threshold', () => {
    expect(evaluateSubject(facts(), at(1), cfg)).toEqual({ verdicts: [], nextCheckAt: at(48) });
  });

  it('rulesByType covers every exception type exactly once', () => {
    expect(allRules.map((r) => r.type)).toEqual([...EXCEPTION_TYPES]);
    for (const t of EXCEPTION_TYPES) expect(rulesByType[t].type).toBe(t);
  });

  it('every rule gives a non-empty resolution text', () => {
    const f = shipped(at(20), { status: 'delivered', deliveredAt: at(60) });
    for (const rule of allRules) expect(rule.resolution(f, cfg)).toMatch(/\w/);
  });
});

describe('unknown is not "no scan" (issue 13): carrier facts are judged only once the carrier has answered', () => {
  // A parcel marked shipped at +10 h that nobody has polled yet: empty scan history means "not asked".
  const unasked = facts({ shipmentId: 7, trackingNo: 'YT1', carrier: 'YTO', markedShippedAt: at(10), lastQueriedAt: null });

  it('a never-polled parcel opens neither fake-shipment nor late-shipment, however late, and waits for the answer (no timed re-check)', () => {
    expect(evaluateSubject(unasked, at(50), cfg)).toEqual({ verdicts: [], nextCheckAt: null });
    expect(evaluateSubject(unasked, at(100), cfg)).toEqual({ verdicts: [], nextCheckAt: null });
  });

  it('an answer from before the parcel was marked shipped does not count', () => {
    expect(evaluateSubject({ ...unasked, lastQueriedAt: at(9) }, at(50), cfg).verdicts).toEqual([]);
  });

  it('once the carrier answered (not found included) since marking shipped, no scan is a finding', () => {
    const r = evaluateSubject({ ...unasked, lastQueriedAt: at(11) }, at(50), cfg);
    expect(r.verdicts.map((v) => [v.type, v.severity])).toEqual([
      ['late_shipment', 'warning'],
      ['fake_shipment_risk', 'warning'],
    ]);
  });

  it('an order with no shipment needs no carrier answer: late shipment is judged as before', () => {
    const order = facts({ lastQueriedAt: null });
    expect(evaluateSubject(order, at(50), cfg).verdicts.map((v) => v.type)).toEqual(['late_shipment']);
  });
});
