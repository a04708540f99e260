import type { ProviderName } from './carrier.js';

/**
 * Canonical carrier codes. We use Kdniao's ShipperCode as the canonical code because it is short,
 * upper-case and already what most Chinese shop back-ends export. Every input alias (pinyin, Chinese
 * name, Kuaidi100 code, marketplace spellings) resolves to one of these.
 */
interface CarrierInfo {
  code: string;
  /** zh-CN display name, shown to agents and customers. */
  name: string;
  aliases: string[];
  kuaidi100: string | null;
  kdniao: string | null;
  /** 17TRACK numeric carrier key; null = let 17TRACK auto-detect. */
  seventeenTrack: number | null;
}

const CARRIERS: CarrierInfo[] = [
  // 17TRACK keys: only 3011 (China Post) is in our research notes; 3013 (China EMS) is from a client's
  // copy of the carrier list; 100012 for SF is from memory (UNCONFIRMED). The rest are left to auto-detection,
  // which 17TRACK does well for Chinese domestic number formats, rather than guessing a key that would misroute.
  { code: 'SF', name: '顺丰速运', aliases: ['sf', 'shunfeng', '顺丰', '顺丰快递', 'sfexpress', 'sf-express', 'sf express'], kuaidi100: 'shunfeng', kdniao: 'SF', seventeenTrack: 100012 },
  { code: 'ZTO', name: '中通快递', aliases: ['zto', 'zhongtong', '中通', 'zto express'], kuaidi100: 'zhongtong', kdniao: 'ZTO', seventeenTrack: null },
  { code: 'YTO', name: '圆通速递', aliases: ['yto', 'yuantong', '圆通', '圆通快递', 'yto express'], kuaidi100: 'yuantong', kdniao: 'YTO', seventeenTrack: null },
  { code: 'STO', name: '申通快递', aliases: ['sto', 'shentong', '申通', 'sto express'], kuaidi100: 'shentong', kdniao: 'STO', seventeenTrack: null },
  { code: 'YD', name: '韵达速递', aliases: ['yd', 'yunda', '韵达', '韵达快递', 'yunda express'], kuaidi100: 'yunda', kdniao: 'YD', seventeenTrack: null },
  { code: 'JTSD', name: '极兔速递', aliases: ['jtsd', 'jtexpress', 'jt', 'j&t', 'jitu', '极兔', '极兔快递', 'j&t express'], kuaidi100: 'jtexpress', kdniao: 'JTSD', seventeenTrack: null },
  { code: 'EMS', name: 'EMS', aliases: ['ems', '中国ems', '邮政ems', 'china ems', 'ems快递'], kuaidi100: 'ems', kdniao: 'EMS', seventeenTrack: 3013 },
  { code: 'JD', name: '京东快递', aliases: ['jd', 'jingdong', '京东', '京东物流', 'jdl'], kuaidi100: 'jd', kdniao: 'JD', seventeenTrack: null },
  { code: 'DBL', name: '德邦快递', aliases: ['dbl', 'debang', 'debangwuliu', 'debangkuaidi', 'deppon', '德邦', '德邦物流'], kuaidi100: 'debangwuliu', kdniao: 'DBL', seventeenTrack: null },
  { code: 'YZPY', name: '中国邮政', aliases: ['yzpy', 'youzhengguonei', 'chinapost', 'china post', '邮政', '邮政包裹', '邮政快递包裹', '中国邮政快递包裹'], kuaidi100: 'youzhengguonei', kdniao: 'YZPY', seventeenTrack: 3011 },
  // Kuaidi100 codes below follow its published company list; less used, kept for completeness.
  { code: 'HTKY', name: '百世快递', aliases: ['htky', 'huitongkuaidi', 'best', 'bestexpress', '百世', '百世汇通', '汇通'], kuaidi100: 'huitongkuaidi', kdniao: 'HTKY', seventeenTrack: null },
  { code: 'UC', name: '优速快递', aliases: ['uc', 'youshuwuliu', 'yousu', '优速'], kuaidi100: 'youshuwuliu', kdniao: 'UC', seventeenTrack: null },
  { code: 'ZJS', name: '宅急送', aliases: ['zjs', 'zhaijisong', '宅急送快递'], kuaidi100: 'zhaijisong', kdniao: 'ZJS', seventeenTrack: null },
  { code: 'DNWL', name: '丹鸟', aliases: ['dnwl', 'danniao', '丹鸟物流'], kuaidi100: 'danniao', kdniao: 'DNWL', seventeenTrack: null },
];

const BY_CODE = new Map(CARRIERS.map((c) => [c.code, c]));

function key(s: string): string {
  return s.trim().toLowerCase().replace(/\s+/g, ' ');
}

const BY_ALIAS = new Map<string, CarrierInfo>();
for (const c of CARRIERS) {
  for (const a of [c.code, c.name, ...c.aliases, ...(c.kuaidi100 ? [c.kuaidi100] : [])]) BY_ALIAS.set(key(a), c);
}

export const CARRIER_CODES: readonly string[] = CARRIERS.map((c) => c.code);

/** Canonical code for any accepted spelling, or null when we do not know the carrier. */
export function normalizeCarrier(input: string): string | null {
  if (typeof input !== 'string') return null;
  const k = key(input);
  if (!k) return null;
  return BY_ALIAS.get(k)?.code ?? null;
}

/** zh-CN display name; unknown codes are shown as given rather than hidden. */
export function carrierName(code: string): string {
  const c = BY_CODE.get(code) ?? BY_ALIAS.get(key(code));
  return c ? c.name : code;
}

/** The code a provider expects for our canonical carrier, or null when the provider has none. */
export function providerCarrierCode(provider: ProviderName, code: string): string | null {
  const c = BY_CODE.get(code) ?? BY_ALIAS.get(key(code));
  if (!c) return null;
  switch (provider) {
    case 'kuaidi100':
      return c.kuaidi100;
    case 'kdniao':
      return c.kdniao;
    case 'seventeenTrack':
      return c.seventeenTrack === null ? null : String(c.seventeenTrack);
    case 'sandbox':
      return c.code;
  }
}
