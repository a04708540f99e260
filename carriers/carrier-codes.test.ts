import { describe, expect, it } from 'vitest';
import { CARRIER_CODES, carrierName, normalizeCarrier, providerCarrierCode } from './carrier-codes.js';

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
});
