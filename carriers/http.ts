import http from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { ProviderError, type ProviderName } from './carrier.js';
import type { RateGate } from './rate-gate.js';

/**
 * Shared HTTP plumbing for the tracking provider clients. Every failure of the transport or of the
 * envelope becomes a ProviderError here, so adapters only deal with provider semantics and a bad
 * reply can never leak a socket error, a SyntaxError or a TypeError to the poll jobs.
 *
 * Plain node:http(s) with keep-alive agents: a poll is one small POST, and axios's per-request work
 * (config merging, header objects, interceptors, proxy lookup) cost ~0.2 ms of CPU per call, about a
 * tenth of a whole poll job. Proxy environment variables (HTTP_PROXY…) are not consulted.
 */

export interface HttpOptions {
  provider: ProviderName;
  baseUrl: string;
  timeoutMs: number;
  /**
   * Sockets kept per host: the provider's poll concurrency (each job has one call in flight at a time),
   * so the pool never queues a call the limiter already let through.
   */
  maxSockets: number;
  /** Every request goes through this gate (the provider's qps, exact per process); none in client tests. */
  gate?: RateGate;
}

export interface HttpReply {
  status: number;
  /** Parsed JSON body. */
  body: unknown;
  /** Raw text, kept for quarantine of per-number malformed items. */
  raw: string;
}

/** Connection errors that say nothing about the request itself: retry later. */
const TRANSIENT_CODES = new Set([
  'ECONNABORTED',
  'ETIMEDOUT',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND', // DNS hiccups are far more common than a wrong host in a validated config
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_NETWORK',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

/** Longest raw text kept on an error (quarantine rows and logs should stay small). */
const RAW_LIMIT = 4000;

export function clip(raw: string): string {
  return raw.length > RAW_LIMIT ? `${raw.slice(0, RAW_LIMIT)}…` : raw;
}

/**
 * Retry-After is either delta-seconds or an HTTP-date (RFC 9110 §10.2.3). `now` comes from the
 * injected clock so the date form is computed against the same time the scheduler uses.
 */
export function parseRetryAfter(value: unknown, now: Date): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now.getTime());
}

/** Response decoders for the encodings we accept. */
const DECODERS: Record<string, (b: Buffer) => Promise<Buffer>> = {
  gzip: promisify(zlib.gunzip),
  'x-gzip': promisify(zlib.gunzip),
  deflate: promisify(zlib.inflate),
  br: promisify(zlib.brotliDecompress),
};

interface RawResponse {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** A transport failure with the code the classifier looks at (node's own errors carry one already). */
function transportError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

export class ProviderHttp {
  private readonly agents: { http: http.Agent; https: https.Agent };
  private readonly base: string;

  constructor(private readonly opts: HttpOptions) {
    // Keep-alive: providers are polled in steady streams; a TLS handshake per query is wasted latency.
    this.agents = {
      http: new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets }),
      https: new https.Agent({ keepAlive: true, maxSockets: opts.maxSockets }),
    };
    this.base = opts.baseUrl.replace(/\/+$/, '');
  }

  get provider(): ProviderName {
    return this.opts.provider;
  }

  /** Release pooled sockets (tests, shutdown). */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  async postForm(path: string, form: Record<string, string>, now: Date): Promise<HttpReply> {
    const body = new URLSearchParams(form).toString();
    return this.send(path, body, { 'Content-Type': 'application/x-www-form-urlencoded;charset=utf-8' }, now);
  }

  async postJson(path: string, payload: unknown, headers: Record<string, string>, now: Date): Promise<HttpReply> {
    return this.send(path, JSON.stringify(payload), { ...headers, 'Content-Type': 'application/json' }, now);
  }

