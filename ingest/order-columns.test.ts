import { describe, expect, it } from 'vitest';
import { chinaTimeToIso, COLUMN_ALIASES, resolveHeader, withExportNames } from './order-columns.js';
import { FLAT_ORDER_COLUMNS, parseInstant } from './order-input.js';

/** Taobao's 订单报表 (ExportOrderList) header as public shop back-ends reproduce it. */
const TAOBAO =
  '订单编号,买家会员名,买家支付宝账号,买家应付货款,买家应付邮费,买家支付积分,总金额,返点积分,买家实际支付金额,买家实际支付积分,订单状态,买家留言,收货人姓名,收货地址,运送方式,联系电话,联系手机,订单创建时间,订单付款时间,宝贝标题,宝贝种类,物流单号,物流公司,订单备注,宝贝总数量';
/** JD's 订单导出 header as a public JD order parser lists it. */
const JD =
  '订单号,商品ID,商品名称,订购数量,支付方式,下单时间,京东价,订单金额,结算金额,余额支付,应付金额,订单状态,订单类型,下单帐号,客户姓名,客户地址,联系电话,订单备注,发票类型,发票抬头,发票内容,商家备注,商家备注等级（等级1-5为由高到低）,运费金额,付款确认时间,增值税发票,货号,订单完成时间,订单来源,订单渠道';

/** The file column our column `c` is read from, by the export's name for it. */
const readFrom = (header: string, c: (typeof FLAT_ORDER_COLUMNS)[number]) => {
  const names = header.split(',');
  const i = resolveHeader(names).col[FLAT_ORDER_COLUMNS.indexOf(c)]!;
  return i === -1 ? null : names[i];
};

describe('marketplace export column names', () => {
  it('each name belongs to one column and is none of our own names', () => {
    const all = Object.values(COLUMN_ALIASES).flat();
    expect(new Set(all).size).toBe(all.length);
    for (const n of all) expect(FLAT_ORDER_COLUMNS as readonly string[]).not.toContain(n);
  });

  it("reads a Taobao export's columns, the mobile before the landline, and ignores the rest", () => {
    const r = resolveHeader(TAOBAO.split(','));
    expect(r.problems).toEqual([]);
    expect(Object.fromEntries(FLAT_ORDER_COLUMNS.map((c) => [c, readFrom(TAOBAO, c)]))).toEqual({
      orderId: '订单编号',
      platform: null,
      type: null,
      paidAt: '订单付款时间',
      promisedShipBy: null,
      amount: '买家实际支付金额',
      currency: null,
      customerName: '收货人姓名',
      customerPhone: '联系手机',
      customerHandle: '买家会员名',
      carrier: '物流公司',
      trackingNo: '物流单号',
      markedShippedAt: null,
    });
    // Only the payment time is a date-time column read through an export's name.
    expect(r.chinaTime).toEqual([TAOBAO.split(',').indexOf('订单付款时间')]);
  });

  it("reads a JD export's columns (payment confirmed, amount payable, the buyer's account)", () => {
    expect(resolveHeader(JD.split(',')).problems).toEqual([]);
    expect([readFrom(JD, 'orderId'), readFrom(JD, 'paidAt'), readFrom(JD, 'amount'), readFrom(JD, 'customerHandle'), readFrom(JD, 'customerPhone')]).toEqual([
      '订单号',
      '付款确认时间',
      '应付金额',
      '下单帐号',
      '联系电话',
    ]);
  });

  it('matches names without the blanks around them (Taobao writes "订单付款时间 ")', () => {
    const r = resolveHeader(['订单编号', '总金额', '订单付款时间 ']);
    expect(r.problems).toEqual([]);
    expect(r.col[FLAT_ORDER_COLUMNS.indexOf('paidAt')]).toBe(2);
    expect(r.canonical).toEqual(['orderId', '', 'paidAt']);
  });

  it('our own name wins over an export name; a name given twice is refused', () => {
    const r = resolveHeader(['orderId', '订单编号', 'paidAt']);
    expect(r.problems).toEqual([]);
    expect(r.col[0]).toBe(0);
    expect(r.chinaTime).toEqual([]); // paidAt under our name keeps the strict ISO rule
    expect(resolveHeader(['订单编号', '订单付款时间', '订单编号']).problems).toEqual(['column 3 "订单编号" is named twice']);
  });

  it('a file of our own names is still strict about unknown columns; an export says what it misses in its own terms', () => {
    expect(resolveHeader(['orderId', 'paidAt', 'trackingNumber']).problems).toEqual([
      `column 3 "trackingNumber" is not one of ${FLAT_ORDER_COLUMNS.join(', ')} (nor a marketplace export's name for one)`,
    ]);
    expect(resolveHeader(['日期', '收件人', '手机', '快递号', '快递公司']).problems).toEqual([
      'column orderId is missing (or 订单编号, 订单号, 主订单编号)',
      'column paidAt is missing (or 订单付款时间, 付款确认时间, 付款时间, 支付时间)',
    ]);
  });
});

describe('chinaTimeToIso', () => {
  it.each([
    ['2020-02-20 23:59:54', '2020-02-20T23:59:54+08:00', '2020-02-20T15:59:54.000Z'],
    ['2020/2/21 0:00', '2020-02-21T00:00:00+08:00', '2020-02-20T16:00:00.000Z'], // Excel's re-save
    [' 2019-11-11 00:05 ', '2019-11-11T00:05:00+08:00', '2019-11-10T16:05:00.000Z'],
  ])('%s is Beijing time: %s', (given, iso, utc) => {
    expect(chinaTimeToIso(given)).toBe(iso);
    expect((parseInstant(chinaTimeToIso(given)) as Date).toISOString()).toBe(utc);
  });

  it.each(['', '2019-4-14', '2026-11-11T00:05:00+08:00', '11月18日', 'not a time'])('leaves %j for the usual rules', (v) => {
    expect(chinaTimeToIso(v)).toBe(v);
  });

  it('does not roll an impossible date over: the calendar check still refuses it', () => {
    expect(parseInstant(chinaTimeToIso('2020/2/30 10:00'))).toBe('is not a calendar date (2020-02-30)');
  });
});

describe('withExportNames', () => {
  it("puts the export's column name beside ours, for nested paths too", () => {
    const names = { paidAt: '订单付款时间', trackingNo: '物流单号', customerName: '收货人姓名' };
    expect(withExportNames('paidAt: is required; shipments.0.trackingNo: must be 5–40 letters; amount: bad', names)).toBe(
      'paidAt (订单付款时间): is required; shipments.0.trackingNo (物流单号): must be 5–40 letters; amount: bad',
    );
    expect(withExportNames('customer.name: too long', names)).toBe('customer.name (收货人姓名): too long');
    expect(withExportNames('paidAt: must be ISO-8601 with an offset, e.g. 2026-11-11T00:05:00+08:00', {})).toBe(
      'paidAt: must be ISO-8601 with an offset, e.g. 2026-11-11T00:05:00+08:00',
    );
  });
});
