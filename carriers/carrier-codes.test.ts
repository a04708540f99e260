import { describe, expect, it } from 'vitest';
import { CARRIER_CODES, carrierFromProviderCode, carrierName, listCarriers, normalizeCarrier, providerCarrierCode } from './carrier-codes.js';

describe('carrier codes', () => {
  it.each([
    ['SF', 'SF'],
    ['sf', 'SF'],
    ['shunfeng', 'SF'],
    ['顺丰', 'SF'],
    ['顺丰速运', 'SF'],
    [' Shunfeng ', 'SF'],
    ['zhongtong', 'ZTO'],
    ['中通', 'ZTO'],
    ['yuantong', 'YTO'],
    ['shentong', 'STO'],
    ['yunda', 'YD'],
    ['jtexpress', 'JTSD'],
    ['极兔速递', 'JTSD'],
    ['ems', 'EMS'],
    ['jd', 'JD'],
    ['debangwuliu', 'DBL'],
    ['youzhengguonei', 'YZPY'],
    ['中国邮政', 'YZPY'],
    ['htky', 'HTKY'],
    ['宅急送', 'ZJS'],
    // Spellings found in real shipping lists (test/orders-corpus): courier names as shops and couriers write them.
    ['中通速递', 'ZTO'],
    ['申通快递有限公司', 'STO'],
    ['天天速递', 'HHTT'],
    ['佳吉快运有限公司', 'JJKY'],
  ])('normalizes %s → %s', (input, code) => {
    expect(normalizeCarrier(input)).toBe(code);
  });

  it('returns null for unknown or empty input', () => {
    expect(normalizeCarrier('pigeon post')).toBeNull();
    expect(normalizeCarrier('')).toBeNull();
    expect(normalizeCarrier('   ')).toBeNull();
  });

  it('every canonical code normalizes to itself and has a name', () => {
    for (const code of CARRIER_CODES) {
      expect(normalizeCarrier(code)).toBe(code);
      expect(carrierName(code)).not.toBe('');
    }
  });

  it('display names', () => {
    expect(carrierName('SF')).toBe('顺丰速运');
    expect(carrierName('YZPY')).toBe('中国邮政');
    expect(carrierName('XYZ')).toBe('XYZ');
  });

  it.each([
    ['SF', 'shunfeng'],
    ['ZTO', 'zhongtong'],
    ['YTO', 'yuantong'],
    ['STO', 'shentong'],
    ['YD', 'yunda'],
    ['JTSD', 'jtexpress'],
    ['EMS', 'ems'],
    ['JD', 'jd'],
    ['DBL', 'debangwuliu'],
    ['YZPY', 'youzhengguonei'],
  ])('kuaidi100 code of %s is %s', (code, k100) => {
    expect(providerCarrierCode('kuaidi100', code)).toBe(k100);
    expect(providerCarrierCode('kdniao', code)).toBe(code);
  });

  it('17TRACK keys where known, null (auto-detect) otherwise', () => {
    expect(providerCarrierCode('seventeenTrack', 'YZPY')).toBe('3011');
    expect(providerCarrierCode('seventeenTrack', 'ZTO')).toBeNull();
    expect(providerCarrierCode('kuaidi100', 'NOPE')).toBeNull();
  });

  // Issue 16: the table from carriers/data/carriers.json reaches well beyond the original 14.
  it.each([
    ['安能', 'ANE', 'annengwuliu'],
    ['跨越', 'KYSY', 'kuayue'],
    ['丰网速运', 'FWX', 'fengwang'],
    ['顺丰快运', 'SFKY', 'shunfengkuaiyun'],
    ['中通快运', 'ZTOKY', 'zhongtongkuaiyun'],
    ['ZTO56', 'ZTOKY', 'zhongtongkuaiyun'],
    ['京东快运', 'JDKY', 'jingdongkuaiyun'],
    ['德邦快运', 'DBLKY', null],
    ['壹米滴答', 'YMDD', 'yimidida'],
    ['众邮快递', 'ZYE', 'zhongyouex'],
    ['苏宁', 'SNWL', 'suning'],
    ['UPS', 'UPS', 'ups'],
    ['FedEx', 'FEDEX', 'fedex'],
    ['DHL', 'DHL', 'dhl'],
    ['4PX', 'D4PX', 'disifang'],
    ['Cainiao International', 'CAINIAO', 'cainiaoglobal'],
    ['天天快递', 'HHTT', 'tiantian'],
    ['HHTT', 'HHTT', 'tiantian'],
  ])('resolves %s → %s (Kuaidi100 %s)', (input, code, k100) => {
    expect(normalizeCarrier(input)).toBe(code);
    expect(providerCarrierCode('kuaidi100', code)).toBe(k100);
  });

  it('has the providers\' full lists (over a thousand carriers), each code unique', () => {
    expect(CARRIER_CODES.length).toBeGreaterThan(1000);
    expect(new Set(CARRIER_CODES).size).toBe(CARRIER_CODES.length);
  });

  it('maps a detected provider code back to our code, the curated row first', () => {
    expect(carrierFromProviderCode('kuaidi100', 'yuantong')).toBe('YTO');
    expect(carrierFromProviderCode('kuaidi100', 'debangwuliu')).toBe('DBL');
    expect(carrierFromProviderCode('kdniao', 'KYSY')).toBe('KYSY');
    expect(carrierFromProviderCode('seventeenTrack', 100002)).toBe('UPS');
    expect(carrierFromProviderCode('seventeenTrack', '3011')).toBe('YZPY');
    expect(carrierFromProviderCode('kuaidi100', 'no-such-company')).toBeNull();
  });

  it('lists the table, an exact resolution of the search text first', () => {
    const hits = listCarriers('京东物流');
    expect(hits[0]!.code).toBe('JD');
    expect(listCarriers('kuaiyun').map((c) => c.code)).toEqual(expect.arrayContaining(['SFKY', 'ZTOKY', 'JDKY']));
    expect(listCarriers().length).toBe(CARRIER_CODES.length);
  });
});
