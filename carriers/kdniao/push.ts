import { normalizeCarrier } from '../carrier-codes.js';
import { ProviderError, type TrackResult } from '../carrier.js';
import { clip, isRecord, textOf } from '../http.js';
import { PushRejected, type FormFields, parsePushJson, sameSignature, type PushItem } from '../push.js';
import { systemClock } from '../../domain/clock.js';
import { kdniaoSign } from './client.js';
import { parseKdniaoReply } from './parse.js';

/**
 * The acknowledgement Kdniao expects for a push. Not on a vendor page we could read (tracking-apis.md §1b), but
 * the shape its SDK demos answer and the one a production WMS answers its push endpoint with
 * (zhou6679354/boyol-wms@f285ca0, `KdniaoDistResponse`: EBusinessID, Success, UpdateTime, Reason).
 * `UpdateTime` is wall time: it is transport, not a business fact.
 */
export function kdniaoAck(eBusinessId: string, success: boolean, reason = ''): Record<string, unknown> {
  const t = new Date(systemClock.now().getTime() + 8 * 3_600_000).toISOString().replace('T', ' ').slice(0, 19);
  return { EBusinessID: eBusinessId, UpdateTime: t, Success: success, Reason: reason };
}

/**
 * A Kdniao 101 push form (`RequestData`, `DataSign`, `RequestType`) → one PushItem per Data[] item. The
 * envelope is verified as a whole (DataSign covers RequestData); each item is parsed on its own, so one
 * bad item becomes a malformed result (quarantined) and never rejects the others.
 */
export function parseKdniaoPush(form: FormFields, eBusinessId: string, appKey: string, timeZone: string): PushItem[] {
  const requestData = form.get('RequestData');
  const dataSign = form.get('DataSign');
  if (requestData === null || requestData === '') throw new PushRejected(400, 'malformed', 'form field RequestData is missing');
  if (!dataSign) throw new PushRejected(401, 'unsigned', 'form field DataSign is missing');
  // Pushes are documented as not URL-encoded beyond the form itself; accept a DataSign sent encoded once more.
  const expected = kdniaoSign(requestData, appKey);
  if (!sameSignature(dataSign, expected) && !sameSignature(safeDecode(dataSign), expected)) {
    throw new PushRejected(401, 'bad_signature', 'DataSign does not match base64(md5(RequestData + AppKey))');
  }
  const requestType = form.get('RequestType');
  if (requestType !== '101') throw new PushRejected(400, 'wrong_type', `RequestType ${JSON.stringify(requestType)} is not 101 (track push)`);
  const body = parsePushJson(requestData, 'RequestData');
  if (!isRecord(body) || !Array.isArray(body.Data)) throw new PushRejected(400, 'malformed', 'RequestData has no Data[]');
  if (body.EBusinessID !== undefined && textOf(body.EBusinessID) !== eBusinessId) {
    throw new PushRejected(403, 'wrong_account', `EBusinessID ${textOf(body.EBusinessID)} is not ours`);
  }
  return body.Data.map((item, i) => kdniaoItem(item, i, timeZone));
}

function kdniaoItem(item: unknown, i: number, timeZone: string): PushItem {
  const raw = clip(JSON.stringify(item) ?? 'null');
  const trackingNo = isRecord(item) ? textOf(item.LogisticCode).trim() : '';
  const base = { carrier: isRecord(item) ? normalizeCarrier(textOf(item.ShipperCode)) : null, correctedCarrier: null, kind: '101', message: null, raw };
  if (!isRecord(item) || !trackingNo) {
    return { ...base, trackingNo, subscription: 'active', result: { kind: 'malformed', trackingNo, error: `Data[${i}] has no LogisticCode`, raw } };
  }
  let result: TrackResult;
  try {
    // Each item has the shape of a query reply; a push without Success is a push of traces.
    result = parseKdniaoReply({ Success: true, ...item }, trackingNo, timeZone, raw);
  } catch (err) {
    if (!(err instanceof ProviderError)) throw err;
    result = { kind: 'malformed', trackingNo, error: `Data[${i}]: ${err.message}`, raw };
  }
  return { ...base, trackingNo, subscription: 'active', result };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
