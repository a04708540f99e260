import { timingSafeEqual } from 'node:crypto';
import type { ProviderName, TrackResult } from './carrier.js';

/**
 * What a provider's push says about one tracking number, in our model. The receivers (api/hooks.ts)
 * turn a verified body into these; ingest/push.ts stores them through the same ingest as polling.
 */
export interface PushItem {
  trackingNo: string;
  /** Canonical carrier the push names, when it names one we know (helps pick among equal numbers). */
  carrier: string | null;
  /** Canonical carrier the provider corrected the number to (Kuaidi100 autoCheck=1 / comNew). */
  correctedCarrier: string | null;
  /** The provider's push kind (Kuaidi100 status, Kdniao 101, 17TRACK event), stored with the receipt. */
  kind: string;
  /** What the push means for the subscription. */
  subscription: 'active' | 'aborted' | 'stopped';
  /** The provider's message (Kuaidi100 abort reason). */
  message: string | null;
  result: TrackResult;
  /** This item's raw text (receipt, orphan record, quarantine). */
  raw: string;
}

/** The fields of a push form (api/hooks.ts parseForm; a URLSearchParams is one). */
export type FormFields = Pick<URLSearchParams, 'get'>;

/** A push body the receiver refuses as a whole: nothing stored, 4xx with the reason. */
export class PushRejected extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 413 | 415,
    /** Short metric label: unsigned, bad_signature, malformed, too_large, wrong_type… */
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'PushRejected';
  }
}

/** A push's JSON text, or a 400 `malformed` naming `what` (param, RequestData, body) and the parser's reason. */
export function parsePushJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PushRejected(400, 'malformed', `${what} is not JSON: ${(err as Error).message}`);
  }
}

/** Constant-time comparison of two signatures given as text. */
export function sameSignature(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The providers that push (the sandbox too: the demo pushes to its own hook, carriers/sandbox/push.ts). */
export type PushProvider = ProviderName;
