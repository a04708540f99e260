import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { at, shipped } from './fixtures.js';
import { stalledRule as rule } from './stalled.js';

const cfg = loadConfig({ env: {} });
const last = at(30);
const inTransit = (over = {}) => shipped(at(20), { lastEventAt: last, statusSince: last, ...over });

describe('tracking_stalled (48 h warning, 96 h critical without a new event)', () => {
  it.each([
    { now: at(77, 59), severity: null, next: at(78) },
    { now: at(77, 59, 59, 999), severity: null, next: at(78) },
    { now: at(78), severity: 'warning', next: at(126) },
    { now: at(125, 59, 59, 999), severity: 'warning', next: at(126) },
    { now: at(126), severity: 'critical', next: null },
  ])('at $now → $severity', ({ now, severity, next }) => {
    const out = rule.evaluate(inTransit(), now, cfg);
    expect(out.verdict?.severity ?? null).toBe(severity);
    expect(out.nextCheckAt).toEqual(next);
  });

  it.each(['collected', 'in_transit', 'arrived_at_hub'] as const)('status %s is in transit', (status) => {
    expect(rule.evaluate(inTransit({ status }), at(80), cfg).verdict?.severity).toBe('warning');
  });

  it.each(['pending', 'info_received', 'out_for_delivery', 'at_pickup_point', 'delivered', 'problem', 'returning'] as const)(
    'status %s: not this rule',
    (status) => {
      expect(rule.evaluate(inTransit({ status }), at(200), cfg)).toEqual({ verdict: null, nextCheckAt: null });
    },
  );

  it('no event time known: no verdict', () => {
    expect(rule.evaluate(inTransit({ lastEventAt: null }), at(200), cfg)).toEqual({ verdict: null, nextCheckAt: null });
  });

  it('out-of-order events: a collection scan newer than lastEventAt counts as the latest activity', () => {
    const f = shipped(at(40), { lastEventAt: at(30), statusSince: at(30), status: 'collected' });
    expect(rule.evaluate(f, at(79), cfg)).toEqual({ verdict: null, nextCheckAt: at(88) });
    const v = rule.evaluate(f, at(88), cfg).verdict!;
    expect(v.severity).toBe('warning');
    expect(v.details).toMatchObject({ lastEventAt: at(40).toISOString(), hoursSinceLastEvent: 48 });
  });

  it('details carry hub, last event and provider signals', () => {
    const v = rule.evaluate(inTransit({ providerFlags: ['kuaidi100:205'] }), at(80), cfg).verdict!;
    expect(v.details).toEqual({
      providerSignals: ['kuaidi100:205'],
      lastEventAt: last.toISOString(),
      hoursSinceLastEvent: 50,
      lastEvent: '【杭州转运中心】已发出',
      lastHub: '杭州转运中心',
      status: 'in_transit',
    });
  });

  it('resolution', () => {
    expect(rule.resolution(inTransit({ lastEventAt: at(90) }))).toBe('tracking moved');
    expect(rule.resolution(inTransit({ status: 'out_for_delivery' }))).toBe('tracking moved (status now out for delivery)');
    expect(rule.resolution(inTransit({ status: 'delivered', deliveredAt: at(90) }))).toBe('delivered');
  });
});
