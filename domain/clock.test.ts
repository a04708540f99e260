import { describe, expect, it } from 'vitest';
import { CLOCK_OFFSET_ENV, daemonClock, systemClock } from './clock.js';

describe('daemonClock (PARCELWATCH_CLOCK_OFFSET_MS, tests of skewed replicas)', () => {
  it('is the system clock when the variable is unset or empty', () => {
    expect(daemonClock({}).clock).toBe(systemClock);
    expect(daemonClock({ [CLOCK_OFFSET_ENV]: '' }).offsetMs).toBe(0);
  });

  it('moves the clock by the offset, ahead and behind', () => {
    for (const offset of [90_000, -90_000]) {
      const { clock, offsetMs } = daemonClock({ [CLOCK_OFFSET_ENV]: String(offset) });
      expect(offsetMs).toBe(offset);
      const before = Date.now();
      const t = clock.now().getTime();
      const after = Date.now();
      expect(t).toBeGreaterThanOrEqual(before + offset);
      expect(t).toBeLessThanOrEqual(after + offset);
    }
  });

  it('refuses what is not an integer within a day, naming the variable', () => {
    for (const bad of ['abc', '1.5', '90s', String(2 * 86_400_000)]) {
      expect(() => daemonClock({ [CLOCK_OFFSET_ENV]: bad })).toThrow(CLOCK_OFFSET_ENV);
    }
  });
});
