import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { normalArrival, normalDays } from './norms.js';

const cfg = loadConfig({ env: {} });

describe('{normalArrival}', () => {
  it('says the p50 in whole days, rounded up, as usual practice', () => {
    expect(normalDays(20)).toBe(1);
    expect(normalDays(24)).toBe(1);
    expect(normalDays(30)).toBe(2);
    expect(normalDays(72)).toBe(3);
    expect(normalDays(0.5)).toBe(1);
    expect(normalArrival({ p50Hours: 30 }, cfg)).toBe('通常 2 天左右送达');
  });

  it('falls back to the flat outreach.normalTransitDays without a norm', () => {
    expect(normalArrival(null, cfg)).toBe('通常 3 天左右送达');
    expect(normalArrival(null, { ...cfg, outreach: { ...cfg.outreach, normalTransitDays: 4 } })).toBe('通常 4 天左右送达');
  });

  it('norms.arrivalText takes effect (e.g. English)', () => {
    const en = loadConfig({ env: {}, overrides: { norms: { arrivalText: 'normally arrives within {days} days' } } });
    expect(normalArrival({ p50Hours: 50 }, en)).toBe('normally arrives within 3 days');
    expect(() => loadConfig({ env: {}, overrides: { norms: { arrivalText: '通常 {date} 送达' } } })).toThrow(/unknown placeholder \{date\}/);
  });
});
