import { z } from 'zod';

/**
 * Text that arrives from outside (API bodies, import files) and is stored or sent on: what Postgres can store,
 * and how long each kind of free text may be.
 */

/**
 * Longest accepted free text per field, in characters. Generous for real data (a Taobao nickname is at most
 * 20 characters, a Chinese name rarely 10, an agent's note a few sentences) and small enough that one item
 * cannot carry a megabyte into every list, webhook and CSV that repeats it.
 */
export const TEXT_LIMITS = {
  orderId: 64,
  customerName: 100,
  customerPhone: 32,
  customerHandle: 100,
  agent: 64,
  note: 1000,
} as const;

/**
 * Why `s` cannot be stored as Postgres text, or null when it can. Postgres text cannot hold U+0000, and a
 * lone UTF-16 surrogate (valid in a JS string, possible through JSON's \ud800 escape) has no UTF-8 form: the
 * driver would store U+FFFD in its place, silently changing the value.
 */
export function unstorable(s: string): string | null {
  if (s.includes('\u0000')) return 'contains a NUL character (U+0000), which cannot be stored';
  if (!(s as string & { isWellFormed(): boolean }).isWellFormed()) return 'contains a lone UTF-16 surrogate (not valid Unicode), which cannot be stored';
  return null;
}

/** `unstorable` plus the length cap: the problem with `s` as a field capped at `max` characters, or null. */
export function textProblem(s: string, max: number): string | null {
  return unstorable(s) ?? (s.length > max ? `is longer than ${max} characters (${s.length})` : null);
}

/** A zod string field of free text: storable and at most `max` characters (see TEXT_LIMITS). */
export const storableString = (max: number) =>
  z.string().superRefine((v, ctx) => {
    const problem = textProblem(v, max);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/**
 * Text from a carrier (a scan line, a hub name, a raw reply) made storable instead of refused: unlike a shop's
 * own input, nobody can correct it and the carrier sends it again on every poll, so refusing it would leave the
 * parcel untracked for good. U+0000 is dropped, a lone surrogate becomes U+FFFD (what the driver would store).
 */
export function storableText(s: string): string {
  // Surrogates first: dropping a NUL between two lone halves must not join them into a pair (storableJsonText
  // makes each U+FFFD too).
  const whole = (s as string & { isWellFormed(): boolean }).isWellFormed() ? s : (s as string & { toWellFormed(): string }).toWellFormed();
  return whole.includes('\u0000') ? whole.replaceAll('\u0000', '') : whole;
}

/** Whether storableText would change `s` (the common case is no: checked before copying an event). */
export function needsStorable(s: string | null): boolean {
  return s !== null && (s.includes('\u0000') || !(s as string & { isWellFormed(): boolean }).isWellFormed());
}
