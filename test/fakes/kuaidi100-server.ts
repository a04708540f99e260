import { createHash } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * Fake provider servers for client tests: real node:http servers on 127.0.0.1 speaking the providers'
 * wire formats. This file also holds the small scripting core shared by the Kdniao and 17TRACK fakes
 * (kept here because the fakes folder is limited to one file per provider).
 */

/** One scripted HTTP answer. */
export interface FakeReply {
  status?: number;
  /** JSON body (serialized). */
  json?: unknown;
  /** Raw body, sent as is (garbage, HTML error pages). */
  raw?: string;
  headers?: Record<string, string>;
  /** Wait this long before answering (forces client timeouts). */
  delayMs?: number;
  /** Drop the connection without answering (client sees ECONNRESET / socket hang up). */
  reset?: boolean;
}

export const reply = {
  json: (json: unknown, status = 200): FakeReply => ({ json, status }),
  garbage: (raw = '<html><body>502 Bad Gateway</body></html>', status = 200): FakeReply => ({ raw, status, headers: { 'content-type': 'text/html' } }),
  tooMany: (retryAfter = '2'): FakeReply => ({ status: 429, raw: 'Too Many Requests', headers: { 'retry-after': retryAfter } }),
  status: (status: number, raw = ''): FakeReply => ({ status, raw }),
  delay: (delayMs: number, then: FakeReply = { json: {} }): FakeReply => ({ ...then, delayMs }),
  reset: (): FakeReply => ({ reset: true }),
};

export interface RecordedRequest {
  /** Wall-clock ms when the request arrived (for rate tests). */
  at: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Tracking number(s) the request was about, when the fake could tell. */
  numbers: string[];
  /** Set by fakes that record their answers (the Kuaidi100 fake): wall-clock ms when the answer was sent. */
  answeredAt?: number;
  /**
   * Monotonic ms (fractional, CLOCK_MONOTONIC like the daemon's performance.now) at arrival and at answer:
   * intervals between two requests that neither wall-clock steps nor NTP slewing distort.
   */
  arrivedMono?: number;
  answeredMono?: number;
  /** What was answered: the HTTP status, and the fault mode when one was injected ('hang' never answers). */
  answer?: { status: number; fault?: Kuaidi100FaultKind };
}

/**
 * Replies queued per key (tracking number). Each call takes the next reply; the last one stays so a
 * journey can be polled repeatedly without re-scripting.
 */
export class ReplyQueue<T> {
  private readonly queues = new Map<string, T[]>();

  push(key: string, replies: T[]): void {
    const q = this.queues.get(key) ?? [];
    q.push(...replies);
    this.queues.set(key, q);
  }

  next(key: string): T | undefined {
    const q = this.queues.get(key);
    if (!q || q.length === 0) return undefined;
    return q.length > 1 ? q.shift() : q[0];
  }

