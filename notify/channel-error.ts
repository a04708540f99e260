import { isAxiosError } from 'axios';

export type ChannelErrorKind = 'transient' | 'permanent';

/**
 * A delivery failure. `transient` failures are retried (timeout, reset, 5xx, 429, provider rate limits);
 * `permanent` ones are not (4xx, bad URL, rejected by the provider for a reason a retry cannot fix).
 */
export class ChannelError extends Error {
  override readonly name = 'ChannelError';
  readonly kind: ChannelErrorKind;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(kind: ChannelErrorKind, message: string, opts: { status?: number; retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.kind = kind;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
  }

  get transient(): boolean {
    return this.kind === 'transient';
  }
}

export function isChannelError(err: unknown): err is ChannelError {
  return err instanceof ChannelError;
}

const TRANSIENT_CODES = new Set([
  'ECONNABORTED', // axios timeout (without transitional.clarifyTimeoutError)
  'ETIMEDOUT',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENOTFOUND', // DNS hiccups are usually temporary; a typo'd host keeps failing and exhausts attempts
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_SOCKET',
]);

const PERMANENT_CODES = new Set(['ERR_INVALID_URL', 'ERR_BAD_OPTION', 'ERR_BAD_OPTION_VALUE', 'ERR_NOT_SUPPORT']);

/** Parse a Retry-After header (seconds or HTTP date) relative to `nowMs`. */
export function parseRetryAfter(value: unknown, nowMs: number): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const s = value.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const at = Date.parse(s);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * Classify anything thrown by an axios call into a ChannelError.
 * `channel` prefixes the message (e.g. "wecom"); `nowMs` is only used for HTTP-date Retry-After values.
 */
export function classifyAxiosError(err: unknown, channel: string, nowMs = 0): ChannelError {
  if (err instanceof ChannelError) return err;
  if (isAxiosError(err)) {
    const status = err.response?.status;
    if (status !== undefined) {
      const retryAfterMs = parseRetryAfter(err.response?.headers?.['retry-after'], nowMs);
      const opts = { status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }), cause: err };
      if (status >= 500 || status === 429 || status === 408) {
        return new ChannelError('transient', `${channel}: HTTP ${status}`, opts);
      }
      return new ChannelError('permanent', `${channel}: HTTP ${status}`, opts);
    }
    const code = err.code ?? '';
    if (PERMANENT_CODES.has(code)) return new ChannelError('permanent', `${channel}: ${code} ${err.message}`, { cause: err });
    if (TRANSIENT_CODES.has(code) || err.request !== undefined) {
      // Request was sent (or attempted) but no reply: network trouble, retry.
      return new ChannelError('transient', `${channel}: ${code || 'network error'} ${err.message}`.trim(), { cause: err });
    }
    return new ChannelError('permanent', `${channel}: ${err.message}`, { cause: err });
  }
  if (err instanceof TypeError && /invalid url/i.test(err.message)) {
    return new ChannelError('permanent', `${channel}: invalid URL`, { cause: err });
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) {
    return new ChannelError('transient', `${channel}: ${code}`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ChannelError('permanent', `${channel}: ${message}`, { cause: err });
}

/** Validate an endpoint URL up front so a misconfiguration is permanent, not retried. */
export function requireHttpUrl(url: string, channel: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new ChannelError('permanent', `${channel}: invalid URL`, { cause: err });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ChannelError('permanent', `${channel}: unsupported URL scheme ${parsed.protocol}`);
  }
  return parsed;
}
