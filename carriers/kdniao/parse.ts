import { parseCarrierTime } from '../../domain/local-time.js';
import { ProviderError, type DroppedEvent, type NormalizedEvent, type TrackResult } from '../carrier.js';
import { isPlaceholderText, unifyHubSpellings } from '../carrier-reading.js';
import { extractHub } from '../hub.js';
import { clip, codeString, isRecord, sortAscending, textOf } from '../http.js';
import { decideStatus, type Decision } from '../decide-status.js';
import { KDNIAO_COARSE_CODES, KDNIAO_FLAG_CODES, kdniaoStatus } from './status-map.js';

/** Kdniao 1002 / 8001 reply → TrackResult; account-level failures throw ProviderError. */
export function parseKdniaoReply(body: unknown, trackingNo: string, timeZone: string, raw = JSON.stringify(body)): TrackResult {
  if (!isRecord(body) || typeof body.Success !== 'boolean') {
    throw new ProviderError('kdniao', 'malformed', 'reply is not a Kdniao envelope', { raw: clip(raw) });
  }
  if (body.Success === false) return classifyFailure(textOf(body.Reason), trackingNo, raw);
  const traces = body.Traces ?? [];
  if (!Array.isArray(traces)) return { kind: 'malformed', trackingNo, error: 'Traces is not an array', raw: clip(raw) };
  if (traces.length === 0) return { kind: 'not_found', trackingNo, message: textOf(body.Reason) || 'no traces yet' };

  const events: NormalizedEvent[] = [];
  const dropped: DroppedEvent[] = [];
  for (const [i, t] of traces.entries()) {
    if (!isRecord(t)) return { kind: 'malformed', trackingNo, error: `Traces[${i}] is not an object`, raw: clip(raw) };
    const text = textOf(t.AcceptStation).trim();
    if (isPlaceholderText(text)) continue;
    // AcceptTime comes as "2014/06/25 08:05:37" or "2019-11-14 22:29:04"; parseCarrierTime reads both.
    const occurredAt = parseCarrierTime(t.AcceptTime, timeZone);
    if (!occurredAt) {
      dropped.push({ where: `Traces[${i}]`, error: `no parseable AcceptTime ${JSON.stringify(t.AcceptTime)}`, raw: clip(JSON.stringify(t)) });
      continue;
    }
    const action = codeString(t.Action);
    const location = textOf(t.Location).trim() || null;
    const decided = eventStatus(action, text);
    events.push({
      occurredAt,
      status: decided.status,
      rule: decided.rule,
      hub: decided.status === 'info_received' ? null : extractHub(text, location),
      location,
      text,
      providerCode: action,
      raw: t,
    });
  }
  if (events.length === 0) {
    if (dropped.length) return { kind: 'malformed', trackingNo, error: `every trace dropped: ${dropped[0]!.where} ${dropped[0]!.error}`, raw: clip(raw) };
    return { kind: 'not_found', trackingNo, message: textOf(body.Reason) || 'only placeholder traces' };
  }
  const sorted = unifyHubSpellings(sortAscending(events));
  const stateEx = codeString(body.StateEx);
  const state = codeString(body.State);
  // The newest trace usually decides; the summary codes fill in for 1002 replies without per-trace codes.
  const newest = sorted[sorted.length - 1]!;
  if (newest.status === 'unknown') {
    const [field, code] = kdniaoStatus(stateEx) ? ['StateEx', stateEx] : ['State', state];
    const summary = kdniaoStatus(code);
    if (summary) {
      newest.status = summary;
      newest.rule = `kdniao:${field}=${code}`;
    }
  }
  const flags = new Set<string>();
  for (const c of [stateEx, newest.providerCode]) if (c && KDNIAO_FLAG_CODES.has(c)) flags.add(`kdniao:${c}`);
  const summaryStatus = kdniaoStatus(stateEx) ?? kdniaoStatus(state);
  return { kind: 'ok', trackingNo, events: sorted, summaryStatus, flags: [...flags], ...(dropped.length ? { dropped } : {}) };
}

/** Evidence: the per-trace `Action` (specific when three digits or 10, coarse when a one-digit State). */
function eventStatus(action: string | null, text: string): Decision {
  const fromCode = kdniaoStatus(action);
  return decideStatus([fromCode ? { status: fromCode, rule: `kdniao:Action=${action}`, specific: !KDNIAO_COARSE_CODES.has(action!) } : null], text);
}

/**
 * Kdniao publishes no list of failure reasons (tracking-apis.md §1b), so classification is by text and
 * deliberately conservative: only clear account wording raises auth/quota (which alert and stop polling
 * for everyone); everything else is a per-number rejection carrying the reason.
 */
export function classifyFailure(reason: string, trackingNo: string, raw: string): TrackResult {
  // Success:false with no Reason at all is how Kdniao answers a number it has no traces for yet (corpus
  // sf-failure-no-reason): not a verdict on the number, so keep polling it.
  if (!reason.trim()) return { kind: 'not_found', trackingNo, message: 'Success:false without Reason' };
  const message = reason;
  if (/签名|DataSign|EBusinessID|AppKey|密钥|未授权|没有权限|无权限|账号|帐号|用户不存在|认证|未开通/i.test(message)) {
    throw new ProviderError('kdniao', 'auth', message, { raw: clip(raw) });
  }
  if (/次数|额度|余额|超出|上限|套餐|欠费|已用完/.test(message)) throw new ProviderError('kdniao', 'quota', message, { raw: clip(raw) });
  if (/暂无轨迹|没有物流轨迹|无轨迹|暂无物流|查询无结果|没有查到/.test(message)) return { kind: 'not_found', trackingNo, message };
  return { kind: 'rejected', trackingNo, code: 'kdniao:failure', message };
}
