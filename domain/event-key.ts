import { createHash } from 'node:crypto';

/**
 * Idempotency key of a carrier event: the same scan re-sent in every reply (providers resend the whole
 * history) gets the same key, whichever provider relayed it. Whitespace and full-width spaces are
 * normalised because aggregators reformat texts.
 */
export function eventKey(occurredAt: Date, text: string): string {
  const norm = text.replace(/[\s\u3000]+/g, '');
  return createHash('sha1').update(`${occurredAt.toISOString()}|${norm}`).digest('base64url').slice(0, 22);
}
