import { describe, expect, it } from 'vitest';
import { GateStopped, RateGate, rateWindow, usefulConcurrency } from './rate-gate.js';

describe('rateWindow', () => {
  it.each([
    [500, { max: 500, durationMs: 1000 }],
    [10.7, { max: 10, durationMs: 1000 }],
    [1, { max: 1, durationMs: 1000 }],
    [0.5, { max: 1, durationMs: 2000 }],
    [0.3, { max: 1, durationMs: 3334 }],
  ])('qps %d → %o', (qps, w) => {
    expect(rateWindow(qps)).toEqual(w);
  });
});

describe('RateGate', () => {
  /** Send `n` requests at once; each records when it started and when it settled. */
  async function burst(gate: RateGate, n: number, answerMs = 0) {
    const log: { i: number; start: number; end: number }[] = [];
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        gate.run(async () => {
          const start = performance.now();
          if (answerMs) await new Promise((r) => setTimeout(r, answerMs));
          log.push({ i, start, end: performance.now() });
        }),
      ),
    );
    return log.sort((a, b) => a.start - b.start);
  }

  it('a hold read from an answer (429 Retry-After) keeps every other request of the gate back until it elapsed', async () => {
    const gate = new RateGate(5, 10);
    const starts: number[] = [];
    let held = 0;
    const first = gate.run(async () => 429, { holdAfter: (status) => (status === 429 ? 300 : undefined) });
    const answered = await first.then(() => performance.now());
    // Free slots are there (5), yet nothing leaves while the provider's Retry-After runs.
    expect(gate.held).toBe(true);
    await Promise.all(Array.from({ length: 4 }, () => gate.run(async () => void starts.push(performance.now()), { holdAfter: () => (held++, undefined) })));
    expect(held).toBe(4);
    for (const t of starts) expect(t - answered).toBeGreaterThanOrEqual(299);
    expect(gate.held).toBe(false);
  });

  it('lets `max` requests through at once, then each further one only a window after an earlier one settled', async () => {
    const gate = new RateGate(3, 150);
    const log = await burst(gate, 8);
    // Any max+1 consecutive requests span more than a window, so no window anywhere holds more than max.
    for (let k = 0; k + 3 < log.length; k++) expect(log[k + 3]!.start - log[k]!.start).toBeGreaterThanOrEqual(150);
    expect(gate.state).toEqual({ waiting: 0, inFlight: 0 });
  });

  it('a slow answer keeps its slot until a window after it settled (the provider may count it at its end)', async () => {
    const gate = new RateGate(1, 100);
    const log = await burst(gate, 3, 40);
    for (let k = 0; k + 1 < log.length; k++) expect(log[k + 1]!.start - log[k]!.end).toBeGreaterThanOrEqual(100);
  });

  it('serves waiters in arrival order and frees the slot when the request fails', async () => {
    const gate = new RateGate(1, 20);
    const order: number[] = [];
    const results = await Promise.allSettled(
      [0, 1, 2, 3].map((i) =>
        gate.run(async () => {
          order.push(i);
          if (i === 1) throw new Error('boom');
          return i;
        }),
      ),
    );
    expect(order).toEqual([0, 1, 2, 3]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  });

  it('a waiter gives up on the stop signal: never sent, and those behind it still served', async () => {
    const gate = new RateGate(1, 60_000);
    const sent: number[] = [];
    await gate.run(async () => sent.push(0)); // the one slot is now busy for a minute
    const stop = new AbortController();
    const waiting = [1, 2].map((i) => gate.run(async () => sent.push(i), { signal: stop.signal }));
    expect(gate.state.waiting).toBe(2);
    stop.abort();
    for (const w of waiting) await expect(w).rejects.toBeInstanceOf(GateStopped);
    expect(sent).toEqual([0]);
    expect(gate.state).toEqual({ waiting: 0, inFlight: 0 });
    await expect(gate.run(async () => sent.push(3), { signal: stop.signal })).rejects.toBeInstanceOf(GateStopped);
    expect(sent).toEqual([0]);
  });

  it('refuses a window of no requests', () => {
    expect(() => new RateGate(0, 1000)).toThrow(RangeError);
  });
});

describe('usefulConcurrency', () => {
  it.each([
    [1, 10_000, 11],
    [500, 10_000, 5500],
    [0.5, 1000, 2],
    [3, 15_000, 48],
  ])('qps %d, timeout %d ms → %d', (qps, timeoutMs, n) => {
    expect(usefulConcurrency(qps, timeoutMs)).toBe(n);
  });
});
