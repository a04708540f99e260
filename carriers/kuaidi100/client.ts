import { createHash } from 'node:crypto';
import type { Config } from '../../config/schema.js';
import { ProviderError, type ProviderContext, type SubscribeResult, type TrackRequest, type TrackResult, type TrackingProvider } from '../carrier.js';
import { providerCarrierCode } from '../carrier-codes.js';
import { RateGate } from '../rate-gate.js';
import { ProviderHttp, clip, codeString, isRecord, phoneLast4, textOf } from '../http.js';
import { parseKuaidi100Reply } from './parse.js';

export type Kuaidi100Config = Config['providers']['kuaidi100'];

/** Kuaidi100 requires the phone's last four digits for these companies (current doc: 顺丰速运, 顺丰快运, 中通快递). */
const PHONE_REQUIRED = new Set(['shunfeng', 'shunfengkuaiyun', 'zhongtong']);

/** sign = upper-case MD5(param + key + customer), `param` being the exact JSON string sent. */
export function kuaidi100Sign(param: string, key: string, customer: string): string {
  return createHash('md5').update(param + key + customer, 'utf8').digest('hex').toUpperCase();
}

/**
 * Kuaidi100 real-time query (`poll/query.do`). One number per call, so maxBatch is 1; the per-number
 * floor and the 48-per-24 h lock are enforced by the poll planner, not here.
 */
export class Kuaidi100Provider implements TrackingProvider {
  readonly name = 'kuaidi100' as const;
  readonly maxBatch = 1;
  private readonly http: ProviderHttp;
  /**
   * The subscription endpoint has its own, much higher limit (about 20/s) than the real-time query
   * (1/s), so it does not share the query gate: it has its own (push.subscribe.qps.kuaidi100).
   */
  private readonly subscribeHttp: ProviderHttp;
  /** The detection API lives on another host (www.kuaidi100.com); it shares the account's rate gate. */
  private readonly autonumber: ProviderHttp;

  /** Every request's rate gate (the daemon attaches the shared stage to it: carriers/global-rate-gate.ts). */
  readonly gate: RateGate | undefined;
  /** The subscription requests' rate gate (push.subscribe.qps; shared stage attached like `gate`'s). */
  readonly subscribeGate: RateGate | undefined;

  /** `gate`, `subscribeGate`: the per-process request limits (createProviders passes them; client tests run without). */
  constructor(
    private readonly cfg: Kuaidi100Config,
    opts: { gate?: RateGate; subscribeGate?: RateGate } = {},
  ) {
    this.gate = opts.gate;
    this.subscribeGate = opts.subscribeGate;
    const gate = opts.gate ? { gate: opts.gate } : {};
    this.http = new ProviderHttp({ provider: 'kuaidi100', baseUrl: cfg.baseUrl, timeoutMs: cfg.timeoutMs, maxSockets: cfg.concurrency, ...gate });
    this.autonumber = new ProviderHttp({ provider: 'kuaidi100', baseUrl: cfg.autonumberUrl, timeoutMs: cfg.timeoutMs, maxSockets: 2, ...gate });
    this.subscribeHttp = new ProviderHttp({ provider: 'kuaidi100', baseUrl: cfg.baseUrl, timeoutMs: cfg.timeoutMs, maxSockets: 4, ...(opts.subscribeGate ? { gate: opts.subscribeGate } : {}) });
  }

  close(): void {
    this.http.close();
    this.autonumber.close();
    this.subscribeHttp.close();
  }

  /**
   * 智能判断: `GET /autonumber/auto?num=&key=` answers `[{comCode, lengthPre, noCount, noPre}]`, most likely
   * company first, `[]` when the number matches no known range. Anything else (an error object) is refused
   * credentials or a reply we do not understand.
   */
  async detectCarrier(trackingNo: string, ctx: ProviderContext): Promise<string[]> {
    const reply = await this.autonumber.get('/autonumber/auto', { num: trackingNo, key: this.cfg.key }, ctx.clock.now(), ctx.signal);
    if (Array.isArray(reply.body)) return reply.body.filter(isRecord).map((c) => textOf(c.comCode).trim()).filter(Boolean);
    const b = isRecord(reply.body) ? reply.body : {};
    const code = textOf(b.returnCode);
    if (code === '600' || code === '601') throw new ProviderError('kuaidi100', 'auth', `autonumber ${code}: ${textOf(b.message)}`, { raw: clip(reply.raw) });
    throw new ProviderError('kuaidi100', 'malformed', 'autonumber reply is not a list of companies', { raw: clip(reply.raw) });
  }

