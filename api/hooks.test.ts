import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { pickTarget } from '../ingest/push.js';
import { hookFor, parseForm } from './hooks.js';

describe('hookFor', () => {
  it('answers /hooks/<provider> without a hook secret, and only /hooks/<provider>/<secret> with one', () => {
    const open = loadConfig({ env: {} });
    expect(hookFor('/hooks/kuaidi100', open)?.provider).toBe('kuaidi100');
    expect(hookFor('/hooks/17track', open)?.provider).toBe('seventeenTrack');
    expect(hookFor('/hooks/kdniao/', open)?.provider).toBe('kdniao');
    expect(hookFor('/hooks/kuaidi100/s3cret', open)).toBeNull();
    expect(hookFor('/hooks/aftership', open)).toBeNull();
    const secret = loadConfig({ env: { PARCELWATCH_HOOK_SECRET: 's3cret' } });
    expect(hookFor('/hooks/kuaidi100', secret)).toBeNull();
    expect(hookFor('/hooks/kuaidi100/wrong', secret)).toBeNull();
    expect(hookFor('/hooks/kuaidi100/s3cret', secret)?.provider).toBe('kuaidi100');
  });
});

describe('pickTarget', () => {
  const a = { id: 1, carrier: 'ZTO', trackingNo: 'N1' };
  const b = { id: 2, carrier: 'YTO', trackingNo: 'N1' };
  it('prefers the carrier the push names, then the corrected one, then the one routed to this provider', () => {
    expect(pickTarget([a, b], { carrier: 'YTO', correctedCarrier: null }, () => false)).toBe(b);
    expect(pickTarget([a, b], { carrier: 'SF', correctedCarrier: 'ZTO' }, () => false)).toBe(a);
    expect(pickTarget([a, b], { carrier: null, correctedCarrier: null }, (c) => c === 'YTO')).toBe(b);
    expect(pickTarget([a, b], { carrier: null, correctedCarrier: null }, () => false)).toBe(a);
    expect(pickTarget([], { carrier: 'YTO', correctedCarrier: null }, () => true)).toBeNull();
  });
});

describe('parseForm', () => {
  /** What the WHATWG form parser (URLSearchParams, the fallback) reads for `name`: the reference both paths must match. */
  const reference = (text: string, name: string) => new URLSearchParams(`?${text}`).get(name);

  it('fast path: percent-encoded UTF-8, + as a space, %2B as a plus, = inside a value', () => {
    const f = parseForm('com=yuantong&context=%E5%B7%B2%E7%AD%BE%E6%94%B6+%E5%89%8D%E5%8F%B0&sign=AB%2BCD%3D%3D&param=a=b=c');
    expect(f.get('com')).toBe('yuantong');
    expect(f.get('context')).toBe('已签收 前台');
    expect(f.get('sign')).toBe('AB+CD==');
    expect(f.get('param')).toBe('a=b=c');
    expect(f.get('missing')).toBeNull();
  });

  it('fast path: names are decoded too; a name without = is an empty value; empty pairs are skipped', () => {
    const f = parseForm('&na%6De+x=1&&flag&=anon&');
    expect(f.get('name x')).toBe('1');
    expect(f.get('flag')).toBe('');
    expect(f.get('')).toBe('anon');
    for (const n of ['name x', 'flag', '']) expect(f.get(n), n).toBe(reference('&na%6De+x=1&&flag&=anon&', n));
  });

  it('a repeated field: the first wins, on the fast path and on the fallback alike', () => {
    expect(parseForm('param=first&sign=s&param=second').get('param')).toBe('first');
    expect(parseForm('param=first&bad=%E4%B8&param=second').get('param')).toBe('first');
    // The malformed escape comes after the repeat: what the fast path read is dropped, the fallback reads
    // the whole body again and keeps the first too.
    expect(parseForm('param=%E5%B7%B2&param=second&bad=%ZZ').get('param')).toBe('已');
  });

  it('a malformed %-sequence sends the whole body to the lenient decoder: the rest of the body still reads', () => {
    const text = 'a=%E4%B8&b=%ZZ+x&c=%&d=%E5%B7%B2%E7%AD%BE%E6%94%B6&e=1+1';
    const f = parseForm(text);
    expect(f.get('a')).toBe('\ufffd'); // truncated UTF-8 sequence
    expect(f.get('b')).toBe('%ZZ x'); // not hex: kept as written, + still a space
    expect(f.get('c')).toBe('%');
    expect(f.get('d')).toBe('已签收');
    expect(f.get('e')).toBe('1 1');
    for (const n of ['a', 'b', 'c', 'd', 'e']) expect(f.get(n), n).toBe(reference(text, n));
    expect(() => decodeURIComponent('%E4%B8')).toThrow(URIError); // the fast path really could not take it
  });

  it('a malformed name also falls back', () => {
    const f = parseForm('%ZZ=1&ok=2');
    expect(f.get('%ZZ')).toBe('1');
    expect(f.get('ok')).toBe('2');
  });

  it('GBK: percent-encoded GBK bytes are not UTF-8 (fallback, U+FFFD); raw GBK bytes were replaced when the body was read', () => {
    // 申通 in GBK is C9EA CDA8; C9 EA is no UTF-8 sequence, CD A8 happens to be one (U+0368).
    const escaped = parseForm('ShipperName=%C9%EA%CD%A8&LogisticCode=773');
    expect(escaped.get('ShipperName')).toBe('\ufffd\ufffd\u0368');
    expect(escaped.get('LogisticCode')).toBe('773');
    const raw = parseForm(Buffer.concat([Buffer.from('ShipperName='), Buffer.from([0xc9, 0xea, 0xcd, 0xa8]), Buffer.from('&LogisticCode=773')]).toString('utf8'));
    expect(raw.get('ShipperName')).toBe('\ufffd\ufffd\u0368');
    expect(raw.get('LogisticCode')).toBe('773');
  });

  it('an escaped lone surrogate (CESU-8) is malformed UTF-8: fallback, U+FFFD, never a lone surrogate', () => {
    const v = parseForm('t=%ED%A0%80x&u=ok').get('t')!;
    expect(v).toBe(reference('t=%ED%A0%80x&u=ok', 't'));
    expect(v.endsWith('x') && v.includes('\ufffd')).toBe(true);
    expect((v as string & { isWellFormed(): boolean }).isWellFormed()).toBe(true);
  });

  it('a body starting with ? keeps it in the first name, on the fallback as on the fast path', () => {
    expect(parseForm('?a=1&b=2').get('?a')).toBe('1');
    const fallback = parseForm('?a=1&b=%ZZ');
    expect(fallback.get('?a')).toBe('1');
    expect(fallback.get('a')).toBeNull();
  });
});
