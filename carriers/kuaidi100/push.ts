import { createHash } from 'node:crypto';
import { normalizeCarrier } from '../carrier-codes.js';
import { ProviderError, type TrackResult } from '../carrier.js';
import { clip, isRecord, textOf } from '../http.js';
import { PushRejected, type FormFields, parsePushJson, sameSignature, type PushItem } from '../push.js';
import { parseKuaidi100Reply } from './parse.js';

/** Push signature: upper-case MD5(param + salt), over the exact `param` string received. */
export function kuaidi100PushSign(param: string, salt: string): string {
  return createHash('md5').update(param + salt, 'utf8').digest('hex').toUpperCase();
}

/** The answer Kuaidi100 needs to stop retrying; anything else is a failure, retried after 30 minutes. */
export const KUAIDI100_ACK = { result: true, returnCode: '200', message: '成功' } as const;
export const kuaidi100Failure = (message: string) => ({ result: false, returnCode: '500', message });

const PUSH_STATUSES = new Set(['polling', 'shutdown', 'abort', 'updateall']);

/**
 * A Kuaidi100 push form (`param`, `sign`) → one PushItem. Throws PushRejected when the body is unsigned,
 * badly signed or not a push. `sign` is accepted in either case (the docs say upper case; some SDKs
 * send lower).
 */
export function parseKuaidi100Push(form: FormFields, salt: string, timeZone: string): PushItem {
  const param = form.get('param');
  const sign = form.get('sign');
  if (param === null || param === '') throw new PushRejected(400, 'malformed', 'form field param is missing');
  if (!sign) throw new PushRejected(401, 'unsigned', 'form field sign is missing');
  if (!sameSignature(sign.toUpperCase(), kuaidi100PushSign(param, salt))) throw new PushRejected(401, 'bad_signature', 'sign does not match MD5(param + salt)');
  const body = parsePushJson(param, 'param');
  if (!isRecord(body) || !isRecord(body.lastResult)) throw new PushRejected(400, 'malformed', 'param has no lastResult object');
  const status = textOf(body.status);
  if (!PUSH_STATUSES.has(status)) throw new PushRejected(400, 'malformed', `param.status ${JSON.stringify(body.status)} is not polling|shutdown|abort|updateall`);
  const last = body.lastResult;
  const trackingNo = textOf(last.nu).trim();
  if (!trackingNo) throw new PushRejected(400, 'malformed', 'lastResult.nu (tracking number) is missing');
  const autoChecked = textOf(body.autoCheck) === '1';
  const comNew = autoChecked ? normalizeCarrier(textOf(body.comNew)) : null;
  const comOld = normalizeCarrier(textOf(body.comOld));
  const message = textOf(body.message) || null;
  let result: TrackResult;
  try {
    result = parseKuaidi100Reply(last, trackingNo, timeZone, param);
  } catch (err) {
    // An error envelope inside a push (it should not happen): keep it, do not fail the provider's retry loop.
    if (!(err instanceof ProviderError)) throw err;
    result = { kind: 'malformed', trackingNo, error: err.message, raw: clip(param) };
  }
  // A number with no record yet (abort "3天查询无记录" comes with an empty data[]) is a state, not news.
  if (status === 'abort' && result.kind === 'ok') result = { ...result, flags: [...result.flags, 'kuaidi100:abort'] };
  return {
    trackingNo,
    // After an auto-correction the number was subscribed under comOld; look it up there.
    carrier: comOld ?? normalizeCarrier(textOf(last.com)),
    correctedCarrier: comNew && comNew !== comOld ? comNew : null,
    kind: status,
    subscription: status === 'abort' ? 'aborted' : status === 'shutdown' ? 'stopped' : 'active',
    message,
    result,
    raw: clip(param),
  };
}
