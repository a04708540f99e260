import { describe, expect, it } from 'vitest';
import { fixedClock } from '../domain/clock.js';
import { ProviderError, type TrackingProvider } from './carrier.js';
import { CircuitBreaker, withCircuitBreaker } from './circuit-breaker.js';

const transient = () => Promise.reject(new ProviderError('kdniao', 'transient', 'timeout'));
const ok = () => Promise.resolve('ok');

describe('CircuitBreaker', () => {
  function setup() {
    const clock = fixedClock('2026-11-12T00:00:00Z');
    const breaker = new CircuitBreaker('kdniao', { failureThreshold: 3, openSeconds: 60 }, clock);
    return { clock, breaker };
  }

  it('opens after N consecutive transient failures and rejects fast with retryAfterMs', async () => {
    const { clock, breaker } = setup();
    for (let i = 0; i < 3; i++) await expect(breaker.exec(transient)).rejects.toThrow('timeout');
    expect(breaker.status).toBe('open');
    let calls = 0;
    clock.set('2026-11-12T00:00:20Z');
    const err = await breaker.exec(async () => ++calls).catch((e: unknown) => e);
    expect(calls).toBe(0);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).kind).toBe('transient');
    expect((err as ProviderError).message).toContain('circuit open');
    expect((err as ProviderError).opts.retryAfterMs).toBe(40_000);
  });

  it('a success in between resets the count', async () => {
    const { breaker } = setup();
    await expect(breaker.exec(transient)).rejects.toThrow();
    await expect(breaker.exec(transient)).rejects.toThrow();
    await breaker.exec(ok);
    await expect(breaker.exec(transient)).rejects.toThrow();
    await expect(breaker.exec(transient)).rejects.toThrow();
    expect(breaker.status).toBe('closed');
  });

  it('auth/quota/malformed errors do not open it', async () => {
    const { breaker } = setup();
    for (let i = 0; i < 5; i++) await expect(breaker.exec(() => Promise.reject(new ProviderError('kdniao', 'auth', 'bad key')))).rejects.toThrow();
    expect(breaker.status).toBe('closed');
  });

  it('half-open trial: success closes, failure reopens', async () => {
    const { clock, breaker } = setup();
    for (let i = 0; i < 3; i++) await expect(breaker.exec(transient)).rejects.toThrow();
    clock.set('2026-11-12T00:01:00Z');
    expect(breaker.status).toBe('half_open');
    await expect(breaker.exec(transient)).rejects.toThrow('timeout');
    expect(breaker.status).toBe('open');
    await expect(breaker.exec(ok)).rejects.toThrow('circuit open');
    clock.set('2026-11-12T00:02:00Z');
    await expect(breaker.exec(ok)).resolves.toBe('ok');
    expect(breaker.status).toBe('closed');
  });

  it('only one trial call at a time while half-open', async () => {
    const { clock, breaker } = setup();
    for (let i = 0; i < 3; i++) await expect(breaker.exec(transient)).rejects.toThrow();
    clock.set('2026-11-12T00:01:00Z');
    let release!: () => void;
    const trial = breaker.exec(() => new Promise<string>((r) => (release = () => r('done'))));
    await expect(breaker.exec(ok)).rejects.toThrow('circuit open');
    release();
    await expect(trial).resolves.toBe('done');
    await expect(breaker.exec(ok)).resolves.toBe('ok');
  });
});

describe('withCircuitBreaker', () => {
  it('counts failing track() calls and keeps provider members', async () => {
    const clock = fixedClock('2026-11-12T00:00:00Z');
    let calls = 0;
    const inner: TrackingProvider & { requestType: string } = {
      name: 'kdniao',
      maxBatch: 1,
      requestType: '8001',
      track: async () => {
        calls++;
        throw new ProviderError('kdniao', 'transient', 'ECONNRESET');
      },
    };
    const p = withCircuitBreaker(inner, new CircuitBreaker('kdniao', { failureThreshold: 2, openSeconds: 10 }, clock));
    expect(p.requestType).toBe('8001');
    const ctx = { clock, log: undefined as never, timeZone: 'Asia/Shanghai' };
    await expect(p.track([], ctx)).rejects.toThrow('ECONNRESET');
    await expect(p.track([], ctx)).rejects.toThrow('ECONNRESET');
    await expect(p.track([], ctx)).rejects.toThrow('circuit open');
    expect(calls).toBe(2);
  });
});
