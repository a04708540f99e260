import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { at, facts, T0 } from './fixtures.js';
import { lateShipmentRule as rule, latePenaltyYuan } from './late-shipment.js';

const cfg = loadConfig({ env: {} });

describe('late_shipment, normal order (Taobao, 72 h after payment)', () => {
  it.each([
    { now: at(0), severity: null, next: at(48) },
    { now: at(47, 59), severity: null, next: at(48) },
    { now: at(47, 59, 59, 999), severity: null, next: at(48) },
    { now: at(48), severity: 'warning', next: at(60) },
    { now: at(59, 59), severity: 'warning', next: at(60) },
    { now: at(60), severity: 'critical', next: at(72) },
    { now: at(71, 59, 59, 999), severity: 'critical', next: at(72) },
    { now: at(72), severity: 'breach', next: null },
    { now: at(500), severity: 'breach', next: null },
  ])('at $now → $severity, next $next', ({ now, severity, next }) => {
    const out = rule.evaluate(facts(), now, cfg);
    expect(out.verdict?.severity ?? null).toBe(severity);
    expect(out.nextCheckAt).toEqual(next);
  });

  it('details before the deadline: hoursLeft, age, deadline, basis, points, penalty', () => {
    const v = rule.evaluate(facts({ amount: 100 }), at(48), cfg).verdict!;
    expect(v.type).toBe('late_shipment');
    expect(v.deadlineAt).toEqual(at(72));
    expect(v.penaltyYuan).toBe(5);
    expect(v.details).toEqual({
      providerSignals: [],
      deadline: '2026-11-14T00:00:00.000Z',
      hoursLeft: 24,
      penaltyPoints: 3,
      ageHours: 48,
      basis: 'paid_at+72h',
    });
  });

  it('hoursLeft never rounds up and stays ≥ 0 just before the deadline', () => {
    expect(rule.evaluate(facts(), at(71, 57), cfg).verdict!.details.hoursLeft).toBe(0);
    expect(rule.evaluate(facts(), at(70, 50), cfg).verdict!.details.hoursLeft).toBe(1.1);
  });

  it('details after the deadline: hoursOverdue instead of hoursLeft', () => {
    const exact = rule.evaluate(facts(), at(72), cfg).verdict!;
    expect(exact.details.hoursOverdue).toBe(0);
    expect(exact.details).not.toHaveProperty('hoursLeft');
    const later = rule.evaluate(facts(), at(80, 30), cfg).verdict!;
    expect(later.details.hoursOverdue).toBe(8.5);
    expect(later.details.ageHours).toBe(80.5);
  });

  it('penalty: 5 % of the amount, capped at 30 yuan, rounded to fen', () => {
    expect(rule.evaluate(facts({ amount: 1000 }), at(72), cfg).verdict!.penaltyYuan).toBe(30);
    expect(rule.evaluate(facts({ amount: 100 }), at(72), cfg).verdict!.penaltyYuan).toBe(5);
    expect(rule.evaluate(facts({ amount: 600 }), at(72), cfg).verdict!.penaltyYuan).toBe(30);
    expect(latePenaltyYuan(33.33, cfg.rules.lateShipment.default)).toBe(1.67);
    expect(latePenaltyYuan(0, cfg.rules.lateShipment.default)).toBe(0);
  });

  it('carrier local time: paid 2026-11-11 00:05 (+08:00) breaches exactly at 2026-11-14 00:05 (+08:00)', () => {
    const f = facts({ paidAt: new Date('2026-11-11T00:05:00+08:00') });
    const breachAt = new Date('2026-11-14T00:05:00+08:00');
    expect(rule.evaluate(f, new Date(breachAt.getTime() - 1), cfg).verdict!.severity).toBe('critical');
    const v = rule.evaluate(f, breachAt, cfg).verdict!;
    expect(v.severity).toBe('breach');
    expect(v.details.deadline).toBe('2026-11-13T16:05:00.000Z');
  });

  it('provider flags ride along in details', () => {
    const v = rule.evaluate(facts({ providerFlags: ['kuaidi100:201', 'kuaidi100:201', 'kdniao:412'] }), at(50), cfg).verdict!;
    expect(v.details.providerSignals).toEqual(['kuaidi100:201', 'kdniao:412']);
  });
});

describe('late_shipment, JD platform override (48 h; warn 24, critical 36)', () => {
  it.each([
    { now: at(23, 59), severity: null, next: at(24) },
    { now: at(24), severity: 'warning', next: at(36) },
    { now: at(35, 59), severity: 'warning', next: at(36) },
    { now: at(36), severity: 'critical', next: at(48) },
    { now: at(47, 59), severity: 'critical', next: at(48) },
    { now: at(48), severity: 'breach', next: null },
  ])('at $now → $severity', ({ now, severity, next }) => {
    const out = rule.evaluate(facts({ platform: 'jd' }), now, cfg);
    expect(out.verdict?.severity ?? null).toBe(severity);
    expect(out.nextCheckAt).toEqual(next);
  });

  it('JD keeps the default penalty keys it does not override', () => {
    const v = rule.evaluate(facts({ platform: 'jd', amount: 1000 }), at(48), cfg).verdict!;
    expect(v.penaltyYuan).toBe(30);
    expect(v.details.penaltyPoints).toBe(3);
    expect(v.details.deadline).toBe(at(48).toISOString());
  });
});

