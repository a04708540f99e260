import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError } from './carrier.js';
import { ProviderHttp, parseRetryAfter, phoneLast4, sortAscending } from './http.js';

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

describe('ProviderHttp against a real local server', () => {
  const now = new Date('2026-11-12T00:00:00Z');
  let server: http.Server;
  let base: string;
  let seen: { path: string; headers: http.IncomingHttpHeaders; body: string }[];
  let answer: (req: http.IncomingMessage, res: http.ServerResponse) => void;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        answer(req, res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => {
    seen = [];
  });

  const client = (baseUrl = base) => new ProviderHttp({ provider: 'kuaidi100', baseUrl, timeoutMs: 2000, maxSockets: 2 });

  it('posts the body with its length onto the base path, and reads a gzip-encoded answer', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(JSON.stringify({ message: 'ok', text: '已签收' })));
    };
    const c = client(`${base}/prefix/`);
    try {
      const reply = await c.postForm('/poll/query.do', { param: '{"num":"YT1"}', customer: 'C' }, now);
      expect(reply).toMatchObject({ status: 200, body: { message: 'ok', text: '已签收' } });
      expect(seen[0]!.path).toBe('/prefix/poll/query.do');
      expect(seen[0]!.headers['content-type']).toBe('application/x-www-form-urlencoded;charset=utf-8');
      expect(Number(seen[0]!.headers['content-length'])).toBe(Buffer.byteLength(seen[0]!.body));
      expect(new URLSearchParams(seen[0]!.body).get('param')).toBe('{"num":"YT1"}');
    } finally {
      c.close();
    }
  });

  it('an answer cut off mid-body is transient; a redirect is not followed', async () => {
    const c = client();
    try {
      answer = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"message":');
        setTimeout(() => res.socket?.destroy(), 20);
      };
      const cut = await c.postJson('/x', [{ number: 'A' }], {}, now).catch((e: unknown) => e);
      expect(cut).toBeInstanceOf(ProviderError);
      expect((cut as ProviderError).kind).toBe('transient');

      answer = (_req, res) => {
        res.writeHead(302, { location: `${base}/elsewhere` });
        res.end();
      };
      const moved = await c.postJson('/x', [{ number: 'A' }], {}, now).catch((e: unknown) => e);
      expect(moved).toMatchObject({ kind: 'malformed', message: expect.stringContaining('unexpected HTTP 302') });
      expect(seen.map((s) => s.path)).toEqual(['/x', '/x']);
    } finally {
      c.close();
    }
  });
});
