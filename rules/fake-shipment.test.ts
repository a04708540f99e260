import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { fakeShipmentRule as rule } from './fake-shipment.js';
import { at, facts } from './fixtures.js';

const cfg = loadConfig({ env: {} });
const marked = at(10);
const markedOnly = (over = {}) =>
  facts({ shipmentId: 10, carrier: 'YTO', trackingNo: 'YT1', markedShippedAt: marked, status: 'info_received', ...over });

describe('fake_shipment_risk (24 h warning, 48 h critical after marked shipped)', () => {
  it.each([
    { now: at(10), severity: null, next: at(34) },
    { now: at(33, 59), severity: null, next: at(34) },
    { now: at(33, 59, 59, 999), severity: null, next: at(34) },
    { now: at(34), severity: 'warning', next: at(58) },
    { now: at(57, 59), severity: 'warning', next: at(58) },
    { now: at(58), severity: 'critical', next: null },
    { now: at(300), severity: 'critical', next: null },
  ])('at $now → $severity', ({ now, severity, next }) => {
    const out = rule.evaluate(markedOnly(), now, cfg);
    expect(out.verdict?.severity ?? null).toBe(severity);
    expect(out.nextCheckAt).toEqual(next);
  });

  it.each(['pending', 'info_received', 'unknown'] as const)('status %s counts as no carrier scan', (status) => {
    expect(rule.evaluate(markedOnly({ status }), at(34), cfg).verdict?.severity).toBe('warning');
  });

  it.each([
    ['not marked shipped', { markedShippedAt: null }],
    ['collected', { collectedAt: at(40), status: 'collected' }],
    ['a carrier scan status', { status: 'in_transit' }],
    ['cancelled', { status: 'cancelled' }],
  ] as const)('no verdict when %s', (_, over) => {
    expect(rule.evaluate(markedOnly(over), at(100), cfg)).toEqual({ verdict: null, nextCheckAt: null });
  });

  it('details and provider signals', () => {
    const v = rule.evaluate(markedOnly({ providerFlags: ['kdniao:401'] }), at(40, 30), cfg).verdict!;
    expect(v).toEqual({
      type: 'fake_shipment_risk',
      severity: 'warning',
      deadlineAt: null,
      penaltyYuan: null,
      details: {
        providerSignals: ['kdniao:401'],
        markedShippedAt: marked.toISOString(),
        hoursSinceMarkedShipped: 30.5,
        status: 'info_received',
      },
    });
  });

  it('resolution', () => {
    expect(rule.resolution(markedOnly({ collectedAt: at(40), status: 'collected' }))).toBe(
      `collected by carrier at ${at(40).toISOString()}`,
    );
    expect(rule.resolution(markedOnly({ status: 'cancelled' }))).toBe('shipment cancelled');
  });
});