  clear(key?: string): void {
    if (key === undefined) this.queues.clear();
    else this.queues.delete(key);
  }
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

export async function startServer(handle: (req: IncomingMessage, body: string, res: ServerResponse) => Promise<void> | void): Promise<RunningServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      Promise.resolve(handle(req, Buffer.concat(chunks).toString('utf8'), res)).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(599);
        res.end(String(err));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function send(res: ServerResponse, r: FakeReply): Promise<void> {
  if (r.delayMs) await new Promise((resolve) => setTimeout(resolve, r.delayMs));
  if (res.destroyed) return; // the client gave up (timeout) or the server is closing
  if (r.reset) {
    res.socket?.resetAndDestroy();
    return;
  }
  const body = r.raw ?? JSON.stringify(r.json ?? {});
  const headers = { 'content-type': r.raw !== undefined ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8', ...r.headers };
  res.writeHead(r.status ?? 200, headers);
  res.end(body);
}

export function md5Hex(s: string): string {
  return createHash('md5').update(s, 'utf8').digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Kuaidi100 poll/query.do

export const K100_NO_RESULT = { result: false, returnCode: '500', message: '查询无结果，请隔段时间再查' };

export interface Kuaidi100Fake extends RunningServer {
  requests: RecordedRequest[];
  /** Subscription params received (`POST /poll`), parsed, in order. */
  subscriptions: Record<string, unknown>[];
  /** Answer the next subscription of `num` with this returnCode (the last one sticks). */
  scriptSubscribe(num: string, ...codes: string[]): void;
  /** Queue replies for a tracking number (a FakeReply, or a plain object sent as JSON with 200). */
  script(num: string, ...replies: (FakeReply | Record<string, unknown>)[]): void;
  /** Require these last-4 phone digits for `num` (mismatch → 验证码错误, like SF/ZTO). */
  requirePhone(num: string, last4: string): void;
  /** What 智能判断 (GET /autonumber/auto) answers for `num`: these company codes, most likely first (default: none). */
  recognise(num: string, ...comCodes: string[]): void;
  /**
   * Inject a fault into the real-time queries (`poll/query.do`, after the signature check) until
   * `clearFault()`: every query, or only those of numbers `only` accepts. See {@link Kuaidi100Fault}.
   */
  fault(f: Kuaidi100Fault, opts?: { only?: (num: string) => boolean }): void;
  clearFault(): void;
  /** What an unscripted number answers (instead of 查询无结果): e.g. a journey built from the number. */
  setDefault(answer: (num: string) => FakeReply | Record<string, unknown> | undefined): void;
}

export type Kuaidi100FaultKind = 'status' | 'rate_limited' | 'hang' | 'garbage' | 'truncated';

/**
 * Fault modes of the Kuaidi100 fake (fault-injection suite):
 * - `status`: HTTP `status` (5xx) with a short text body;
 * - `rate_limited`: 429 with `Retry-After: retryAfterSeconds`;
 * - `hang`: the request is read and never answered (the client's timeout must end it);
 * - `garbage`: HTTP 200 with a non-JSON body (an HTML error page from a proxy);
 * - `truncated`: HTTP 200 with the number's normal JSON answer cut in the middle.
 */
export type Kuaidi100Fault =
  | { kind: 'status'; status: number }
  | { kind: 'rate_limited'; retryAfterSeconds: number }
  | { kind: 'hang' }
  | { kind: 'garbage'; raw?: string }
  | { kind: 'truncated' };

const monoMs = () => Number(process.hrtime.bigint()) / 1e6;

function faultReply(f: Kuaidi100Fault, normal: FakeReply): FakeReply | null {
  switch (f.kind) {
    case 'status':
      return reply.status(f.status, `HTTP ${f.status} from the fake`);
    case 'rate_limited':
      return reply.tooMany(String(f.retryAfterSeconds));
    case 'hang':
      return null;
    case 'garbage':
      return reply.garbage(f.raw);
    case 'truncated': {
      const full = normal.raw ?? JSON.stringify(normal.json ?? {});
      return { status: 200, raw: full.slice(0, Math.max(1, Math.floor(full.length / 2))), headers: { 'content-type': 'application/json; charset=utf-8' } };
    }
  }
}

function asReply(r: FakeReply | Record<string, unknown>): FakeReply {
  const keys = Object.keys(r);
  const isReply = keys.length > 0 && keys.every((k) => ['status', 'json', 'raw', 'headers', 'delayMs', 'reset'].includes(k));
  return isReply ? (r as FakeReply) : { json: r };
}

export async function startKuaidi100Fake(opts: { customer: string; key: string }): Promise<Kuaidi100Fake> {
  const requests: RecordedRequest[] = [];
  const scripts = new ReplyQueue<FakeReply>();
  const phones = new Map<string, string>();
  const subscriptions: Record<string, unknown>[] = [];
  const subscribeCodes = new ReplyQueue<string>();
  const recognised = new Map<string, string[]>();
  let injected: { f: Kuaidi100Fault; only?: (num: string) => boolean } | null = null;
  let fallback: ((num: string) => FakeReply | Record<string, unknown> | undefined) | null = null;
  /** Answer a query and record what was answered (and when) on its request. */
  const answer = async (rec: RecordedRequest, res: ServerResponse, r: FakeReply, fault?: Kuaidi100FaultKind) => {
    await send(res, r);
    rec.answeredAt = Date.now();
    rec.answeredMono = monoMs();
    rec.answer = { status: r.status ?? 200, ...(fault ? { fault } : {}) };
  };
  const server = await startServer(async (req, body, res) => {
    const rec: RecordedRequest = { at: Date.now(), arrivedMono: monoMs(), method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, numbers: [] };
    requests.push(rec);
    const url = new URL(req.url ?? '/', 'http://fake');
    if (req.method === 'GET' && url.pathname === '/autonumber/auto') {
      // 智能判断: key in the query string, no signature; the answer is a bare array of candidate companies.
      const num = url.searchParams.get('num') ?? '';
      rec.numbers.push(num);
      if (url.searchParams.get('key') !== opts.key) return send(res, reply.json({ returnCode: '600', message: '您不是合法的订阅者（即授权Key出错）' }));
      const codes = recognised.get(num) ?? [];
      return send(res, reply.json(codes.map((comCode) => ({ comCode, lengthPre: num.length, noCount: 1, noPre: num.slice(0, 4) }))));
    }
    if (req.method === 'POST' && req.url === '/poll') return subscribe(body, rec, res);
    if (req.method !== 'POST' || req.url !== '/poll/query.do') return send(res, reply.status(404, 'not found'));
    if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
      // Per the vendor FAQ a non-form body shows up as 400 找不到对应公司.
      return send(res, reply.json({ result: false, returnCode: '400', message: '找不到对应公司' }));
    }
    const form = new URLSearchParams(body);
    const customer = form.get('customer') ?? '';
    const param = form.get('param') ?? '';
    const sign = form.get('sign') ?? '';
    if (customer !== opts.customer) return send(res, reply.json({ result: false, returnCode: '400', message: '找不到对应公司' }));
    // Signature recipe: upper-case MD5(param + key + customer) over the exact param string.
    if (sign !== md5Hex(param + opts.key + opts.customer).toUpperCase()) {
      return send(res, reply.json({ result: false, returnCode: '503', message: '验证签名失败' }));
    }
    let p: Record<string, unknown>;
    try {
      p = JSON.parse(param) as Record<string, unknown>;
    } catch {
      return send(res, reply.json({ result: false, returnCode: '400', message: '找不到对应公司' }));
    }
    const num = typeof p.num === 'string' ? p.num : '';
    rec.numbers.push(num);
    if (typeof p.com !== 'string' || !p.com || !num) return send(res, reply.json({ result: false, returnCode: '400', message: '找不到对应公司' }));
    const wantPhone = phones.get(num);
    if (wantPhone !== undefined && p.phone !== wantPhone) {
      return send(res, reply.json({ result: false, returnCode: '408', message: '快递公司参数异常：验证码错误' }));
    }
    const scripted = scripts.next(num);
    const byDefault = scripted ? undefined : fallback?.(num);
    const normal = scripted ?? (byDefault !== undefined ? asReply(byDefault) : reply.json(K100_NO_RESULT));
    if (injected && (!injected.only || injected.only(num))) {
      const r = faultReply(injected.f, normal);
      rec.answer = { status: 0, fault: injected.f.kind };
      if (r === null) return; // hang: never answered; closed when the client gives up or the fake closes
      return answer(rec, res, r, injected.f.kind);
    }
    return answer(rec, res, normal);
  });
  /**
   * Subscription (`POST /poll`, form schema=json + param with `key` inside, no sign). Codes per the
   * subscription doc: 200 submitted, 501 repeated subscription, 600 invalid key, 700 bad data/callback URL.
   * A scripted code answers as is; otherwise a second subscription of a number answers 501.
   */
  const subscribed = new Set<string>();
  const MESSAGES: Record<string, string> = { '200': '提交成功', '500': '服务器错误', '501': '重复订阅', '600': '您不是合法的订阅者（即授权Key出错）', '601': 'POLL:KEY已过期', '700': '订阅方的订阅数据存在错误（如不支持的快递公司、单号为空、单号超长等）或错误的回调地址', '701': '订阅的快递公司不支持', '702': 'POLL:识别不到该单号对应的快递公司' };
  const subscribeReply = (code: string) => reply.json({ result: code === '200', returnCode: code, message: MESSAGES[code] ?? '未知错误' });
  function subscribe(body: string, rec: RecordedRequest, res: ServerResponse) {
    const form = new URLSearchParams(body);
    if (form.get('schema') !== 'json') return send(res, subscribeReply('700'));
    let p: Record<string, unknown>;
    try {
      p = JSON.parse(form.get('param') ?? '') as Record<string, unknown>;
    } catch {
      return send(res, subscribeReply('700'));
    }
    subscriptions.push(p);
    const num = typeof p.number === 'string' ? p.number : '';
    rec.numbers.push(num);
    const scripted = subscribeCodes.next(num);
    if (scripted) return send(res, subscribeReply(scripted));
    if (p.key !== opts.key) return send(res, subscribeReply('600'));
    const params = (p.parameters ?? {}) as Record<string, unknown>;
    if (!num || typeof p.company !== 'string' || !/^https?:\/\//.test(String(params.callbackurl ?? ''))) return send(res, subscribeReply('700'));
    if (subscribed.has(num)) return send(res, subscribeReply('501'));
    subscribed.add(num);
    return send(res, subscribeReply('200'));
  }
  return {
    ...server,
    requests,
    subscriptions,
    scriptSubscribe: (num, ...codes) => subscribeCodes.push(num, codes),
    script: (num, ...replies) => scripts.push(num, replies.map(asReply)),
    requirePhone: (num, last4) => void phones.set(num, last4),
    recognise: (num, ...comCodes) => void recognised.set(num, comCodes),
    fault: (f, o = {}) => void (injected = { f, ...o }),
    clearFault: () => void (injected = null),
    setDefault: (fn) => void (fallback = fn),
  };
}
