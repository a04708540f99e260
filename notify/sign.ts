import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header carrying the body signature on every outgoing webhook. */
export const SIGNATURE_HEADER = 'X-Parcelwatch-Signature';

/** `sha256=<hex HMAC-SHA256 of the raw body>`; sign the exact bytes that are sent. */
export function signBody(secret: string, raw: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
}

/** Constant-time check of a `sha256=<hex>` header against the raw body. */
export function verifySignature(secret: string, raw: string | Buffer, header: string | string[] | null | undefined): boolean {
  if (typeof header !== 'string') return false;
  const expected = Buffer.from(signBody(secret, raw), 'utf8');
  const given = Buffer.from(header.trim(), 'utf8');
  if (given.length !== expected.length) return false;
  return timingSafeEqual(given, expected);
}
