import { createHash } from 'node:crypto';
import { clip, isRecord, textOf } from '../http.js';
import { PushRejected, parsePushJson, sameSignature, type PushItem } from '../push.js';
import { parseAcceptedItem } from './parse.js';

/**
 * Webhook signature (API v2): hex SHA-256 of `<raw body>/<API key>` in the `sign` header. Not on a vendor page
 * we could read (tracking-apis.md §1c), but two independent public 17TRACK receivers compute exactly this: an
 * actix-web handler (`#[post("/webhook_17track")]`: `Sha256::digest(body_string + "/" + webhook_secret)`, hex,
 * compared with header `sign`) and a FastAPI bot (`hashlib.sha256(raw_body + b"/" + token).hexdigest()` against
 * header `sign`). One more sample verifies the older v1 shape (`sign` in the body over `event/data/key`); that
 * is not what v2 sends and is not accepted here.
 */
export function seventeenTrackPushSign(rawBody: string, key: string): string {
  return createHash('sha256').update(`${rawBody}/${key}`, 'utf8').digest('hex');
}

/** A 17TRACK webhook body → one PushItem; TRACKING_STOPPED ends the subscription (events it carries still count). */
export function parseSeventeenTrackPush(rawBody: string, sign: string | undefined, key: string, timeZone: string): PushItem {
  if (!sign) throw new PushRejected(401, 'unsigned', 'header sign is missing');
  if (!sameSignature(sign.toLowerCase(), seventeenTrackPushSign(rawBody, key))) throw new PushRejected(401, 'bad_signature', 'sign does not match sha256(body + "/" + key)');
  const body = parsePushJson(rawBody, 'body');
  if (!isRecord(body) || !isRecord(body.data)) throw new PushRejected(400, 'malformed', 'body has no data object');
  const event = textOf(body.event);
  if (event !== 'TRACKING_UPDATED' && event !== 'TRACKING_STOPPED') throw new PushRejected(400, 'wrong_type', `event ${JSON.stringify(body.event)} is not TRACKING_UPDATED or TRACKING_STOPPED`);
  const trackingNo = textOf(body.data.number).trim();
  if (!trackingNo) throw new PushRejected(400, 'malformed', 'data.number is missing');
  const stoppedWithoutInfo = event === 'TRACKING_STOPPED' && !isRecord(body.data.track_info);
  return {
    trackingNo,
    carrier: null, // 17TRACK carrier keys are numeric; numbers are matched by themselves
    correctedCarrier: null,
    kind: event,
    subscription: event === 'TRACKING_STOPPED' ? 'stopped' : 'active',
    message: null,
    result: stoppedWithoutInfo ? { kind: 'not_found', trackingNo, message: 'tracking stopped' } : parseAcceptedItem(body.data, trackingNo, timeZone),
    raw: clip(rawBody),
  };
}
