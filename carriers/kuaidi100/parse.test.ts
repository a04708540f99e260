import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ProviderError } from '../carrier.js';
import { parseKuaidi100Reply } from './parse.js';
import { KUAIDI100_FLAG_CODES, KUAIDI100_STATUS, kuaidi100Status } from './status-map.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../../test/fixtures/${name}`, import.meta.url), 'utf8'));
const TZ = 'Asia/Shanghai';

describe('kuaidi100 status map', () => {
  it.each(Object.entries(KUAIDI100_STATUS))('code %s → %s', (code, status) => {
    expect(kuaidi100Status(code)).toBe(status);
  });

  it.each(Object.entries(KUAIDI100_STATUS))('event statusCode %s maps through the parser', (code, status) => {
    // Advanced codes decide alone; coarse parents fall back to the code when the text says nothing.
    const r = parseKuaidi100Reply({ state: code, data: [{ ftime: '2026-11-12 08:00:00', context: '—', statusCode: code }] }, 'N1', TZ);
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(r.events[0]!.status).toBe(status);
    expect(r.summaryStatus).toBe(status);
    expect(r.flags).toEqual(KUAIDI100_FLAG_CODES.has(code) ? [`kuaidi100:${code}`] : []);
  });
});

describe('parseKuaidi100Reply', () => {
  it('resultv2 journey: ascending, UTC, hubs, codes', () => {
    const r = parseKuaidi100Reply(fixture('kuaidi100-query.json'), 'YT6186594166532', TZ);
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(r.events.map((e) => e.occurredAt.toISOString())).toEqual([
      '2021-12-15T09:10:09.000Z',
      '2021-12-15T11:18:27.000Z',
      '2021-12-15T12:11:25.000Z',
      '2021-12-15T12:15:14.000Z',
    ]);
    expect(r.events.map((e) => e.status)).toEqual(['collected', 'arrived_at_hub', 'in_transit', 'in_transit']);
    expect(r.events[0]!.hub).toBe('江苏省苏州市北桥公司');
    expect(r.events[3]!.hub).toBe('苏州转运中心');
    expect(r.events[3]!.providerCode).toBe('1002');
    expect(r.events[3]!.location).toBe('江苏,苏州市');
    expect(r.summaryStatus).toBe('in_transit');
    expect(r.flags).toEqual([]);
  });

  it('basic delivered reply without codes: text rules, sorted, state 3 summary', () => {
    const r = parseKuaidi100Reply(fixture('kuaidi100-query-basic-delivered.json'), '2234014274', TZ);
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    const times = r.events.map((e) => e.occurredAt.getTime());
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(r.events.at(-1)!.status).toBe('delivered');
    expect(r.events.at(-1)!.occurredAt.toISOString()).toBe('2016-11-26T11:10:30.000Z');
    expect(r.summaryStatus).toBe('delivered');
  });

  // Issue 11 class 5: location and areaName are regions (宁波市; areaName is Kuaidi100's geocoding of the text),
  // not sites a customer recognises; the corpus (sf-city-prefix-bike-shed-signed, hhtt-family-signed) never counts them.
  it('location/areaName regions are not hubs when the text names no site', () => {
    const r = parseKuaidi100Reply({ state: '0', data: [{ time: '2026-11-12 08:00:00', context: '快件已发车', location: '江苏,苏州市,相城区', areaName: '江苏,苏州市,相城区' }] }, 'N', TZ);
    expect(r.kind === 'ok' && r.events[0]!.hub).toBeNull();
    expect(r.kind === 'ok' && r.events[0]!.location).toBe('江苏,苏州市,相城区');
  });

  it('falls back to time when ftime is missing; number state accepted', () => {
    const r = parseKuaidi100Reply({ state: 5, data: [{ time: '2026/11/12 08:00:00', context: 'x' }] }, 'N', TZ);
    expect(r.kind === 'ok' && r.events[0]!.occurredAt.toISOString()).toBe('2026-11-12T00:00:00.000Z');
    expect(r.kind === 'ok' && r.events[0]!.status).toBe('out_for_delivery');
  });

  it('top-level state only fills the newest event, whatever the reply order', () => {
    const r = parseKuaidi100Reply(
      { state: '5', data: [{ ftime: '2026-11-12 08:00:00', context: 'a' }, { ftime: '2026-11-12 09:00:00', context: 'b' }] },
      'N',
      TZ,
    );
    expect(r.kind === 'ok' && r.events.map((e) => e.status)).toEqual(['unknown', 'out_for_delivery']);
  });

  it('flags come from the current state/newest event only', () => {
    const r = parseKuaidi100Reply(
      {
        state: '2',
        data: [
          { ftime: '2026-11-12 10:00:00', context: '快件已放入驿站，超时未取', statusCode: '205' },
          { ftime: '2026-11-11 10:00:00', context: '超时未更新', statusCode: '202' },
        ],
      },
      'N',
      TZ,
    );
    expect(r.kind === 'ok' && r.flags).toEqual(['kuaidi100:205']);
  });

  it.each([
    [{ result: false, returnCode: '500', message: '查询无结果，请隔段时间再查' }, 'not_found'],
    [{ result: false, returnCode: '408', message: '快递公司参数异常：验证码错误' }, 'rejected'],
    [{ result: false, returnCode: '999', message: '其他' }, 'rejected'],
    [{ message: 'ok', state: '0', data: [] }, 'not_found'],
    [{ message: 'ok', state: '0', data: [{ ftime: 'yesterday', context: 'x' }] }, 'malformed'],
    [{ message: 'ok', state: '0', data: 'nope' }, 'malformed'],
  ])('per-number outcome %j → %s', (body, kind) => {
    expect(parseKuaidi100Reply(body, 'N', TZ).kind).toBe(kind);
  });

  it.each([
    [{ result: false, returnCode: '400', message: '找不到对应公司' }, 'auth'],
    [{ result: false, returnCode: '503', message: '验证签名失败' }, 'auth'],
    [{ result: false, returnCode: '601', message: 'key已过期' }, 'quota'],
    [{ result: false, returnCode: '502', message: '服务器繁忙' }, 'transient'],
    [[1, 2], 'malformed'],
  ])('whole-call error %j → ProviderError %s', (body, kind) => {
    try {
      parseKuaidi100Reply(body, 'N', TZ);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ProviderError);
      expect((e as ProviderError).kind).toBe(kind);
    }
  });
});

