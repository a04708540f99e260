import { describe, expect, it } from 'vitest';
import { parseKuaidi100Reply } from '../carriers/kuaidi100/parse.js';
import { foldEvents, type FoldableEvent, type ShipmentTrackState } from './fold-events.js';

const TZ = 'Asia/Shanghai';
const fresh = (): ShipmentTrackState => ({ status: 'pending', statusSince: null, collectedAt: null, deliveredAt: null, lastEventAt: null, lastEventText: null, lastHub: null });

/** The events of a Kuaidi100 reply made of [local time, text] rows, as the poll path reads them. */
function read(rows: [string, string][]): FoldableEvent[] {
  const r = parseKuaidi100Reply({ message: 'ok', data: rows.map(([ftime, context]) => ({ ftime, context })) }, 'N', TZ);
  if (r.kind !== 'ok') throw new Error(r.kind);
  return r.events;
}

describe('foldEvents on real wordings (issue 11 classes 1, 3, 4)', () => {
  it('请您准备签收 as the newest event leaves the parcel out for delivery (polling goes on)', () => {
    const s = foldEvents(fresh(), read([
      ['2022-01-24 17:05:55', '京东快递 已收取快件'],
      ['2022-01-25 12:27:02', '您的快件正在派送中，请您准备签收（快递员：潘谊民 ，联系电话：135****1234）。'],
    ]));
    expect(s.status).toBe('out_for_delivery');
    expect(s.deliveredAt).toBeNull();
  });

  it('a courier assigned and the seller warehouse do not stop the 72 h clock; the carrier scan does', () => {
    const before = foldEvents(fresh(), read([
      ['2022-01-24 09:00:00', '您的订单已审核'],
      ['2022-01-24 10:00:00', '您的订单已拣货完成'],
      ['2022-01-24 10:30:00', '您的订单已经打包完毕,准备出库.'],
      ['2022-01-24 11:25:23', '揽收任务已分配给卢俊'],
    ]));
    expect(before.status).toBe('info_received');
    expect(before.collectedAt).toBeNull();
    const after = foldEvents(before, read([['2022-01-24 17:05:55', '您的快件已由【上海华新营业部】揽收完成']]));
    expect(after.status).toBe('collected');
    expect(after.collectedAt?.toISOString()).toBe('2022-01-24T09:05:55.000Z');
  });

  it('无法派送 is a problem, not out for delivery', () => {
    const s = foldEvents(fresh(), read([
      ['2022-01-24 17:05:55', '【杭州仓前】 已揽收'],
      ['2022-01-25 09:00:00', '快件地址不详，无法派送，请联系寄件方'],
    ]));
    expect(s.status).toBe('problem');
  });

  it('an unknown newest event keeps the previous known status (never moves it backwards)', () => {
    const s = foldEvents(fresh(), read([
      ['2018-01-22 15:31:57', '货物已到达【北京陈家营站】'],
      ['2018-01-22 15:31:58', '货物已分配，等待配送'],
    ]));
    expect(s.status).toBe('arrived_at_hub');
    expect(s.lastEventText).toBe('货物已分配，等待配送');
  });
});

describe('foldEvents: pre-advice after a scan', () => {
  it('a late seller-warehouse note never takes a collected parcel back to info_received', () => {
    const s = foldEvents(fresh(), read([
      ['2022-01-24 17:05:55', '【杭州仓前】 已揽收'],
      ['2022-01-24 18:00:00', '您的订单已出库'],
    ]));
    expect(s.status).toBe('collected');
  });
});
