import { describe, expect, it } from 'vitest';
import { parseRetryAfter, phoneLast4, sortAscending } from './http.js';

describe('http helpers', () => {
  const now = new Date('2026-11-12T00:00:00Z');

  it.each([
    ['5', 5000],
    ['0', 0],
    ['Thu, 12 Nov 2026 00:01:30 GMT', 90_000],
    ['Wed, 11 Nov 2026 23:00:00 GMT', 0], // a date in the past means "now"
  ])('Retry-After %s → %d ms', (v, ms) => {
    expect(parseRetryAfter(v, now)).toBe(ms);
  });

  it('missing or junk Retry-After → undefined', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });

  it.each([
    ['13812345678', '5678'],
    ['+86 138 1234 5678', '5678'],
    ['138****1234-5678', '5678'], // e-commerce virtual number: the extension after '-'
    ['123', null],
    [null, null],
  ])('phoneLast4(%s) → %s', (phone, last4) => {
    expect(phoneLast4(phone)).toBe(last4);
  });

  it('sortAscending is stable for equal times', () => {
    const t = (iso: string, id: string) => ({ occurredAt: new Date(iso), id });
    const sorted = sortAscending([t('2026-01-02T00:00:00Z', 'c'), t('2026-01-01T00:00:00Z', 'a'), t('2026-01-02T00:00:00Z', 'd')]);
    expect(sorted.map((e) => e.id)).toEqual(['a', 'c', 'd']);
  });
});
