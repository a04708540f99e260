import type { Config } from '../../config/schema.js';
import { ProviderError, type ProviderContext, type SubscribeResult, type TrackRequest, type TrackResult, type TrackingProvider } from '../carrier.js';
import { providerCarrierCode } from '../carrier-codes.js';
import { RateGate } from '../rate-gate.js';
import { ProviderHttp, clip, isRecord, textOf, throughGate } from '../http.js';
import { ST_ALREADY_REGISTERED, ST_NOT_REGISTERED, ST_NO_INFO_YET, ST_QUOTA_EXHAUSTED, parseAcceptedItem } from './parse.js';

export type SeventeenTrackConfig = Config['providers']['seventeenTrack'];

/** The API's hard cap per request. */
const API_MAX_BATCH = 40;

interface Envelope {
  accepted: Record<string, unknown>[];
  rejected: { number: string; code: number; message: string }[];
  raw: string;
}

/**
 * 17TRACK v2.2. A number must be registered before gettrackinfo answers for it, and register is what
 * consumes quota (only for accepted numbers), so every poll registers first: an already-registered
 * number is rejected with -18019901 for free, which we treat as success.
 */
export class SeventeenTrackProvider implements TrackingProvider {
  readonly name = 'seventeenTrack' as const;
  readonly maxBatch: number;
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
    private readonly cfg: SeventeenTrackConfig,
    opts: { gate?: RateGate; subscribeGate?: RateGate } = {},
  ) {
    this.gate = opts.gate;
    this.subscribeGate = opts.subscribeGate;
    this.maxBatch = Math.min(cfg.batchSize, API_MAX_BATCH);
    this.http = new ProviderHttp({ provider: 'seventeenTrack', baseUrl: cfg.baseUrl, timeoutMs: cfg.timeoutMs, maxSockets: cfg.concurrency, ...(opts.gate ? { gate: opts.gate } : {}) });
  }

  close(): void {
    this.http.close();
  }

  async track(requests: TrackRequest[], ctx: ProviderContext): Promise<TrackResult[]> {
    const out: TrackResult[] = [];
    for (let i = 0; i < requests.length; i += this.maxBatch) out.push(...(await this.trackBatch(requests.slice(i, i + this.maxBatch), ctx)));
    return out;
  }

  private async trackBatch(requests: TrackRequest[], ctx: ProviderContext): Promise<TrackResult[]> {
    const results = new Map<string, TrackResult>();
    const byNumber = new Map(requests.map((r) => [r.trackingNo, r]));

    const registered = await this.register(requests, results, ctx);
    let pending = registered;
    // -18019902 after a successful register can happen when the register has not propagated yet
    // (or the number was deleted meanwhile): register again and retry once, then call it not_found.
    for (let attempt = 0; attempt < 2 && pending.length > 0; attempt++) {
      const env = await this.call('gettrackinfo', pending.map((r) => ({ number: r.trackingNo })), ctx);
      const retry: TrackRequest[] = [];
      for (const item of env.accepted) {
        const number = textOf(item.number);
        if (!byNumber.has(number)) continue; // not ours: ignore rather than guess
        results.set(number, parseAcceptedItem(item, number, ctx.timeZone));
      }
      for (const rej of env.rejected) {
        const req = byNumber.get(rej.number);
        if (!req) continue;
        if (rej.code === ST_NOT_REGISTERED && attempt === 0) retry.push(req);
        else results.set(rej.number, itemRejection(rej, true));
      }
      if (retry.length > 0 && attempt === 0) pending = await this.register(retry, results, ctx);
      else pending = [];
    }
    return requests.map(
      (r) => results.get(r.trackingNo) ?? { kind: 'malformed', trackingNo: r.trackingNo, error: 'number missing from 17TRACK reply', raw: '' },
    );
  }

  /**
   * Push subscription = `register` (batches of at most 40): accepted or already registered (-18019901)
   * numbers are pushed to the dashboard's webhook; other item refusals are per number; a whole-call
   * failure is the account's (auth/quota → key_error) or passing (transient → retry).
   */
  async subscribe(requests: TrackRequest[], ctx: ProviderContext): Promise<SubscribeResult[]> {
    const out: SubscribeResult[] = [];
    for (let i = 0; i < requests.length; i += this.maxBatch) {
      const chunk = requests.slice(i, i + this.maxBatch);
      const results = new Map<string, TrackResult>();
      try {
        const ok = new Set((await throughGate('seventeenTrack', this.subscribeGate, () => this.register(chunk, results, ctx), ctx.signal)).map((r) => r.trackingNo));
        for (const r of chunk) {
          const refused = results.get(r.trackingNo);
          if (ok.has(r.trackingNo)) out.push({ trackingNo: r.trackingNo, outcome: 'subscribed', code: '0', message: 'registered' });
          else if (refused?.kind === 'rejected') out.push({ trackingNo: r.trackingNo, outcome: 'refused', code: refused.code, message: refused.message });
          else out.push({ trackingNo: r.trackingNo, outcome: 'retry', code: refused?.kind ?? 'missing', message: refused && 'message' in refused ? refused.message : 'number missing from register reply' });
        }
      } catch (err) {
        if (!(err instanceof ProviderError)) throw err;
        const outcome = err.kind === 'auth' || err.kind === 'quota' ? 'key_error' : 'retry';
        for (const r of chunk) out.push({ trackingNo: r.trackingNo, outcome, code: err.kind, message: err.message });
      }
    }
    return out;
  }

  /**
   * Auto-detection: register the number without a carrier and read the carrier 17TRACK assigned (a number
   * registered before is looked up with gettrackinfo instead). Carrier 0 or a refusal means not recognised.
   */
  async detectCarrier(trackingNo: string, ctx: ProviderContext): Promise<string[]> {
    let env = await this.call('register', [{ number: trackingNo }], ctx);
    if (env.rejected.some((r) => r.number === trackingNo && r.code === ST_ALREADY_REGISTERED)) {
      env = await this.call('gettrackinfo', [{ number: trackingNo }], ctx);
    }
    const item = env.accepted.find((a) => textOf(a.number) === trackingNo);
    const carrier = item ? Number(item.carrier) : 0;
    return Number.isInteger(carrier) && carrier > 0 ? [String(carrier)] : [];
  }

  /** Registers `requests`; returns those now registered, records per-number refusals in `results`. */
  private async register(requests: TrackRequest[], results: Map<string, TrackResult>, ctx: ProviderContext): Promise<TrackRequest[]> {
    const items = requests.map((r) => {
      const key = providerCarrierCode('seventeenTrack', r.carrier);
      // No known key: let 17TRACK auto-detect instead of sending a wrong carrier.
      return key ? { number: r.trackingNo, carrier: Number(key) } : { number: r.trackingNo };
    });
    const env = await this.call('register', items, ctx);
    const ok = new Set(env.accepted.map((a) => textOf(a.number)));
    for (const rej of env.rejected) {
      if (rej.code === ST_ALREADY_REGISTERED) ok.add(rej.number);
      else if (requests.some((r) => r.trackingNo === rej.number)) results.set(rej.number, itemRejection(rej, false));
    }
    for (const r of requests) {
      if (!ok.has(r.trackingNo) && !results.has(r.trackingNo)) {
        results.set(r.trackingNo, { kind: 'malformed', trackingNo: r.trackingNo, error: 'number missing from register reply', raw: clip(env.raw) });
      }
    }
    return requests.filter((r) => ok.has(r.trackingNo));
  }

  private async call(endpoint: 'register' | 'gettrackinfo', body: unknown[], ctx: ProviderContext): Promise<Envelope> {
    const reply = await this.http.postJson(`/track/v2.2/${endpoint}`, body, { '17token': this.cfg.token }, ctx.clock.now(), ctx.signal);
    const b = reply.body;
    const raw = clip(reply.raw);
    if (!isRecord(b) || typeof b.code !== 'number') throw new ProviderError('seventeenTrack', 'malformed', `${endpoint}: reply has no numeric code`, { raw });
    if (b.code !== 0) throw envelopeError(b.code, envelopeMessage(b), raw);
    const data = b.data;
    if (!isRecord(data) || !Array.isArray(data.accepted ?? []) || !Array.isArray(data.rejected ?? [])) {
      throw new ProviderError('seventeenTrack', 'malformed', `${endpoint}: data.accepted/rejected missing`, { raw });
    }
    const accepted = ((data.accepted as unknown[] | undefined) ?? []).filter(isRecord);
    const rejected: Envelope['rejected'] = [];
    for (const r of (data.rejected as unknown[] | undefined) ?? []) {
      if (!isRecord(r)) continue;
      const err = isRecord(r.error) ? r.error : {};
      rejected.push({ number: textOf(r.number), code: typeof err.code === 'number' ? err.code : Number(err.code), message: textOf(err.message) });
    }
    // Running out of quota is an account condition, not a property of the number.
    const quota = rejected.find((r) => r.code === ST_QUOTA_EXHAUSTED);
    if (quota) throw new ProviderError('seventeenTrack', 'quota', `${quota.code}: ${quota.message}`, { raw });
    return { accepted, rejected, raw: reply.raw };
  }
}