  /**
   * One POST; resolves with any status (we classify statuses ourselves) and the body as text (we parse
   * JSON ourselves, to keep the raw text on errors). No redirects are followed. `timeoutMs` bounds the
   * whole exchange, from sending to the last byte of the answer.
   */
  private post(path: string, data: string, headers: Record<string, string>): Promise<RawResponse> {
    const url = new URL(`${this.base}/${path.replace(/^\/+/, '')}`);
    const secure = url.protocol === 'https:';
    return new Promise<RawResponse>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | null, res?: RawResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(res!);
      };
      const req = (secure ? https : http).request(
        url,
        {
          method: 'POST',
          agent: secure ? this.agents.https : this.agents.http,
          headers: {
            Accept: 'application/json, text/plain, */*',
            'Accept-Encoding': 'gzip, deflate, br',
            'User-Agent': 'parcelwatch',
            ...headers,
            'Content-Length': Buffer.byteLength(data),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => finish(err));
          res.on('close', () => {
            if (!res.complete) finish(transportError('connection closed before the answer ended', 'ECONNRESET'));
          });
          res.on('end', () => {
            const encoding = String(res.headers['content-encoding'] ?? '').trim().toLowerCase();
            const decode = DECODERS[encoding];
            const raw = Buffer.concat(chunks);
            (decode ? decode(raw) : Promise.resolve(raw)).then(
              (body) => finish(null, { status: res.statusCode ?? 0, body: body.toString('utf8'), headers: res.headers }),
              (err: Error) => finish(transportError(`cannot decode ${encoding} body: ${err.message}`, 'EBADBODY')),
            );
          });
        },
      );
      const timer = setTimeout(() => {
        const err = transportError(`timeout of ${this.opts.timeoutMs}ms exceeded`, 'ETIMEDOUT');
        finish(err);
        req.destroy(err);
      }, this.opts.timeoutMs);
      req.on('error', (err) => finish(err));
      req.end(data);
    });
  }

  private async send(path: string, data: string, headers: Record<string, string>, now: Date): Promise<HttpReply> {
    const p = this.opts.provider;
    let status: number;
    let raw: string;
    let retryAfter: unknown;
    try {
      const post = () => this.post(path, data, headers);
      const res = await (this.opts.gate ? this.opts.gate.run(post) : post());
      status = res.status;
      raw = res.body;
      retryAfter = res.headers['retry-after'];
    } catch (err) {
      throw classifyTransportError(p, err);
    }
    if (status === 429) {
      const retryAfterMs = parseRetryAfter(retryAfter, now);
      throw new ProviderError(p, 'transient', 'rate limited (429)', { status, raw: clip(raw), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    }
    if (status >= 500) throw new ProviderError(p, 'transient', `server error ${status}`, { status, raw: clip(raw) });
    if (status === 401 || status === 403) throw new ProviderError(p, 'auth', `HTTP ${status}: credentials refused`, { status, raw: clip(raw) });
    // 404/405 mean a wrong baseUrl or path: an operator problem, like auth, not worth retrying.
    if (status === 404 || status === 405) throw new ProviderError(p, 'auth', `HTTP ${status}: endpoint not found (check baseUrl)`, { status, raw: clip(raw) });
    if (status < 200 || status >= 300) throw new ProviderError(p, 'malformed', `unexpected HTTP ${status}`, { status, raw: clip(raw) });
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      throw new ProviderError(p, 'malformed', 'reply is not JSON', { status, raw: clip(raw) });
    }
    return { status, body, raw };
  }
}

export function classifyTransportError(provider: ProviderName, err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  const code = typeof (err as { code?: unknown } | null)?.code === 'string' ? (err as { code: string }).code : '';
  const message = err instanceof Error ? err.message : String(err);
  if (TRANSIENT_CODES.has(code)) {
    const what = code === 'ECONNABORTED' || code === 'ETIMEDOUT' ? 'timeout' : code;
    return new ProviderError(provider, 'transient', `${what}: ${message}`);
  }
  // Anything else from the transport (TLS errors, an undecodable body) is unknown; retrying is the safer
  // default because a breaker stops us from hammering a provider that keeps failing.
  if (code) return new ProviderError(provider, 'transient', `transport error ${code}: ${message}`);
  return new ProviderError(provider, 'transient', `unexpected error: ${message}`);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Provider codes arrive as strings or numbers depending on the endpoint and doc version. */
export function codeString(v: unknown): string | null {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'string' && v.trim() !== '') return v.trim();
  return null;
}

export function textOf(v: unknown): string {
  return typeof v === 'string' ? v : v == null ? '' : String(v);
}

/** Last four digits of a phone (virtual numbers like 138****1234-5678 use the part after '-'). */
export function phoneLast4(phone: string | null | undefined): string | null {
  if (!phone) return null;
  const part = phone.includes('-') ? phone.slice(phone.lastIndexOf('-') + 1) : phone;
  const digits = part.replace(/\D/g, '');
  return digits.length >= 4 ? digits.slice(-4) : null;
}

/**
 * Providers differ in order (Kuaidi100 newest first, Kdniao oldest first, 17TRACK newest first) and
 * carriers sometimes scan out of order, so every parser returns events ascending by time. The sort is
 * stable: same-second events keep the provider's order for the same direction.
 */
export function sortAscending<T extends { occurredAt: Date }>(events: T[]): T[] {
  return events
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.occurredAt.getTime() - b.e.occurredAt.getTime() || a.i - b.i)
    .map((x) => x.e);
}
