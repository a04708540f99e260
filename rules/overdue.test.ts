import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { deliveryOverdueRule } from './delivery-overdue.js';
import { at, shipped } from './fixtures.js';
import { pickupOverdueRule } from './pickup-overdue.js';

const cfg = loadConfig({ env: {} });
const since = at(50);

describe('delivery_overdue (24 h out for delivery)', () => {
  const f = (over = {}) => shipped(at(20), { status: 'out_for_delivery', statusSince: since, lastEventAt: since, ...over });
  it.each([
    { now: at(73, 59), severity: null, next: at(74) },
    { now: at(73, 59, 59, 999), severity: null, next: at(74) },
    { now: at(74), severity: 'warning', next: null },
    { now: at(300), severity: 'warning', next: null },
  ])('at $now → $severity', ({ now, severity, next }) => {
    const out = deliveryOverdueRule.evaluate(f(), now, cfg);
    expect(out.verdict?.severity ?? null).toBe(severity);
    expect(out.nextCheckAt).toEqual(next);
  });

  it('details', () => {
    expect(deliveryOverdueRule.evaluate(f(), at(75), cfg).verdict!.details).toEqual({
      providerSignals: [],
      outForDeliverySince: since.toISOString(),
      hoursOutForDelivery: 25,
      lastHub: '杭州转运中心',
    });
  });

  it.each([
    ['another status', { status: 'at_pickup_point' }],
    ['no status time', { statusSince: null }],
    ['delivered', { deliveredAt: at(60) }],
  ] as const)('no verdict: %s', (_, over) => {
    expect(deliveryOverdueRule.evaluate(f(over), at(100), cfg)).toEqual({ verdict: null, nextCheckAt: null });
  });

  it('resolution', () => {
    expect(deliveryOverdueRule.resolution(f({ status: 'delivered', deliveredAt: at(80) }))).toBe('delivered');
    expect(deliveryOverdueRule.resolution(f({ status: 'failed_attempt' }))).toBe('status now failed attempt');
  });
});

describe('pickup_overdue (48 h at a locker/station)', () => {
  const f = (over = {}) =>
    shipped(at(20), { status: 'at_pickup_point', statusSince: since, lastEventAt: since, lastHub: '菜鸟驿站', ...over });
  it.each([
    { now: at(97, 59), severity: null, next: at(98) },
    { now: at(97, 59, 59, 999), severity: null, next: at(98) },
    { now: at(98), severity: 'warning', next: null },
  ])('at $now → $severity', ({ now, severity, next }) => {
    const out = pickupOverdueRule.evaluate(f(), now, cfg);
    expect(out.verdict?.severity ?? null).toBe(severity);
    expect(out.nextCheckAt).toEqual(next);
  });

  it('details', () => {
    expect(pickupOverdueRule.evaluate(f({ providerFlags: ['kdniao:417'] }), at(100), cfg).verdict!.details).toEqual({
      providerSignals: ['kdniao:417'],
      atPickupPointSince: since.toISOString(),
      hoursAtPickupPoint: 50,
      lastHub: '菜鸟驿站',
    });
  });

  it.each([
    ['another status', { status: 'out_for_delivery' }],
    ['no status time', { statusSince: null }],
    ['picked up', { deliveredAt: at(60), status: 'delivered' }],
  ] as const)('no verdict: %s', (_, over) => {
    expect(pickupOverdueRule.evaluate(f(over), at(120), cfg)).toEqual({ verdict: null, nextCheckAt: null });
  });

  it('resolution', () => {
    expect(pickupOverdueRule.resolution(f({ status: 'delivered', deliveredAt: at(99) }))).toBe('picked up');
    expect(pickupOverdueRule.resolution(f({ status: 'returning' }))).toBe('status now returning');
  });
});
