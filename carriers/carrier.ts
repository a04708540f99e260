import type { Logger } from 'pino';
import type { Clock } from '../domain/clock.js';
import type { Status } from '../domain/status.js';

export const PROVIDERS = ['sandbox', 'kuaidi100', 'kdniao', 'seventeenTrack'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

/** What a poll asks a provider for. `carrier` is our canonical code (carrier-codes.ts). */
export interface TrackRequest {
  shipmentId: number;
  carrier: string;
  trackingNo: string;
  /** Customer phone; SF (and ZTO on Kuaidi100) need its last four digits. */
  phone?: string | null;
  /** Order paid time; the sandbox simulation starts the journey from it. */
  paidAt?: Date;
  markedShippedAt?: Date | null;
}

/** One carrier event in the canonical model. */
export interface NormalizedEvent {
  occurredAt: Date;
  status: Status;
  /** Hub / station name: structured field when given, else extracted from the text. */
  hub: string | null;
  location: string | null;
  text: string;
  /** Provider code as sent (kuaidi100 statusCode, kdniao Action, 17track sub_status). */
  providerCode: string | null;
  /**
   * What decided `status`: a text rule (`text:delivered`, `text:forward_sign`) or a provider code
   * (`kuaidi100:statusCode=301`, `kdniao:Action=202`, `17track:stage=Delivered`); undefined when
   * nothing did (status `unknown`). Precedence: domain/status.ts, "Provider code vs text".
   */
  rule?: string;
  raw: unknown;
}

/** An event a parser could not use, kept raw with the reason. */
export interface DroppedEvent {
  /** Where in the reply, e.g. `data[3]`, `Traces[0]`. */
  where: string;
  error: string;
  raw: string;
}

/** The answer for one tracking number. A provider call returns one per request, in any order. */
export type TrackResult =
  | {
      kind: 'ok';
      trackingNo: string;
      events: NormalizedEvent[];
      /** Provider's own summary status mapped to ours, when it gives one. */
      summaryStatus: Status | null;
      /** Provider alert flags, e.g. `kuaidi100:202`, `kdniao:412` (extra detection signals). */
      flags: string[];
      /**
       * Single events left out of an otherwise good reply (e.g. a time like `2019-07-25 16:32:162`),
       * each with where and why: one bad trace never costs the whole reply. The poll job quarantines them.
       */
      dropped?: DroppedEvent[];
    }
  /** The carrier has no record yet: a state, not an error. */
  | { kind: 'not_found'; trackingNo: string; message: string }
  /** This number was refused (bad number, phone digits mismatch): permanent for this number. */
  | { kind: 'rejected'; trackingNo: string; code: string; message: string }
  /** The reply for this number could not be understood: quarantined with the raw text. */
  | { kind: 'malformed'; trackingNo: string; error: string; raw: string };

export type ProviderErrorKind = 'transient' | 'auth' | 'quota' | 'malformed';

/**
 * A failure of the whole call. `transient` is retried with backoff (timeouts, 5xx, 429, resets);
 * `auth` and `quota` raise one alert and are not retried; `malformed` is quarantined.
 */
export class ProviderError extends Error {
  constructor(
    readonly provider: ProviderName,
    readonly kind: ProviderErrorKind,
    message: string,
    /**
     * circuitOpen: rejected by the breaker without a request (not a provider failure). notSent: held back
     * by the shared rate limit, which could not be asked (Redis unavailable; not a provider failure either).
     * stopped: given up because the process is stopping (waiting for the rate limit, or cut mid-request).
     */
    readonly opts: { retryAfterMs?: number; raw?: string; status?: number; circuitOpen?: boolean; notSent?: boolean; stopped?: boolean } = {},
  ) {
    super(`${provider}: ${message}`);
    this.name = 'ProviderError';
  }
}

export interface ProviderContext {
  clock: Clock;
  /** The daemon is stopping: requests still waiting for the rate limit are not sent, those in flight are cut. */
  signal?: AbortSignal;
  log: Logger;
  /** Business time zone for carriers' local timestamps. */
  timeZone: string;
}

/**
 * What a subscription request did for one number:
 * - `subscribed`: the provider will push (accepted, or already subscribed/registered);
 * - `refused`: refused for this number (bad number or carrier, callback refused): poll it instead;
 * - `key_error`: the account key was refused (Kuaidi100 600/601): alert once, stop subscribing, poll;
 * - `retry`: a passing failure (server error, timeout): try again later.
 */
export interface SubscribeResult {
  trackingNo: string;
  outcome: 'subscribed' | 'refused' | 'key_error' | 'retry';
  /** The provider's reply code as sent (Kuaidi100 returnCode, 17TRACK error code), or a transport kind. */
  code: string;
  message: string;
}

/** Every tracking provider implements this; jobs never see provider JSON. */
export interface TrackingProvider {
  readonly name: ProviderName;
  /** Most numbers one call can carry (1 for per-number APIs, 40 for 17TRACK). */
  readonly maxBatch: number;
  track(requests: TrackRequest[], ctx: ProviderContext): Promise<TrackResult[]>;
  /** Subscribe numbers to the provider's push service (providers that push); one result per request. */
  subscribe?(requests: TrackRequest[], ctx: ProviderContext): Promise<SubscribeResult[]>;
  /**
   * Which carriers may own `trackingNo`, as the provider's own carrier codes, most likely first; [] when the
   * provider does not recognise the number. Whole-call failures throw ProviderError like track().
   * Absent when the provider cannot detect carriers (sandbox).
   */
  detectCarrier?(trackingNo: string, ctx: ProviderContext): Promise<string[]>;
}
