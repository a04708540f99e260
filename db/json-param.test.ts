import { describe, expect, it } from 'vitest';
import { jsonParam, storableJsonText } from './json-param.js';

/*
 * JSON text for Postgres json/jsonb: jsonb refuses `\u0000` and any lone surrogate escape (checked against
 * Postgres by hand: '["\ud800"]'::jsonb and '["\udc00\ud83d"]'::jsonb are "invalid input syntax", an
 * escaped pair '["\ud83d\ude00"]'::jsonb is the emoji). These need no database.
 */

const HIGH = '\ud83d';
const LOW = '\ude00';

describe('storableJsonText', () => {
  it('already-clean JSON text comes back unchanged (the same string)', () => {
    const text = JSON.stringify({ context: '已签收，签收人：前台 😀', n: 1, list: ['a\\u0000b', 'tab\tnew\nline'], nested: { q: '"quoted"' } });
    expect(storableJsonText(text)).toBe(text);
  });

  it('an escaped NUL is dropped, in strings and in keys, nested in objects and arrays', () => {
    const value = { ['k\u0000ey']: 'a\u0000b', list: [{ deep: ['x\u0000', '\u0000\u0000y'] }] };
    const text = JSON.stringify(value);
    expect(text).toContain('\\u0000');
    expect(JSON.parse(storableJsonText(text))).toEqual({ key: 'ab', list: [{ deep: ['x', 'y'] }] });
  });

  it('a lone high or low surrogate (escaped by JSON.stringify) becomes U+FFFD, nested too', () => {
    const value = { high: `a${HIGH}b`, low: `a${LOW}b`, reversed: `${LOW}${HIGH}`, list: [[`x${HIGH}`], { k: `${HIGH}${HIGH}${LOW}` }] };
    const text = JSON.stringify(value);
    expect(text).toMatch(/\\ud83d/);
    expect(JSON.parse(storableJsonText(text))).toEqual({
      high: 'a\ufffdb',
      low: 'a\ufffdb',
      reversed: '\ufffd\ufffd',
      list: [['x\ufffd'], { k: `\ufffd${HIGH}${LOW}` }], // the lone high replaced, the pair after it kept
    });
  });

  it('upper-case hex escapes are escapes too', () => {
    expect(storableJsonText('["\\uD800","\\uDFFF","\\u0000"]')).toBe('["\ufffd","\ufffd",""]');
  });

  it('a valid pair is kept: as characters (JSON.stringify) and as an escaped pair (other JSON text)', () => {
    const text = JSON.stringify({ e: `快递${HIGH}${LOW}` });
    expect(storableJsonText(text)).toBe(text);
    const escaped = '{"e":"\\ud83d\\ude00","E":"\\uD83D\\uDE00"}';
    expect(storableJsonText(escaped)).toBe(escaped);
    expect(JSON.parse(storableJsonText(escaped))).toEqual({ e: '😀', E: '😀' });
  });

  it('an escaped backslash before u is text, not an escape; an odd run of backslashes still ends in one', () => {
    // The value is the six characters \u0000 (resp. \ud800): JSON text "\\u0000".
    const literal = JSON.stringify({ a: '\\u0000', b: '\\ud800', c: '\\\\u0000' });
    expect(storableJsonText(literal)).toBe(literal);
    // "\\\u0000": an escaped backslash, then a real NUL escape: the backslash stays, the NUL goes.
    expect(JSON.parse(storableJsonText('["\\\\\\u0000x","\\\\\\ud800x"]'))).toEqual(['\\x', '\\\ufffdx']);
  });
});

describe('jsonParam', () => {
  it('JSON.stringify, then storable: round-trips clean values and repairs the rest', () => {
    const clean = [{ trackingNo: 'YT1', raw: '{"a":1}', newEvents: 2, emoji: `${HIGH}${LOW}` }];
    expect(JSON.parse(jsonParam(clean))).toEqual(clean);
    expect(JSON.parse(jsonParam([{ raw: `x\u0000${HIGH}` }]))).toEqual([{ raw: 'x\ufffd' }]);
  });
});