describe('late_shipment, presale and custom orders', () => {
  const promise = at(240); // ten days after payment

  it.each(['presale', 'custom'] as const)('%s without a promised ship date: no verdict, no next check', (orderType) => {
    for (const now of [at(47), at(72), at(1000)]) {
      expect(rule.evaluate(facts({ orderType }), now, cfg)).toEqual({ verdict: null, nextCheckAt: null });
    }
  });

  it.each([
    { now: at(72), severity: null, next: at(216) }, // exempt from the 72 h clock
    { now: at(215, 59), severity: null, next: at(216) },
    { now: at(216), severity: 'warning', next: at(228) }, // promise − (72 − 48) h
    { now: at(227, 59), severity: 'warning', next: at(228) },
    { now: at(228), severity: 'critical', next: at(240) }, // promise − (72 − 60) h
    { now: at(239, 59, 59, 999), severity: 'critical', next: at(240) },
    { now: at(240), severity: 'breach', next: null },
  ])('presale with promise: at $now → $severity', ({ now, severity, next }) => {
    const out = rule.evaluate(facts({ orderType: 'presale', promisedShipBy: promise }), now, cfg);
    expect(out.verdict?.severity ?? null).toBe(severity);
    expect(out.nextCheckAt).toEqual(next);
  });

  it('custom order with promise on JD: offsets from JD policy (48−24 = 24 h, 48−36 = 12 h before)', () => {
    const f = facts({ orderType: 'custom', platform: 'jd', promisedShipBy: promise });
    expect(rule.evaluate(f, at(215, 59), cfg)).toEqual({ verdict: null, nextCheckAt: at(216) });
    expect(rule.evaluate(f, at(216), cfg).verdict!.severity).toBe('warning');
    expect(rule.evaluate(f, at(228), cfg).verdict!.severity).toBe('critical');
    expect(rule.evaluate(f, at(240), cfg).verdict!.severity).toBe('breach');
  });

  it('offsets follow the policy: a platform with a wider warning window warns earlier before the promise', () => {
    const wide = loadConfig({ env: {}, overrides: { rules: { lateShipment: { platforms: { pdd: { warnAtHours: 12, criticalAtHours: 30 } } } } } });
    const f = facts({ orderType: 'presale', platform: 'pdd', promisedShipBy: promise });
    // pdd: ship 48, warn 12 → warning 36 h before the promise; critical 30 → 18 h before.
    expect(rule.evaluate(f, at(203, 59), wide)).toEqual({ verdict: null, nextCheckAt: at(204) });
    expect(rule.evaluate(f, at(204), wide).verdict!.severity).toBe('warning');
    expect(rule.evaluate(f, at(222), wide).verdict!.severity).toBe('critical');
  });

  it('details name the promise as basis', () => {
    const v = rule.evaluate(facts({ orderType: 'presale', promisedShipBy: promise }), at(250), cfg).verdict!;
    expect(v.details).toMatchObject({ basis: 'promised_ship_by', deadline: promise.toISOString(), hoursOverdue: 10, ageHours: 250 });
    expect(v.deadlineAt).toEqual(promise);
  });
});

describe('late_shipment ends', () => {
  it('once collected: no verdict, even after the deadline', () => {
    const f = facts({ collectedAt: at(80), status: 'collected', statusSince: at(80), lastEventAt: at(80) });
    expect(rule.evaluate(f, at(90), cfg)).toEqual({ verdict: null, nextCheckAt: null });
  });

  it.each(['delivered', 'returned', 'returning', 'cancelled'] as const)('status %s without a collection scan: no verdict', (status) => {
    expect(rule.evaluate(facts({ status }), at(90), cfg)).toEqual({ verdict: null, nextCheckAt: null });
  });

  it('info_received (label printed) does not stop the clock', () => {
    const f = facts({ status: 'info_received', markedShippedAt: at(10) });
    expect(rule.evaluate(f, at(72), cfg).verdict!.severity).toBe('breach');
  });

  it('resolution says when it was collected and whether that was late', () => {
    const late = facts({ collectedAt: at(75), status: 'collected' });
    expect(rule.resolution(late, cfg)).toBe(
      'collected by carrier at 2026-11-14T03:00:00.000Z, late: 3 h after the ship deadline 2026-11-14T00:00:00.000Z',
    );
    const exact = facts({ collectedAt: at(72), status: 'collected' });
    expect(rule.resolution(exact, cfg)).toContain('late: 0 h');
    const onTime = facts({ collectedAt: at(50), status: 'collected' });
    expect(rule.resolution(onTime, cfg)).toBe('collected by carrier at 2026-11-13T02:00:00.000Z, on time');
    expect(rule.resolution(late)).toBe('collected by carrier at 2026-11-14T03:00:00.000Z (75 h after payment)');
    expect(rule.resolution(facts({ status: 'cancelled' }))).toBe('shipment cancelled');
  });
});

it('paidAt T0 fixture sanity', () => {
  expect(T0.toISOString()).toBe('2026-11-11T00:00:00.000Z');
});
