import { createHmac, randomUUID } from 'node:crypto';
import type { Clock } from '../../domain/clock.js';
import type { CustomerEvent, CustomerMessage } from '../../domain/outreach.js';
import { ChannelError } from '../channel-error.js';
import { httpCall, parseJson, statusError } from '../http.js';
import type { CustomerChannel } from './channel.js';

export interface AliyunSmsConfig {
  endpoint: string;
  accessKeyId: string;
  accessKeySecret: string;
  signName: string;
  templateCodes: { hubMoved: string; outForDelivery: string; delivered: string };
  timeoutMs: number;
}

export interface AliyunSmsDeps {
  clock: Clock;
  /** SignatureNonce source; must differ per request (default: random UUID). */
  nonce?: () => string;
}

const TEMPLATE_KEY: Record<CustomerEvent, keyof AliyunSmsConfig['templateCodes']> = {
  'customer.hub_moved': 'hubMoved',
  'customer.out_for_delivery': 'outForDelivery',
  'customer.delivered': 'delivered',
};

/**
 * Codes worth retrying. isv.BUSINESS_LIMIT_CONTROL is the per-number rate control (1/min, 5/h, 10/day
 * by default; the hour/day limits clear only later, so the delivery backoff matters).
 * Throttling.* and isp.SYSTEM_ERROR / ServiceUnavailable are provider-side congestion.
 */
function isTransientCode(code: string): boolean {
  return code === 'isv.BUSINESS_LIMIT_CONTROL' || code.startsWith('Throttling') || code === 'isp.SYSTEM_ERROR' || code === 'ServiceUnavailable';
}

/**
 * Alibaba Cloud's percent-encoding for RPC signatures: RFC 3986 unreserved characters stay, everything
 * else is %XX of the UTF-8 bytes — i.e. Java URLEncoder plus `+`→`%20`, `*`→`%2A`, `%7E`→`~`.
 * encodeURIComponent already leaves `~` and encodes spaces as %20, but leaves `!'()*`, so those are encoded here.
 */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Sorted, percent-encoded `k=v&…` (every parameter except Signature). */
export function canonicalQuery(params: Record<string, string>): string {
  return Object.keys(params)
    .filter((k) => k !== 'Signature')
    .sort() // byte order of ASCII keys, as Alibaba requires
    .map((k) => `${percentEncode(k)}=${percentEncode(params[k]!)}`)
    .join('&');
}

/** Signature v1: base64(HMAC-SHA1(secret + "&", METHOD + "&%2F&" + percentEncode(canonicalQuery))). */
export function rpcSignature(method: 'GET' | 'POST', params: Record<string, string>, accessKeySecret: string): string {
  const stringToSign = `${method}&${percentEncode('/')}&${percentEncode(canonicalQuery(params))}`;
  return createHmac('sha1', `${accessKeySecret}&`).update(stringToSign, 'utf8').digest('base64');
}

/** `yyyy-MM-ddTHH:mm:ssZ` in UTC (no milliseconds). */
export function aliyunTimestamp(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Mainland mobile number as SendSms expects (11 digits; a +86/86 prefix is dropped). */
export function normalizeMainlandMobile(contact: string): string | null {
  const digits = contact.replace(/[\s-]/g, '');
  const m = /^(?:\+?86)?(1\d{10})$/.exec(digits);
  return m ? m[1]! : null;
}

/**
 * Alibaba Cloud SMS SendSms (dysmsapi, API version 2017-05-25) via the RPC style with signature v1,
 * as a signed GET on `endpoint/?…`. Reply {"Code":"OK","Message":"OK","BizId":…,"RequestId":…}.
 * Business errors arrive as HTTP 200 with another Code; signature/auth errors as HTTP 4xx with a Code body.
 */
export class AliyunSmsChannel implements CustomerChannel {
  readonly name = 'sms' as const;
  private readonly nonce: () => string;

  constructor(
    private readonly cfg: AliyunSmsConfig,
    private readonly deps: AliyunSmsDeps,
  ) {
    this.nonce = deps.nonce ?? randomUUID;
  }

  /** The full parameter set of one SendSms call, Signature included. */
  buildParams(msg: CustomerMessage): Record<string, string> {
    const phone = normalizeMainlandMobile(msg.contact);
    if (!phone) throw new ChannelError('permanent', 'sms: contact is not a mainland mobile number');
    const templateCode = this.cfg.templateCodes[TEMPLATE_KEY[msg.event]];
    if (!templateCode) throw new ChannelError('permanent', `sms: no template code configured for ${msg.event}`);
    if (!this.cfg.accessKeyId || !this.cfg.accessKeySecret || !this.cfg.signName) {
      throw new ChannelError('permanent', 'sms: accessKeyId, accessKeySecret and signName are required');
    }
    const params: Record<string, string> = {
      AccessKeyId: this.cfg.accessKeyId,
      Action: 'SendSms',
      Format: 'JSON',
      PhoneNumbers: phone,
      RegionId: 'cn-hangzhou',
      SignName: this.cfg.signName,
      SignatureMethod: 'HMAC-SHA1',
      SignatureNonce: this.nonce(),
      SignatureVersion: '1.0',
      TemplateCode: templateCode,
      TemplateParam: JSON.stringify(msg.params),
      Timestamp: aliyunTimestamp(this.deps.clock.now()),
      Version: '2017-05-25',
      // OutId is echoed in delivery receipts; lets a receipt be matched to the notification.
      OutId: msg.idempotencyKey.slice(0, 64),
    };
    params.Signature = rpcSignature('GET', params, this.cfg.accessKeySecret);
    return params;
  }

  async send(msg: CustomerMessage): Promise<void> {
    const params = this.buildParams(msg);
    const base = this.cfg.endpoint.replace(/\/+$/, '');
    const url = `${base}/?Signature=${percentEncode(params.Signature!)}&${canonicalQuery(params)}`;
    const nowMs = this.deps.clock.now().getTime();
    const reply = await httpCall({ channel: this.name, method: 'GET', url, timeoutMs: this.cfg.timeoutMs, nowMs });
    const body = parseJson(reply.text) as { Code?: unknown; Message?: unknown } | null;
    const code = body && typeof body === 'object' && typeof body.Code === 'string' ? body.Code : null;
    if (code === 'OK' && reply.status >= 200 && reply.status < 300) return;
    if (reply.status >= 500 || reply.status === 429) throw statusError(this.name, reply, nowMs, code ?? '');
    if (code === null) {
      if (reply.status >= 400) throw statusError(this.name, reply, nowMs);
      throw new ChannelError('permanent', `sms: unexpected reply ${reply.text.slice(0, 200)}`, { status: reply.status });
    }
    const kind = isTransientCode(code) ? 'transient' : 'permanent';
    throw new ChannelError(kind, `sms: ${code} ${String(body?.Message ?? '')}`.trim(), { status: reply.status });
  }
}
