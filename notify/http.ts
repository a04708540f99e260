import axios from 'axios';
import { ChannelError, classifyAxiosError, parseRetryAfter, requireHttpUrl } from './channel-error.js';

export interface HttpReply {
  status: number;
  headers: Record<string, unknown>;
  text: string;
}

export interface HttpCall {
  /** Channel name for error messages ("webhook", "wecom", …). */
  channel: string;
  method: 'GET' | 'POST';
  url: string;
  /** Sent byte for byte (signatures are computed over exactly this). */
  body?: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  /** For HTTP-date Retry-After values only. */
  nowMs?: number;
}

/**
 * One HTTP exchange through axios. Network failures (timeout, reset, refused) throw a classified
 * ChannelError; every HTTP status is returned so each channel can read provider error bodies.
 */
export async function httpCall(call: HttpCall): Promise<HttpReply> {
  requireHttpUrl(call.url, call.channel);
  try {
    const res = await axios.request<string>({
      method: call.method,
      url: call.url,
      // A Buffer passes axios' request transforms untouched (a string would be trimmed/re-encoded).
      ...(call.body === undefined ? {} : { data: Buffer.from(call.body, 'utf8') }),
      headers: { 'User-Agent': 'parcelwatch', ...call.headers },
      timeout: call.timeoutMs,
      transitional: { clarifyTimeoutError: true, silentJSONParsing: true, forcedJSONParsing: false },
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      maxRedirects: 0,
      maxContentLength: 1024 * 1024,
      validateStatus: () => true,
    });
    const text = typeof res.data === 'string' ? res.data : res.data == null ? '' : String(res.data);
    return { status: res.status, headers: { ...(res.headers as Record<string, unknown>) }, text };
  } catch (err) {
    throw classifyAxiosError(err, call.channel, call.nowMs ?? 0);
  }
}

/** ChannelError for a non-2xx status: 5xx/429/408 transient, other 4xx (and 3xx: redirects are not followed) permanent. */
export function statusError(channel: string, reply: HttpReply, nowMs = 0, detail = ''): ChannelError {
  const { status } = reply;
  const retryAfterMs = parseRetryAfter(reply.headers['retry-after'], nowMs);
  const opts = { status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  const msg = `${channel}: HTTP ${status}${detail ? ` ${detail}` : ''}`;
  if (status >= 500 || status === 429 || status === 408) return new ChannelError('transient', msg, opts);
  return new ChannelError('permanent', msg, opts);
}

export function isOk(reply: HttpReply): boolean {
  return reply.status >= 200 && reply.status < 300;
}

/** Parse a JSON reply body; null when it is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** Cut `text` to at most `maxBytes` UTF-8 bytes without splitting a character, marking the cut with `suffix`. */
export function truncateUtf8(text: string, maxBytes: number, suffix = '…'): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const budget = maxBytes - Buffer.byteLength(suffix, 'utf8');
  let out = '';
  let used = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (used + n > budget) break;
    out += ch;
    used += n;
  }
  return out + suffix;
}