/** Issue 11 class 6: envelope robustness. */
describe('parseKuaidi100Reply: envelope robustness', () => {
  it('result:false beside a full data[] (as the official Java SDK relays it) is data', () => {
    const r = parseKuaidi100Reply(
      { result: false, message: 'ok', state: '3', data: [{ ftime: '2021-06-14 17:31:57', context: '已签收，签收人凭取货码签收。' }] },
      'N',
      TZ,
    );
    expect(r).toMatchObject({ kind: 'ok', events: [{ status: 'delivered' }] });
    expect(parseKuaidi100Reply({ result: false, returnCode: '500', message: '查询无结果', data: [] }, 'N', TZ).kind).toBe('not_found');
  });

  it('one trace with an unparseable time is dropped with its reason; the rest of the reply counts', () => {
    const r = parseKuaidi100Reply(
      {
        state: '0',
        data: [
          { time: '2019-07-25 16:32:162', ftime: '2019-07-25 16:32:162', context: '快件已到达【杭州转运中心】' },
          { ftime: '2019-07-25 10:00:00', context: '【杭州仓前】 已揽收' },
        ],
      },
      'N',
      TZ,
    );
    if (r.kind !== 'ok') throw new Error(r.kind);
    expect(r.events.map((e) => e.status)).toEqual(['collected']);
    expect(r.dropped).toHaveLength(1);
    expect(r.dropped![0]).toMatchObject({ where: 'data[0]', error: expect.stringContaining('16:32:162') });
  });

  it('every trace unparseable → malformed naming the first; a placeholder only (查无结果) → not_found', () => {
    const bad = parseKuaidi100Reply({ data: [{ ftime: 'never', context: 'x' }] }, 'N', TZ);
    expect(bad).toMatchObject({ kind: 'malformed', error: expect.stringContaining('data[0]') });
    expect(parseKuaidi100Reply({ state: '3', ischeck: '1', data: [{ ftime: '2020-08-14 16:15:45', context: '查无结果' }] }, 'N', TZ).kind).toBe('not_found');
  });
});
