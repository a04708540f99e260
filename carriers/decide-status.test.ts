import { describe, expect, it } from 'vitest';
import type { Status } from '../domain/status.js';
import { decideStatus, type CodeEvidence, type PrecedenceRow } from './decide-status.js';
import { parseKdniaoReply } from './kdniao/parse.js';
import { parseKuaidi100Reply } from './kuaidi100/parse.js';
import { parseAcceptedItem } from './seventeen-track/parse.js';

const TZ = 'Asia/Shanghai';
const code = (status: Status, specific: boolean, rule = `test:${status}`): CodeEvidence => ({ status, specific, rule });

/** One case per row of the table in domain/status.ts ("Provider code vs text"). */
describe('decideStatus: precedence table', () => {
  const rows: [PrecedenceRow, string, CodeEvidence | null, string, Status, string | undefined][] = [
    ['P1', 'text problem beats a happy specific code', code('in_transit', true), '快件地址不详，无法派送，请联系寄件方', 'problem', 'text:delivery_blocked'],
    ['P1', 'text problem beats a coarse problem code (text is finer)', code('problem', false), '收件人拒签', 'rejected', 'text:rejected'],
    ['P1', 'a specific problem code refines a problem text', code('failed_attempt', true, 'kdniao:Action=416'), '快件异常', 'failed_attempt', 'kdniao:Action=416'],
    ['P2', 'problem code beats a happy text', code('problem', false, 'kuaidi100:status=疑难'), '正在派送中', 'problem', 'kuaidi100:status=疑难'],
    ['P3', 'forward phrase beats a delivered code', code('delivered', true, 'kuaidi100:statusCode=3'), '正在派送途中,请您准备签收', 'out_for_delivery', 'text:out_for_delivery'],
    ['P3', 'courier assigned beats a collected code', code('collected', true, 'kuaidi100:statusCode=103'), '揽收任务已分配给张三', 'info_received', 'text:info_received'],
    ['P3', 'seller warehouse beats a collected code', code('collected', false), '您的订单已打包', 'info_received', 'text:seller_warehouse'],
    ['P4', 'courier took it back out of the station', code('at_pickup_point', true, 'kuaidi100:statusCode=501'), '快递员正在为您重新派送', 'out_for_delivery', 'text:out_for_delivery'],
    ['P4', 'a signed-at-station code while the text says held there for the customer', code('delivered', true, 'kuaidi100:statusCode=304'), '您的快件已由快递驿站代收', 'at_pickup_point', 'text:at_pickup_point'],
    ['P5', 'specific code beats a happy text', code('in_transit', true, 'kuaidi100:statusCode=1002'), '【苏州转运中心公司】 已收入', 'in_transit', 'kuaidi100:statusCode=1002'],
    ['P6', 'text beats a coarse code', code('in_transit', false, 'kuaidi100:statusCode=0'), '快件已到达【杭州转运中心】', 'arrived_at_hub', 'text:arrived_at_hub'],
    ['P7', 'coarse code when the text says nothing', code('in_transit', false, 'kuaidi100:statusCode=0'), '—', 'in_transit', 'kuaidi100:statusCode=0'],
    ['P8', 'nothing at all', null, '—', 'unknown', undefined],
  ];
  it.each(rows)('%s: %s', (row, _what, c, text, status, rule) => {
    expect(decideStatus([c], text)).toEqual({ row, status, ...(rule ? { rule } : {}) });
  });

  it('picks the first specific evidence, else a coarse problem one, else the first coarse one', () => {
    expect(decideStatus([code('in_transit', false), code('problem', false, 'name')], '—')).toMatchObject({ status: 'problem', rule: 'name' });
    expect(decideStatus([code('in_transit', false), code('arrived_at_hub', true, 'stage')], '—')).toMatchObject({ status: 'arrived_at_hub', rule: 'stage' });
    expect(decideStatus([null, code('in_transit', false, 'c')], '—')).toMatchObject({ status: 'in_transit', rule: 'c' });
  });
});

