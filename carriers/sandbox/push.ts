/**
 * The sandbox provider's push, so `parcelwatch demo` shows both ingestion paths: the demo's pusher
 * (worker/demo.ts) posts what the simulation reveals to the daemon's own `POST /hooks/sandbox`, which
 * stores it through the same receiver path as Kuaidi100's pushes (verify, store, acknowledge).
 *
 * Its own simple format: a JSON body `{"pushes":[{"trackingNo","carrier","events":[{"time","text","location","step"}]}]}`
 * (time ISO-8601), signed by the header `x-sandbox-sign` = hex HMAC-SHA256(body, providers.sandbox.pushSecret).
 * Each item stands alone: a bad one is quarantined, the others are stored. Statuses and hubs are read
 * from the texts, as the sandbox's poll answers are (simulate.ts toNormalized).
 */
import { createHmac } from 'node:crypto';
import type { NormalizedEvent, TrackResult } from '../carrier.js';
import { normalizeCarrier } from '../carrier-codes.js';
import { clip, isRecord, textOf } from '../http.js';
import { PushRejected, parsePushJson, sameSignature, type PushItem } from '../push.js';
import { toNormalized } from './simulate.js';

export const SANDBOX_SIGN_HEADER = 'x-sandbox-sign';

export function sandboxPushSign(body: string, secret: string): string {
  return createHmac('sha256', secret).update(body, 'utf8').digest('hex');
}

/** One parcel in a sandbox push: the events the simulation shows for it now. */
export interface SandboxPushParcel {
  trackingNo: string;
  carrier: string;
  events: readonly NormalizedEvent[];
}

export function sandboxPushBody(parcels: readonly SandboxPushParcel[]): string {
  return JSON.stringify({
    pushes: parcels.map((p) => ({
      trackingNo: p.trackingNo,
      carrier: p.carrier,
      events: p.events.map((e) => ({ time: e.occurredAt.toISOString(), text: e.text, location: e.location, step: e.providerCode })),
    })),
  });
}

/** A verified sandbox push → one PushItem per parcel. Unsigned/badly signed → 401, not JSON or no pushes[] → 400. */
export function parseSandboxPush(body: string, sign: string | undefined, secret: string): PushItem[] {
  if (!sign) throw new PushRejected(401, 'unsigned', `header ${SANDBOX_SIGN_HEADER} is missing`);
  if (!sameSignature(sign.toLowerCase(), sandboxPushSign(body, secret))) throw new PushRejected(401, 'bad_signature', `${SANDBOX_SIGN_HEADER} does not match HMAC-SHA256(body)`);
  const parsed = parsePushJson(body, 'body');
  if (!isRecord(parsed) || !Array.isArray(parsed.pushes)) throw new PushRejected(400, 'malformed', 'body has no pushes[] array');
  return parsed.pushes.map((p): PushItem => {
    const raw = clip(JSON.stringify(p));
    const trackingNo = isRecord(p) ? textOf(p.trackingNo).trim() : '';
    const carrier = isRecord(p) ? normalizeCarrier(textOf(p.carrier)) : null;
    return { trackingNo, carrier, correctedCarrier: null, kind: 'sandbox', subscription: 'active', message: null, result: readParcel(p, trackingNo, raw), raw };
  });
}

function readParcel(p: unknown, trackingNo: string, raw: string): TrackResult {
  if (!isRecord(p) || !Array.isArray(p.events)) return { kind: 'malformed', trackingNo, error: 'push item has no events[] array', raw };
  const planned: { at: Date; text: string; location: string | null; step: string }[] = [];
  for (const [i, e] of p.events.entries()) {
    if (!isRecord(e)) return { kind: 'malformed', trackingNo, error: `events[${i}] is not an object`, raw };
    const at = new Date(textOf(e.time));
    const text = textOf(e.text).trim();
    if (Number.isNaN(at.getTime()) || !text) return { kind: 'malformed', trackingNo, error: `events[${i}] needs an ISO time and a text`, raw };
    planned.push({ at, text, location: textOf(e.location) || null, step: textOf(e.step) });
  }
  if (planned.length === 0) return { kind: 'not_found', trackingNo, message: 'sandbox: no events yet' };
  return { kind: 'ok', trackingNo, events: toNormalized(planned), summaryStatus: null, flags: [] };
}
