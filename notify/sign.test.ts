import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signBody, verifySignature } from './sign.js';

describe('signBody / verifySignature', () => {
  const raw = JSON.stringify({ event: 'outreach.created', task: { id: 1, orderId: 'TB-1', note: '客户' } });

  it('is sha256=<hex HMAC-SHA256 of the raw body>', () => {
    const hex = createHmac('sha256', 's3cret').update(Buffer.from(raw, 'utf8')).digest('hex');
    expect(signBody('s3cret', raw)).toBe(`sha256=${hex}`);
    expect(signBody('s3cret', Buffer.from(raw))).toBe(`sha256=${hex}`);
  });

  it('verifies with the right secret and body only', () => {
    const header = signBody('s3cret', raw);
    expect(verifySignature('s3cret', raw, header)).toBe(true);
    expect(verifySignature('wrong', raw, header)).toBe(false);
    expect(verifySignature('s3cret', raw + ' ', header)).toBe(false);
    expect(verifySignature('s3cret', raw, header.replace('sha256=', 'sha1='))).toBe(false);
    expect(verifySignature('s3cret', raw, 'sha256=00')).toBe(false);
    expect(verifySignature('s3cret', raw, undefined)).toBe(false);
    expect(verifySignature('s3cret', raw, [header])).toBe(false);
  });
});
