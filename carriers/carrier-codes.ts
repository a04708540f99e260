import type { ProviderName } from './carrier.js';
// The carrier table is data (carriers/data/carriers.json, provenance in carriers/data/SOURCES.md); tsc copies
// the imported JSON into dist, so the built daemon loads the same file.
import table from './data/carriers.json' with { type: 'json' };

/**
 * Canonical carrier codes. We use Kdniao's ShipperCode as the canonical code because it is short,
 * upper-case and already what most Chinese shop back-ends export. Every input alias (pinyin, Chinese
 * name, Kuaidi100 code, marketplace spellings) resolves to one of these. A carrier Kdniao has no code
 * for gets a code of our own (SFKY, CAINIAO) or its Kuaidi100 code in upper case.
 */
export interface CarrierInfo {
  code: string;
  /** zh-CN display name, shown to agents and customers. */
  name: string;
  aliases: string[];
  kuaidi100: string | null;
  kdniao: string | null;
  /** 17TRACK numeric carrier key; null = let 17TRACK auto-detect. */
  seventeenTrack: number | null;
  /** Where the row came from: `curated` (hand-checked) or the provider list it was generated from. */
  source: string;
}

// 17TRACK keys: 3011 (China Post), 190271 (Cainiao), 100001/100002/100003 (DHL/UPS/FedEx) are in our research
// notes; 3013 (China EMS) is from a client's copy of the carrier list; 100012 for SF is from memory (UNCONFIRMED).
// The rest are left to auto-detection, which 17TRACK does well for Chinese domestic number formats, rather than
// guessing a key that would misroute.
const CARRIERS: readonly CarrierInfo[] = table.carriers;

const BY_CODE = new Map(CARRIERS.map((c) => [c.code, c]));

function key(s: string): string {
  return s.trim().toLowerCase().replace(/\s+/g, ' ');
}

/** Spelling → carrier. The first row naming a spelling keeps it: curated rows come first in the file. */
const BY_ALIAS = new Map<string, CarrierInfo>();
for (const c of CARRIERS) {
  for (const a of [c.code, c.name, ...c.aliases, ...(c.kuaidi100 ? [c.kuaidi100] : []), ...(c.kdniao ? [c.kdniao] : [])]) {
    const k = key(a);
    if (k && !BY_ALIAS.has(k)) BY_ALIAS.set(k, c);
  }
}

/** Provider code → carrier, for what a detection API reports (first row wins, as for aliases). */
const BY_PROVIDER_CODE: Record<'kuaidi100' | 'kdniao' | 'seventeenTrack', Map<string, CarrierInfo>> = {
  kuaidi100: new Map(),
  kdniao: new Map(),
  seventeenTrack: new Map(),
};
for (const c of CARRIERS) {
  const add = (m: Map<string, CarrierInfo>, v: string | number | null) => {
    if (v !== null && !m.has(String(v).toLowerCase())) m.set(String(v).toLowerCase(), c);
  };
  add(BY_PROVIDER_CODE.kuaidi100, c.kuaidi100);
  add(BY_PROVIDER_CODE.kdniao, c.kdniao);
  add(BY_PROVIDER_CODE.seventeenTrack, c.seventeenTrack);
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

/** Our canonical code for a code a provider reported (detection), or null when the table has no such row. */
export function carrierFromProviderCode(provider: 'kuaidi100' | 'kdniao' | 'seventeenTrack', providerCode: string | number): string | null {
  return BY_PROVIDER_CODE[provider].get(String(providerCode).trim().toLowerCase())?.code ?? null;
}

/**
 * Rows whose code, name, aliases or provider codes contain `search` (case-insensitive), in table order;
 * an exact resolution of the text comes first so ops see what an export's spelling maps to.
 */
export function listCarriers(search?: string): CarrierInfo[] {
  const q = search ? key(search) : '';
  if (!q) return [...CARRIERS];
  const exact = BY_ALIAS.get(q);
  const hits = CARRIERS.filter((c) =>
    [c.code, c.name, ...c.aliases, c.kuaidi100 ?? '', c.kdniao ?? '', c.seventeenTrack === null ? '' : String(c.seventeenTrack)].some((a) => key(a).includes(q)),
  );
  return exact ? [exact, ...hits.filter((c) => c !== exact)] : hits;
}
