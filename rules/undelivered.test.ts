import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { at, shipped } from './fixtures.js';
import { stalledRule } from './stalled.js';
import { undeliveredRule as rule } from './undelivered.js';

const cfg = loadConfig({ env: {} });
const collected = at(20);
// Keep the parcel "moving" so only this rule's clock matters.
const moving = (now: Date, over = {}) => shipped(collected, { lastEventAt: now, statusSince: now, ...over });

describe('undelivered_3d (72 h warning, 120 h critical after collection)', () => {
  it.each([
    { now: at(91, 59), severity: null, next: at(92) },
    { now: at(91, 59, 59, 999), severity: null, next: at(92) },
    { now: at(92), severity: 'warning', next: at(140) }, // exactly 72 h: inclusive
    { now: at(139, 59), severity: 'warning', next: at(140) },
    { now: at(140), severity: 'critical', next: null },
  ])('at $now → $severity', ({ now, severity, next }) => {
    const out = rule.evaluate(moving(now), now, cfg);
    expect(out.verdict?.severity ?? null).toBe(severity);
    expect(out.nextCheckAt).toEqual(next);
  });

  it.each(['in_transit', 'arrived_at_hub', 'out_for_delivery', 'at_pickup_point', 'problem', 'returning', 'unknown'] as const)(
    'status %s still counts as undelivered',
    (status) => {
      expect(rule.evaluate(moving(at(100), { status }), at(100), cfg).verdict?.severity).toBe('warning');
    },
  );

  it.each(['delivered', 'returned', 'cancelled'] as const)('status %s: no verdict', (status) => {
    expect(rule.evaluate(moving(at(100), { status }), at(100), cfg)).toEqual({ verdict: null, nextCheckAt: null });
  });

  it('delivered before the rule fired: no verdict, nothing to wait for', () => {
    const f = shipped(collected, { deliveredAt: at(80), status: 'delivered', statusSince: at(80), lastEventAt: at(80) });
    expect(rule.evaluate(f, at(95), cfg)).toEqual({ verdict: null, nextCheckAt: null });
    expect(rule.resolution(f)).toBe('delivered');
  });

  it('deliveredAt wins over a disagreeing status (late locker scan after the signature)', () => {
    const f = shipped(collected, { deliveredAt: at(80), status: 'at_pickup_point' });
    expect(rule.evaluate(f, at(95), cfg)).toEqual({ verdict: null, nextCheckAt: null });
  });

  it('not collected: no verdict (late_shipment / fake_shipment cover it)', () => {
    const f = shipped(collected, { collectedAt: null, status: 'info_received' });
    expect(rule.evaluate(f, at(200), cfg)).toEqual({ verdict: null, nextCheckAt: null });
  });

  it('out-of-order events: measured from the collection scan even when newer events keep arriving', () => {
    // The collection scan came in last but is the oldest event; lastEventAt is recent.
    const f = shipped(collected, { lastEventAt: at(90), statusSince: at(90), status: 'arrived_at_hub' });
    const u = rule.evaluate(f, at(92), cfg);
    expect(u.verdict?.severity).toBe('warning');
    expect(u.verdict?.details).toMatchObject({ collectedAt: collected.toISOString(), hoursSinceCollected: 72, lastEventAt: at(90).toISOString() });
    // …while tracking_stalled measures from the newest event and stays quiet until 48 h after it.
    expect(stalledRule.evaluate(f, at(92), cfg)).toEqual({ verdict: null, nextCheckAt: at(138) });
  });

  it('resolution names the end state', () => {
    expect(rule.resolution(shipped(collected, { status: 'returned' }))).toBe('returned to sender');
  });
});
