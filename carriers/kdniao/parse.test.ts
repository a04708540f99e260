import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ProviderError } from '../carrier.js';
import { parseKdniaoReply } from './parse.js';
import { KDNIAO_FLAG_CODES, KDNIAO_STATE, KDNIAO_STATE_EX, kdniaoStatus } from './status-map.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../../test/fixtures/${name}`, import.meta.url), 'utf8'));
const TZ = 'Asia/Shanghai';

describe('kdniao status map', () => {
  it.each(Object.entries(KDNIAO_STATE))('State %s → %s', (code, status) => {
    expect(kdniaoStatus(code)).toBe(status);
    // State arrives as a number in 1002 replies.
    const r = parseKdniaoReply({ Success: true, State: Number(code), Traces: [{ AcceptTime: '2026-11-12 08:00:00', AcceptStation: '—' }] }, 'N', TZ);
    expect(r.kind === 'ok' && r.summaryStatus).toBe(status);
    expect(r.kind === 'ok' && r.events[0]!.status).toBe(status);
  });

  it.each(Object.entries(KDNIAO_STATE_EX))('StateEx/Action %s → %s', (code, status) => {
    const r = parseKdniaoReply(
      { Success: true, State: '2', StateEx: code, Traces: [{ AcceptTime: '2026-11-12 08:00:00', AcceptStation: '—', Action: code }] },
      'N',
      TZ,
    );
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(r.events[0]!.status).toBe(status);
    expect(r.summaryStatus).toBe(status);
    expect(r.flags).toEqual(KDNIAO_FLAG_CODES.has(code) ? [`kdniao:${code}`] : []);
  });
});

describe('parseKdniaoReply', () => {
  it('1002 sample: slash times, numeric State, ascending order, text statuses', () => {
    const r = parseKdniaoReply(fixture('kdniao-1002.json'), '118461988807', TZ);
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    const times = r.events.map((e) => e.occurredAt.toISOString());
    expect(times).toEqual([...times].sort());
    expect(times[0]).toBe('2014-06-24T12:18:58.000Z');
    expect(r.events[0]!.status).toBe('collected');
    expect(r.events.at(-1)!.status).toBe('delivered');
    expect(r.summaryStatus).toBe('delivered');
  });

  it('8001 sample: Action codes, Location, locker hold after signature', () => {
    const r = parseKdniaoReply(fixture('kdniao-8001.json'), '773014136444784', TZ);
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(r.events).toHaveLength(14);
    expect(r.events[0]!.occurredAt.toISOString()).toBe('2019-11-14T14:29:04.000Z');
    expect(r.events[0]!.status).toBe('collected');
    expect(r.events[0]!.location).toBe('南京市');
    expect(r.events[3]!.status).toBe('arrived_at_hub');
    expect(r.events[10]!.status).toBe('out_for_delivery');
    expect(r.events[11]!.status).toBe('delivered');
    expect(r.events[12]!.status).toBe('at_pickup_point'); // Action "2" but the text says 驿站
    expect(r.events[13]!.status).toBe('delivered');
    expect(r.events[13]!.providerCode).toBe('301');
    expect(r.summaryStatus).toBe('delivered');
  });

  it('Success with empty Traces → not_found', () => {
    expect(parseKdniaoReply(fixture('kdniao-errors.json').no_traces_verbatim_doc, 'N', TZ).kind).toBe('not_found');
  });

  it.each([
    ['<provider-supplied failure text>', 'rejected'],
    ['单号不存在', 'rejected'],
    ['暂无轨迹信息', 'not_found'],
  ])('Success:false reason %s → %s', (Reason, kind) => {
    expect(parseKdniaoReply({ Success: false, Reason }, 'N', TZ).kind).toBe(kind);
  });

  it.each([
    ['数据签名验证失败', 'auth'],
    ['EBusinessID不存在', 'auth'],
    ['今日调用次数已超出上限', 'quota'],
  ])('Success:false reason %s → ProviderError %s', (Reason, kind) => {
    expect(() => parseKdniaoReply({ Success: false, Reason }, 'N', TZ)).toThrow(ProviderError);
    try {
      parseKdniaoReply({ Success: false, Reason }, 'N', TZ);
    } catch (e) {
      expect((e as ProviderError).kind).toBe(kind);
    }
  });

  it('wrong envelope → ProviderError malformed; bad trace → malformed result', () => {
    expect(() => parseKdniaoReply({ hello: 1 }, 'N', TZ)).toThrow(ProviderError);
    expect(parseKdniaoReply({ Success: true, Traces: [{ AcceptTime: 'never' }] }, 'N', TZ).kind).toBe('malformed');
    expect(parseKdniaoReply({ Success: true, Traces: {} }, 'N', TZ).kind).toBe('malformed');
  });
});
