import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import type { TransitNorm } from '../domain/norms.js';
import { at, shipped } from './fixtures.js';
import { routeOverdueRule as rule } from './route-overdue.js';

// factor 1.2, criticalFactor 2 (config/default.yaml)
const cfg = loadConfig({ env: {} });
const norm: TransitNorm = { level: 'route', source: 'learned', carrier: 'ZTO', origin: '杭州市', destination: '北京市', p50Hours: 30, p90Hours: 40, samples: 120, routeOrigin: '杭州市', routeDestination: '北京市' };
const collected = at(10);
const moving = (over = {}) => shipped(collected, { transitNorm: norm, ...over });

describe('route_overdue (route p90 × factor after collection)', () => {
  it.each([
    { now: at(57, 59, 59, 999), severity: null, next: at(58) },
    { now: at(58), severity: 'warning', next: at(90) }, // 40 h × 1.2 = 48 h: inclusive
    { now: at(89, 59), severity: 'warning', next: at(90) },
    { now: at(90), severity: 'critical', next: null }, // 40 h × 2 = 80 h
  ])('at $now → $severity', ({ now, severity, next }) => {
    const out = rule.evaluate(moving(), now, cfg);
    expect(out.verdict?.severity ?? null).toBe(severity);
    expect(out.nextCheckAt).toEqual(next);
  });

  it('carries the norm and the threshold in its details', () => {
    const v = rule.evaluate(moving({ lastHub: '北京顺义分拨中心' }), at(70), cfg).verdict!;
    expect(v.details).toMatchObject({
      hoursSinceCollected: 60,
      thresholdHours: 48,
      norm: { level: 'route', source: 'learned', origin: '杭州市', destination: '北京市', p50Hours: 30, p90Hours: 40, samples: 120 },
      route: { origin: '杭州市', destination: '北京市' },
      lastHub: '北京顺义分拨中心',
    });
  });

  it('the configured factor takes effect', () => {
    const slow = { ...cfg, rules: { ...cfg.rules, routeOverdue: { factor: 1.5, criticalFactor: 3 } } };
    expect(rule.evaluate(moving(), at(69), slow).verdict).toBeNull(); // 59 h < 60 h
    expect(rule.evaluate(moving(), at(70), slow).verdict?.severity).toBe('warning');
    expect(rule.evaluate(moving(), at(130), slow).verdict?.severity).toBe('critical');
  });

  it('says nothing without a norm, before collection, or once delivered/returned', () => {
    const none = { verdict: null, nextCheckAt: null };
    expect(rule.evaluate(moving({ transitNorm: null }), at(200), cfg)).toEqual(none);
    expect(rule.evaluate(moving({ transitNorm: undefined }), at(200), cfg)).toEqual(none);
    expect(rule.evaluate(moving({ collectedAt: null }), at(200), cfg)).toEqual(none);
    expect(rule.evaluate(moving({ deliveredAt: at(50), status: 'delivered' }), at(200), cfg)).toEqual(none);
    expect(rule.evaluate(moving({ status: 'returned' }), at(200), cfg)).toEqual(none);
  });

  it('resolves as delivered when signed for', () => {
    expect(rule.resolution(moving({ deliveredAt: at(80), status: 'delivered' }))).toBe('delivered');
    expect(rule.resolution(moving({ status: 'returned' }))).toBe('returned to sender');
  });
});
