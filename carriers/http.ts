import http from 'node:http';
import https from 'node:https';
import axios, { AxiosError, type AxiosInstance } from 'axios';
import { ProviderError, type ProviderName } from './carrier.js';
import { GlobalRateGateError } from './global-rate-gate.js';
import { GateStopped, type RateGate } from './rate-gate.js';

/**
 * Shared HTTP plumbing for the tracking provider clients. Every failure of the transport or of the
 * envelope becomes a ProviderError here, so adapters only deal with provider semantics and a bad
 * reply can never leak an AxiosError, a SyntaxError or a TypeError to the poll jobs.
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

export class ProviderHttp {
  readonly axios: AxiosInstance;
  private readonly agents: { http: http.Agent; https: https.Agent };

  constructor(private readonly opts: HttpOptions) {
    // Keep-alive: providers are polled in steady streams; a TLS handshake per query is wasted latency.
    this.agents = {
      http: new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets }),
      https: new https.Agent({ keepAlive: true, maxSockets: opts.maxSockets }),
    };
    this.axios = axios.create({
      baseURL: opts.baseUrl.replace(/\/+$/, ''),
      timeout: opts.timeoutMs,
      httpAgent: this.agents.http,
      httpsAgent: this.agents.https,
      // We classify statuses ourselves and parse JSON ourselves (to keep the raw text on errors).
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      maxRedirects: 0,
    });
  }

  get provider(): ProviderName {
    return this.opts.provider;
  }

  /** Release pooled sockets (tests, shutdown). */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  /** `signal`: the daemon stopping (ProviderContext.signal): a request not yet sent never is, one in flight is cut. */
  async postForm(path: string, form: Record<string, string>, now: Date, signal?: AbortSignal): Promise<HttpReply> {
    const body = new URLSearchParams(form).toString();
    return this.send(path, body, { 'Content-Type': 'application/x-www-form-urlencoded;charset=utf-8' }, now, undefined, signal);
  }

  async postJson(path: string, payload: unknown, headers: Record<string, string>, now: Date, signal?: AbortSignal): Promise<HttpReply> {
    return this.send(path, JSON.stringify(payload), { ...headers, 'Content-Type': 'application/json' }, now, undefined, signal);
  }

  /** GET with a query string (Kuaidi100's autonumber); same classification of the answer as the POSTs. */
  async get(path: string, query: Record<string, string>, now: Date, signal?: AbortSignal): Promise<HttpReply> {
    return this.send(path, null, {}, now, query, signal);
  }

  private async send(path: string, data: string | null, headers: Record<string, string>, now: Date, query?: Record<string, string>, signal?: AbortSignal): Promise<HttpReply> {
    const p = this.opts.provider;
    let status: number;
    let raw: string;
    let retryAfter: unknown;
    try {
      const opts = { headers, ...(signal ? { signal } : {}) };
      const call = () => (data === null ? this.axios.get<string>(path, { params: query, ...opts }) : this.axios.post<string>(path, data, opts));
      // A 429's Retry-After holds the provider's whole gate (every job of this process), not only this job.
      const holdAfter = (r: { status: number; headers: Record<string, unknown> }) => (r.status === 429 ? parseRetryAfter(r.headers['retry-after'], now) : undefined);
      const res = await (this.opts.gate ? this.opts.gate.run(call, { signal, holdAfter }) : call());
      status = res.status;
      raw = typeof res.data === 'string' ? res.data : String(res.data ?? '');
      retryAfter = res.headers['retry-after'];
    } catch (err) {
      throw gateRefusal(p, err, signal) ?? classifyTransportError(p, err);
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

/** A gate's refusal (stopping, shared stage unreachable) as a transient ProviderError: the request was not sent (or was cut). */
function gateRefusal(p: ProviderName, err: unknown, signal?: AbortSignal): ProviderError | null {
  if (err instanceof GateStopped || signal?.aborted) return new ProviderError(p, 'transient', 'stopping: request not sent or cut', { stopped: true });
  if (err instanceof GlobalRateGateError) return new ProviderError(p, 'transient', `not sent: ${err.message}`, { notSent: true });
  return null;
}

/**
 * `send` (ProviderHttp calls, themselves behind the account's gate) through one more gate when there is
 * one: the subscription rate. Its refusals become transient ProviderErrors like ProviderHttp's own.
 */
export async function throughGate<T>(provider: ProviderName, gate: RateGate | undefined, send: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!gate) return send();
  try {
    return await gate.run(send, signal ? { signal } : {});
  } catch (err) {
    if (err instanceof ProviderError) throw err;
    throw gateRefusal(provider, err, signal) ?? err;
  }
}

export function classifyTransportError(provider: ProviderName, err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  if (err instanceof AxiosError) {
    const code = err.code ?? (err.cause as { code?: string } | undefined)?.code ?? '';
    if (TRANSIENT_CODES.has(code)) {
      const what = code === 'ECONNABORTED' || code === 'ETIMEDOUT' ? 'timeout' : code;
      return new ProviderError(provider, 'transient', `${what}: ${err.message}`);
    }
    // Anything else from the transport (TLS errors, bad URL) is unknown; retrying is the safer default
    // because a breaker stops us from hammering a provider that keeps failing.
    return new ProviderError(provider, 'transient', `transport error ${code || ''}: ${err.message}`.trim());
  }
  const message = err instanceof Error ? err.message : String(err);
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
