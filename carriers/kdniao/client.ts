import { createHash } from 'node:crypto';
import type { Config } from '../../config/schema.js';
import { ProviderError, type ProviderContext, type SubscribeResult, type TrackRequest, type TrackResult, type TrackingProvider } from '../carrier.js';
import { providerCarrierCode } from '../carrier-codes.js';
import { RateGate } from '../rate-gate.js';
import { ProviderHttp, clip, isRecord, phoneLast4, textOf, throughGate } from '../http.js';
import { classifyFailure, parseKdniaoReply } from './parse.js';

/**
 * 物流跟踪 subscription request type. Not on a vendor page we could read; Kdniao's SDK demos and public clients use
 * 1008 (yasugsh/Django_Project@700af86 `kdbird_express/request_type.py`: TRACKING_SUBSCRIBE = "1008",
 * TRACKING_PUSH = "101").
 */
export const KDNIAO_SUBSCRIBE = '1008';

export type KdniaoConfig = Config['providers']['kdniao'];

/**
 * DataSign = base64(lower-case hex MD5(RequestData + AppKey)). Base64 is applied to the 32-char hex
 * string, not the raw digest (official .NET demo). The URL-encoding step of the recipe is the form
 * encoding of the POST body itself.
 */
export function kdniaoSign(requestData: string, appKey: string): string {
  const hex = createHash('md5').update(requestData + appKey, 'utf8').digest('hex');
  return Buffer.from(hex, 'utf8').toString('base64');
}

/** Kdniao instant query (1002) or in-transit monitoring (8001); one number per call. */
export class KdniaoProvider implements TrackingProvider {
  readonly name = 'kdniao' as const;
  readonly maxBatch = 1;
  /** Exposed so the planner can apply the 1002 daily quota (not enforced here). */
  readonly requestType: '1002' | '8001';
  private readonly http: ProviderHttp;

  /** Every request's rate gate (the daemon attaches the shared stage to it: carriers/global-rate-gate.ts). */
  readonly gate: RateGate | undefined;
  /**
   * Subscription requests also pass this gate (push.subscribe.qps; shared stage attached like `gate`'s),
   * then the account's `gate`.
   */
  readonly subscribeGate: RateGate | undefined;

  /** `gate`, `subscribeGate`: the per-process request limits (createProviders passes them; client tests run without). */
  constructor(
    private readonly cfg: KdniaoConfig,
    opts: { gate?: RateGate; subscribeGate?: RateGate } = {},
  ) {
    this.gate = opts.gate;
    this.subscribeGate = opts.subscribeGate;
    this.requestType = cfg.requestType;
    this.http = new ProviderHttp({ provider: 'kdniao', baseUrl: cfg.baseUrl, timeoutMs: cfg.timeoutMs, maxSockets: cfg.concurrency, ...(opts.gate ? { gate: opts.gate } : {}) });
  }

  close(): void {
    this.http.close();
  }

  async track(requests: TrackRequest[], ctx: ProviderContext): Promise<TrackResult[]> {
    const out: TrackResult[] = [];
    for (const req of requests) out.push(await this.trackOne(req, ctx));
    return out;
  }

  private async trackOne(req: TrackRequest, ctx: ProviderContext): Promise<TrackResult> {
    const shipper = providerCarrierCode('kdniao', req.carrier);
    if (!shipper) return { kind: 'rejected', trackingNo: req.trackingNo, code: 'unsupported_carrier', message: `Kdniao has no code for carrier ${req.carrier}` };
    const reply = await this.call(this.requestType, numberData(shipper, req), ctx);
    return parseKdniaoReply(reply.body, req.trackingNo, ctx.timeZone, reply.raw);
  }

