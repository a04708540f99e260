import { AxiosError } from 'axios';
import { describe, expect, it } from 'vitest';
import { ChannelError, classifyAxiosError, parseRetryAfter, requireHttpUrl } from './channel-error.js';

describe('classifyAxiosError', () => {
  it('network codes are transient', () => {
    for (const code of ['ECONNABORTED', 'ETIMEDOUT', 'ECONNRESET', 'ECONNREFUSED']) {
      expect(classifyAxiosError(new AxiosError('x', code), 'webhook').kind).toBe('transient');
    }
  });

  it('bad URL and unknown errors are permanent; ChannelErrors pass through', () => {
    expect(classifyAxiosError(new AxiosError('bad', 'ERR_INVALID_URL'), 'webhook').kind).toBe('permanent');
    expect(classifyAxiosError(new Error('boom'), 'webhook').kind).toBe('permanent');
    const e = new ChannelError('transient', 'keep');
    expect(classifyAxiosError(e, 'webhook')).toBe(e);
  });

  it('requireHttpUrl rejects non-http URLs as permanent', () => {
    expect(() => requireHttpUrl('ftp://x', 'webhook')).toThrow(ChannelError);
    expect(() => requireHttpUrl('', 'webhook')).toThrow(/invalid URL/);
    expect(requireHttpUrl('https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k', 'wecom').host).toBe('qyapi.weixin.qq.com');
  });

  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfter('3', 0)).toBe(3000);
    expect(parseRetryAfter('Thu, 12 Nov 2026 02:30:10 GMT', Date.parse('2026-11-12T02:30:00Z'))).toBe(10_000);
    expect(parseRetryAfter(undefined, 0)).toBeUndefined();
  });
});
