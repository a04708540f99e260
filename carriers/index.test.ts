import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { fixedClock } from '../domain/clock.js';
import { createProviders, providerFor } from './index.js';

function config(overrides: Record<string, unknown>) {
  return loadConfig({ env: {}, overrides: { providers: overrides } });
}

describe('createProviders', () => {
  it('builds only enabled providers, each with its batch size', () => {
    const c = config({
      routes: { default: 'kuaidi100' },
      sandbox: { enabled: false },
      kuaidi100: { enabled: true, customer: 'c', key: 'k' },
      seventeenTrack: { enabled: true, batchSize: 25, token: 't' },
    });
    const m = createProviders(c, { clock: fixedClock('2026-11-12T00:00:00Z') });
    expect([...m.keys()].sort()).toEqual(['kuaidi100', 'seventeenTrack']);
    expect(m.get('kuaidi100')!.maxBatch).toBe(1);
    expect(m.get('seventeenTrack')!.maxBatch).toBe(25);
    expect(m.get('seventeenTrack')!.name).toBe('seventeenTrack');
  });

  it('the breaker wrapper keeps provider extras (Kdniao requestType)', () => {
    const c = config({ routes: { default: 'kdniao' }, sandbox: { enabled: false }, kdniao: { enabled: true, eBusinessId: 'e', appKey: 'a', requestType: '1002' } });
    const kd = createProviders(c).get('kdniao') as unknown as { requestType: string; maxBatch: number; breaker: unknown };
    expect(kd.requestType).toBe('1002');
    expect(kd.maxBatch).toBe(1);
    expect(kd.breaker).toBeDefined();
  });

  it('includes the sandbox when enabled (default config)', () => {
    expect([...createProviders(loadConfig({ env: {} })).keys()]).toEqual(['sandbox']);
  });
});

describe('providerFor', () => {
  it('routes by carrier key, alias-tolerant, then default', () => {
    const c = config({
      routes: { default: 'kdniao', SF: 'kuaidi100', 中通: 'seventeenTrack' },
      kuaidi100: { enabled: true, customer: 'c', key: 'k' },
      kdniao: { enabled: true, eBusinessId: 'e', appKey: 'a' },
      seventeenTrack: { enabled: true, token: 't' },
    });
    expect(providerFor(c, 'SF')).toBe('kuaidi100');
    expect(providerFor(c, 'shunfeng')).toBe('kuaidi100');
    expect(providerFor(c, 'ZTO')).toBe('seventeenTrack');
    expect(providerFor(c, 'YTO')).toBe('kdniao');
  });
});