  /**
   * 单号识别 (RequestType 2002): `{LogisticCode}` → `{Success, Shippers:[{ShipperCode, ShipperName}]}`; an empty
   * Shippers list means not recognised (and is not billed). A failure is classified like a tracking failure.
   */
  async detectCarrier(trackingNo: string, ctx: ProviderContext): Promise<string[]> {
    const reply = await this.call('2002', { LogisticCode: trackingNo }, ctx);
    const b = reply.body;
    if (!isRecord(b) || typeof b.Success !== 'boolean') throw new ProviderError('kdniao', 'malformed', 'recognition reply is not a Kdniao envelope', { raw: clip(reply.raw) });
    if (b.Success === false) {
      // Account failures throw here; anything else about this number is "not recognised".
      classifyFailure(textOf(b.Reason), trackingNo, reply.raw);
      return [];
    }
    const shippers = Array.isArray(b.Shippers) ? b.Shippers.filter(isRecord) : [];
    return shippers.map((s) => textOf(s.ShipperCode).trim()).filter(Boolean);
  }

  private call(requestType: string, data: Record<string, string>, ctx: ProviderContext) {
    const requestData = JSON.stringify(data);
    return this.http.postForm(
      '/Ebusiness/EbusinessOrderHandle.aspx',
      { RequestData: requestData, EBusinessID: this.cfg.eBusinessId, RequestType: requestType, DataSign: kdniaoSign(requestData, this.cfg.appKey), DataType: '2' },
      ctx.clock.now(),
      ctx.signal,
    );
  }

  /**
   * 物流跟踪 subscription: the 101 pushes then go to the URL configured in Kdniao's back office. The reply
   * is `{Success, Reason}`; failures are classified by their text like query failures (no code list is published).
   */
  async subscribe(requests: TrackRequest[], ctx: ProviderContext): Promise<SubscribeResult[]> {
    const out: SubscribeResult[] = [];
    for (const req of requests) {
      const shipper = providerCarrierCode('kdniao', req.carrier);
      if (!shipper) {
        out.push({ trackingNo: req.trackingNo, outcome: 'refused', code: 'unsupported_carrier', message: `Kdniao has no code for carrier ${req.carrier}` });
        continue;
      }
      try {
        const { body, raw } = await throughGate('kdniao', this.subscribeGate, () => this.call(KDNIAO_SUBSCRIBE, numberData(shipper, req), ctx), ctx.signal);
        if (!isRecord(body) || typeof body.Success !== 'boolean') throw new ProviderError('kdniao', 'malformed', 'subscription reply is not a Kdniao envelope', { raw });
        if (body.Success) out.push({ trackingNo: req.trackingNo, outcome: 'subscribed', code: 'Success', message: textOf(body.Reason) });
        else {
          classifyFailure(textOf(body.Reason), req.trackingNo, raw); // throws for account-level reasons
          out.push({ trackingNo: req.trackingNo, outcome: 'refused', code: 'Success:false', message: textOf(body.Reason) });
        }
      } catch (err) {
        if (!(err instanceof ProviderError)) throw err;
        out.push({ trackingNo: req.trackingNo, outcome: err.kind === 'auth' || err.kind === 'quota' ? 'key_error' : 'retry', code: err.kind, message: err.message });
      }
    }
    return out;
  }
}

/** The RequestData naming one parcel (query and subscription alike). */
function numberData(shipper: string, req: TrackRequest): Record<string, string> {
  const data: Record<string, string> = { OrderCode: '', ShipperCode: shipper, LogisticCode: req.trackingNo };
  // SF wants the phone's last four digits as CustomerName (UNCONFIRMED in stored docs; harmless for others).
  const last4 = phoneLast4(req.phone);
  if (shipper === 'SF' && last4) data.CustomerName = last4;
  return data;
}

export function createKdniaoProvider(config: Config): KdniaoProvider {
  const cfg = config.providers.kdniao;
  return new KdniaoProvider(cfg, { gate: RateGate.forQps(cfg.qps), subscribeGate: RateGate.forQps(config.push.subscribe.qps.kdniao) });
}
