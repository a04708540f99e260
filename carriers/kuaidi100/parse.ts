import { parseCarrierTime } from '../../domain/local-time.js';
import { ProviderError, type DroppedEvent, type NormalizedEvent, type TrackResult } from '../carrier.js';
import { isPlaceholderText, unifyHubSpellings } from '../carrier-reading.js';
import { extractHub } from '../hub.js';
import { clip, codeString, isRecord, sortAscending, textOf } from '../http.js';
import { decideStatus, type Decision } from '../decide-status.js';
import { KUAIDI100_COARSE_CODES, KUAIDI100_FLAG_CODES, KUAIDI100_STATUS_NAMES, kuaidi100Status } from './status-map.js';

/**
 * Kuaidi100 `poll/query.do` reply → TrackResult. Error replies that concern the account (auth, quota,
 * server) throw ProviderError; those that concern the number become not_found / rejected.
 */
export function parseKuaidi100Reply(body: unknown, trackingNo: string, timeZone: string, raw = JSON.stringify(body)): TrackResult {
  if (!isRecord(body)) throw new ProviderError('kuaidi100', 'malformed', 'reply is not a JSON object', { raw: clip(raw) });
  // The official Java SDK relays replies with result:false beside a full data[]: the events are data.
  const hasData = Array.isArray(body.data) && body.data.length > 0;
  if (!hasData && (body.result === false || body.returnCode !== undefined)) return classifyError(body, trackingNo, raw);
  if (!Array.isArray(body.data)) return { kind: 'malformed', trackingNo, error: 'no data[] in reply', raw: clip(raw) };

  const state = codeString(body.state);
  const events: NormalizedEvent[] = [];
  const dropped: DroppedEvent[] = [];
  for (const [i, item] of body.data.entries()) {
    if (!isRecord(item)) return { kind: 'malformed', trackingNo, error: `data[${i}] is not an object`, raw: clip(raw) };
    const text = textOf(item.context).trim();
    if (isPlaceholderText(text)) continue;
    const occurredAt = parseCarrierTime(item.ftime, timeZone) ?? parseCarrierTime(item.time, timeZone);
    if (!occurredAt) {
      dropped.push({ where: `data[${i}]`, error: `no parseable time (ftime ${JSON.stringify(item.ftime)}, time ${JSON.stringify(item.time)})`, raw: clip(JSON.stringify(item)) });
      continue;
    }
    const code = codeString(item.statusCode);
    const decided = eventStatus(code, text, textOf(item.status));
    events.push({
      occurredAt,
      status: decided.status,
      rule: decided.rule,
      // location / areaName are regions (宁波市; Kuaidi100's own geocoding 北京,北京,东城区,天坛), not sites: no hub.
      // Pre-advice has no hub: nothing physical happened at the site that took the order.
      hub: decided.status === 'info_received' ? null : extractHub(text),
      location: nonEmpty(item.location) ?? nonEmpty(item.areaName),
      text,
      providerCode: code,
      raw: item,
    });
  }
  if (events.length === 0) {
    if (dropped.length) return { kind: 'malformed', trackingNo, error: `every event dropped: ${dropped[0]!.where} ${dropped[0]!.error}`, raw: clip(raw) };
    // A success envelope with no events (or only a placeholder such as 查无结果): the carrier has nothing yet.
    return { kind: 'not_found', trackingNo, message: textOf(body.message) || 'no events' };
  }
  const sorted = unifyHubSpellings(sortAscending(events));
  const newest = sorted[sorted.length - 1]!;
  // Without a per-event code (basic replies), the top-level state still tells us what the newest event is;
  // it says nothing about older ones.
  if (newest.status === 'unknown' && kuaidi100Status(state)) {
    newest.status = kuaidi100Status(state)!;
    newest.rule = `kuaidi100:state=${state}`;
  }
  const flags = new Set<string>();
  const newestCode = newest.providerCode;
  // Only current codes become flags: a 202 (超时未更新) in history is superseded by later events.
  for (const c of [state, newestCode]) if (c && KUAIDI100_FLAG_CODES.has(c)) flags.add(`kuaidi100:${c}`);
  return {
    kind: 'ok',
    trackingNo,
    events: sorted,
    summaryStatus: kuaidi100Status(state) ?? (body.ischeck === '1' || body.ischeck === 1 ? 'delivered' : null),
    flags: [...flags],
    ...(dropped.length ? { dropped } : {}),
  };
}

/** Evidence order: per-event `statusCode` (specific unless a basic parent), then the Chinese status name (coarse). */
function eventStatus(code: string | null, text: string, statusName: string): Decision {
  const fromCode = kuaidi100Status(code);
  const name = statusName.trim();
  const fromName = KUAIDI100_STATUS_NAMES[name];
  return decideStatus(
    [
      fromCode ? { status: fromCode, rule: `kuaidi100:statusCode=${code}`, specific: !KUAIDI100_COARSE_CODES.has(code!) } : null,
      fromName ? { status: fromName, rule: `kuaidi100:status=${name}`, specific: false } : null,
    ],
    text,
  );
}

function nonEmpty(v: unknown): string | null {
  const s = textOf(v).trim();
  return s === '' ? null : s;
}

/**
 * Error bodies `{result:false, returnCode, message}`. The code list is only partly documented
 * (tracking-apis.md §1a), so we classify by message text first and fall back on codes:
 * - 500 "查询无结果" / "单号不存在或者已经过期": the carrier has no record (yet) → not_found.
 * - "验证码错误" (phone digits mismatch, code commonly 408, UNCONFIRMED) → rejected for this number.
 * - 400 "找不到对应公司": per the vendor FAQ mostly wrong customer, no quota or bad encoding → auth
 *   (an operator must look; our own carrier codes come from a fixed table so a bad `com` is unlikely).
 * - 503 (sign check failed, UNCONFIRMED) → auth; 601 (key expired / no balance, UNCONFIRMED) → quota;
 *   501/502 (server error / busy, UNCONFIRMED) → transient.
 * - anything else → rejected with the code, so one odd number never stops the provider.
 */
function classifyError(body: Record<string, unknown>, trackingNo: string, raw: string): TrackResult {
  const code = codeString(body.returnCode) ?? '';
  const message = textOf(body.message) || `returnCode ${code}`;
  const opts = { raw: clip(raw) };
  if (/验证码错误|手机号|电话/.test(message)) return { kind: 'rejected', trackingNo, code: `kuaidi100:${code || 'phone'}`, message };
  if (code === '500' || /查询无结果|单号不存在|暂无/.test(message)) return { kind: 'not_found', trackingNo, message };
  if (/余额|额度|次数|欠费|套餐/.test(message) || code === '601') throw new ProviderError('kuaidi100', 'quota', `${code}: ${message}`, opts);
  if (code === '400' || code === '503' || /签名|sign|授权|customer|key/i.test(message)) throw new ProviderError('kuaidi100', 'auth', `${code}: ${message}`, opts);
  if (code === '501' || code === '502') throw new ProviderError('kuaidi100', 'transient', `${code}: ${message}`, opts);
  return { kind: 'rejected', trackingNo, code: `kuaidi100:${code || 'unknown'}`, message };
}