/** The same disagreements through each provider's real parser: the evidence fields are wired as documented. */
describe('provider disagreements', () => {
  const k100 = (e: Record<string, unknown>) => {
    const r = parseKuaidi100Reply({ message: 'ok', state: '0', data: [{ ftime: '2026-11-12 08:00:00', ...e }] }, 'N', TZ);
    if (r.kind !== 'ok') throw new Error(r.kind);
    return r.events[0]!;
  };
  it('kuaidi100: status name 疑难 (code 2) on 无法派送 is a problem', () => {
    expect(k100({ context: '快件地址不详，无法派送，请联系寄件方', status: '疑难', statusCode: '2' })).toMatchObject({ status: 'problem', rule: 'text:delivery_blocked' });
    expect(k100({ context: '快件正在派送', status: '疑难' })).toMatchObject({ status: 'problem', rule: 'kuaidi100:status=疑难' });
  });
  it('kuaidi100: code says in transit, text says 疑难', () => {
    expect(k100({ context: '疑难件，地址不详', status: '在途', statusCode: '1002' })).toMatchObject({ status: 'problem', rule: 'text:problem' });
  });
  it('kuaidi100: code says pickup point, text says the courier took it back out', () => {
    expect(k100({ context: '快递员已取回快件，正在派送', statusCode: '501' })).toMatchObject({ status: 'out_for_delivery', rule: 'text:out_for_delivery' });
  });
  it('kuaidi100: 签收 code on 请您准备签收 is not a delivery', () => {
    expect(k100({ context: '正在派送途中,请您准备签收', status: '签收', statusCode: '3' })).toMatchObject({ status: 'out_for_delivery' });
  });
  it('kuaidi100: an advanced code decides a happy text, and says so', () => {
    expect(k100({ context: '已签收，签收人：本人', statusCode: '301' })).toMatchObject({ status: 'delivered', rule: 'kuaidi100:statusCode=301' });
  });

  const kdn = (t: Record<string, unknown>, top: Record<string, unknown> = {}) => {
    const r = parseKdniaoReply({ Success: true, State: '2', Traces: [{ AcceptTime: '2026-11-12 08:00:00', ...t }], ...top }, 'N', TZ);
    if (r.kind !== 'ok') throw new Error(r.kind);
    return r.events[0]!;
  };
  it('kdniao: Action 202 on a 无法派送 text is a problem; Action 4 beats a happy text', () => {
    expect(kdn({ AcceptStation: '因疫情暂停派送', Action: '202' })).toMatchObject({ status: 'problem', rule: 'text:delivery_blocked' });
    expect(kdn({ AcceptStation: '快件已到达【杭州转运中心】', Action: '4' })).toMatchObject({ status: 'problem', rule: 'kdniao:Action=4' });
  });
  it('kdniao: Action 211 (station) but the courier took it out for delivery', () => {
    expect(kdn({ AcceptStation: '快递员正在为您派件', Action: '211' })).toMatchObject({ status: 'out_for_delivery', rule: 'text:out_for_delivery' });
  });
  it('kdniao: a newest trace nothing reads takes StateEx, named as such', () => {
    expect(kdn({ AcceptStation: '—' }, { StateEx: '202' })).toMatchObject({ status: 'out_for_delivery', rule: 'kdniao:StateEx=202' });
  });

  const st = (e: Record<string, unknown>) => {
    const r = parseAcceptedItem(
      { number: 'N', track_info: { latest_status: { status: 'InTransit' }, tracking: { providers: [{ events: [{ time_utc: '2026-11-12T00:00:00Z', ...e }] }] } } },
      'N',
      TZ,
    );
    if (r.kind !== 'ok') throw new Error(r.kind);
    return r.events[0]!;
  };
  it('17track: stage decides; a null stage leaves the English description to the text rules', () => {
    expect(st({ description: 'Delivered', stage: 'Delivered' })).toMatchObject({ status: 'delivered', rule: '17track:stage=Delivered' });
    expect(st({ description: 'Arrived at Facility', stage: null })).toMatchObject({ status: 'arrived_at_hub', rule: 'text:en_arrived_at_hub' });
    expect(st({ description: 'Origin Scan', stage: null })).toMatchObject({ status: 'collected', rule: 'text:en_collected' });
  });
  it('17track: a Delivered stage on a delivery-failure description is a failed attempt', () => {
    expect(st({ description: 'Delivery attempted - no one home', stage: 'Delivered' })).toMatchObject({ status: 'failed_attempt', rule: 'text:en_failed_attempt' });
  });
});