  /**
   * Subscribe (`POST /poll`, form schema=json + param; `key` inside param, no sign). Reply codes
   * (tracking-apis.md, Kuaidi100 subscription API): 200 submitted, 501 already subscribed (both fine),
   * 600 invalid key / 601 key expired (account: alert and stop), 700 bad data or callback URL, 701
   * carrier refused, 702 carrier not identified (this number: poll it instead), 500 server error (retry).
   */
  async subscribe(requests: TrackRequest[], ctx: ProviderContext): Promise<SubscribeResult[]> {
    const out: SubscribeResult[] = [];
    for (const req of requests) out.push(await this.subscribeOne(req, ctx));
    return out;
  }

  private async subscribeOne(req: TrackRequest, ctx: ProviderContext): Promise<SubscribeResult> {
    const company = providerCarrierCode('kuaidi100', req.carrier);
    if (!company) return { trackingNo: req.trackingNo, outcome: 'refused', code: 'unsupported_carrier', message: `Kuaidi100 has no code for carrier ${req.carrier}` };
    const parameters: Record<string, string> = { callbackurl: this.cfg.callbackUrl, salt: this.cfg.salt, resultv2: this.cfg.resultv2 };
    const phone = phoneLast4(req.phone);
    if (phone && PHONE_REQUIRED.has(company)) parameters.phone = phone;
    const param = JSON.stringify({ company, number: req.trackingNo, key: this.cfg.key, parameters });
    let body: unknown;
    try {
      body = (await this.subscribeHttp.postForm('/poll', { schema: 'json', param }, ctx.clock.now(), ctx.signal)).body;
    } catch (err) {
      if (!(err instanceof ProviderError)) throw err;
      return { trackingNo: req.trackingNo, outcome: err.kind === 'auth' ? 'key_error' : 'retry', code: err.kind, message: err.message };
    }
    const code = isRecord(body) ? (codeString(body.returnCode) ?? '') : '';
    const message = isRecord(body) ? textOf(body.message) : '';
    const outcome: SubscribeResult['outcome'] =
      code === '200' || code === '501' ? 'subscribed' : code === '600' || code === '601' ? 'key_error' : ['700', '701', '702'].includes(code) ? 'refused' : 'retry';
    return { trackingNo: req.trackingNo, outcome, code: code || 'malformed', message: message || JSON.stringify(body) };
  }

  async track(requests: TrackRequest[], ctx: ProviderContext): Promise<TrackResult[]> {
    const out: TrackResult[] = [];
    // Sequential on purpose: Kuaidi100 allows about 1 req/s, and a whole-call error (auth, quota)
    // should stop the batch instead of being repeated for every number.
    for (const req of requests) out.push(await this.trackOne(req, ctx));
    return out;
  }

  private async trackOne(req: TrackRequest, ctx: ProviderContext): Promise<TrackResult> {
    const com = providerCarrierCode('kuaidi100', req.carrier);
    if (!com) return { kind: 'rejected', trackingNo: req.trackingNo, code: 'unsupported_carrier', message: `Kuaidi100 has no code for carrier ${req.carrier}` };
    const phone = phoneLast4(req.phone);
    // Without the digits Kuaidi100 answers 验证码错误 anyway; refusing locally saves a query against the lock budget.
    if (PHONE_REQUIRED.has(com) && !phone) {
      return { kind: 'rejected', trackingNo: req.trackingNo, code: 'phone_required', message: `${com} needs the last 4 digits of the customer phone` };
    }
    const paramObj: Record<string, string> = { com, num: req.trackingNo };
    if (phone) paramObj.phone = phone;
    if (this.cfg.resultv2 !== '0') paramObj.resultv2 = this.cfg.resultv2;
    const param = JSON.stringify(paramObj);
    const reply = await this.http.postForm(
      '/poll/query.do',
      { customer: this.cfg.customer, param, sign: kuaidi100Sign(param, this.cfg.key, this.cfg.customer) },
      ctx.clock.now(),
      ctx.signal,
    );
    return parseKuaidi100Reply(reply.body, req.trackingNo, ctx.timeZone, reply.raw);
  }
}

export function createKuaidi100Provider(config: Config): Kuaidi100Provider {
  const cfg = config.providers.kuaidi100;
  return new Kuaidi100Provider(cfg, { gate: RateGate.forQps(cfg.qps), subscribeGate: RateGate.forQps(config.push.subscribe.qps.kuaidi100) });
}
