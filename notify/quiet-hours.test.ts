import { describe, expect, it } from 'vitest';
import { businessDayStart, quietUntil } from './quiet-hours.js';

const TZ = 'Asia/Shanghai';
const night = { enabled: true, start: '22:00', end: '08:00' };
/** Shanghai wall time → instant (UTC+8, no DST). */
const sh = (s: string) => new Date(`${s}+08:00`);

describe('quietUntil (22:00–08:00 Asia/Shanghai)', () => {
  it('21:59 is not quiet, 22:00 is', () => {
    expect(quietUntil(sh('2026-11-12T21:59:59'), night, TZ)).toBeNull();
    expect(quietUntil(sh('2026-11-12T22:00:00'), night, TZ)?.toISOString()).toBe(sh('2026-11-13T08:00:00').toISOString());
  });

  it('after midnight the end is the same local day', () => {
    expect(quietUntil(sh('2026-11-13T00:00:00'), night, TZ)?.toISOString()).toBe(sh('2026-11-13T08:00:00').toISOString());
    expect(quietUntil(sh('2026-11-13T07:59:59'), night, TZ)?.toISOString()).toBe(sh('2026-11-13T08:00:00').toISOString());
  });

  it('08:00 is not quiet; the day is not quiet', () => {
    expect(quietUntil(sh('2026-11-13T08:00:00'), night, TZ)).toBeNull();
    expect(quietUntil(sh('2026-11-13T12:00:00'), night, TZ)).toBeNull();
  });

  it('23:30 on the last day of a month ends on the first of the next', () => {
    expect(quietUntil(sh('2026-11-30T23:30:00'), night, TZ)?.toISOString()).toBe(sh('2026-12-01T08:00:00').toISOString());
    expect(quietUntil(sh('2026-12-31T22:00:00'), night, TZ)?.toISOString()).toBe(sh('2027-01-01T08:00:00').toISOString());
  });

  it('is off when disabled or the window is empty', () => {
    expect(quietUntil(sh('2026-11-12T23:00:00'), { ...night, enabled: false }, TZ)).toBeNull();
    expect(quietUntil(sh('2026-11-12T23:00:00'), { enabled: true, start: '22:00', end: '22:00' }, TZ)).toBeNull();
  });
});

describe('quietUntil (same-day window 12:00–14:00)', () => {
  const noon = { enabled: true, start: '12:00', end: '14:00' };
  it('respects both boundaries', () => {
    expect(quietUntil(sh('2026-11-12T11:59:00'), noon, TZ)).toBeNull();
    expect(quietUntil(sh('2026-11-12T12:00:00'), noon, TZ)?.toISOString()).toBe(sh('2026-11-12T14:00:00').toISOString());
    expect(quietUntil(sh('2026-11-12T13:59:00'), noon, TZ)?.toISOString()).toBe(sh('2026-11-12T14:00:00').toISOString());
    expect(quietUntil(sh('2026-11-12T14:00:00'), noon, TZ)).toBeNull();
  });
});

describe('quietUntil in a DST zone', () => {
  it('ends at local 08:00 after the spring-forward night (Europe/Berlin)', () => {
    // 2026-03-29: clocks go from 02:00 to 03:00 CET→CEST; 08:00 CEST = 06:00Z.
    const at = new Date('2026-03-28T22:30:00Z'); // 23:30 CET
    expect(quietUntil(at, night, 'Europe/Berlin')?.toISOString()).toBe('2026-03-29T06:00:00.000Z');
  });
});

describe('businessDayStart', () => {
  it('is local midnight in the business zone', () => {
    expect(businessDayStart(sh('2026-11-12T00:00:00'), TZ).toISOString()).toBe('2026-11-11T16:00:00.000Z');
    expect(businessDayStart(sh('2026-11-12T23:59:59'), TZ).toISOString()).toBe('2026-11-11T16:00:00.000Z');
    // 07:59 local (23:59Z the day before) belongs to the local day
    expect(businessDayStart(new Date('2026-11-11T23:59:00Z'), TZ).toISOString()).toBe('2026-11-11T16:00:00.000Z');
    expect(businessDayStart(new Date('2026-11-11T15:59:59Z'), TZ).toISOString()).toBe('2026-11-10T16:00:00.000Z');
  });
});