/** Top-level failures carry `data.errors[{code,message}]` (v2.2); older shapes put `message` at the top. */
function envelopeMessage(b: Record<string, unknown>): string {
  const errors = isRecord(b.data) && Array.isArray(b.data.errors) ? b.data.errors : [];
  const first = errors.find(isRecord);
  return textOf(first?.message ?? b.message);
}

function itemRejection(rej: { number: string; code: number; message: string }, afterRegister: boolean): TrackResult {
  if (rej.code === ST_NO_INFO_YET || (afterRegister && rej.code === ST_NOT_REGISTERED)) {
    return { kind: 'not_found', trackingNo: rej.number, message: rej.message || String(rej.code) };
  }
  return { kind: 'rejected', trackingNo: rej.number, code: `seventeenTrack:${rej.code}`, message: rej.message };
}

/**
 * Top-level codes: -18010003 is documented as an internal error worth retrying; -18019908 is quota;
 * everything else (-18010001 IP not whitelisted, -18010002 bad key, -18010004 disabled, -18010005,
 * invalid request shape) needs an operator, so it raises one auth alert instead of retrying.
 */
function envelopeError(code: number, message: string, raw: string): ProviderError {
  if (code === -18010003) return new ProviderError('seventeenTrack', 'transient', `${code}: internal error`, { raw });
  if (code === ST_QUOTA_EXHAUSTED) return new ProviderError('seventeenTrack', 'quota', `${code}: quota exhausted`, { raw });
  return new ProviderError('seventeenTrack', 'auth', `${code}: ${message || 'request refused'}`, { raw });
}

export function createSeventeenTrackProvider(config: Config): SeventeenTrackProvider {
  const cfg = config.providers.seventeenTrack;
  return new SeventeenTrackProvider(cfg, { gate: RateGate.forQps(cfg.qps), subscribeGate: RateGate.forQps(config.push.subscribe.qps.seventeenTrack) });
}
