import { describe, expect, it } from 'vitest';
import { storableJsonText } from '../db/json-param.js';
import { needsStorable, storableText } from './text.js';

const HIGH = '\ud83d';
const LOW = '\ude00';

describe('storableText', () => {
  it('clean text (Chinese, an emoji pair, tabs and newlines) is returned unchanged, and needsStorable says so', () => {
    const s = `已签收，签收人：前台 ${HIGH}${LOW}\t第二行\n`;
    expect(storableText(s)).toBe(s);
    expect(needsStorable(s)).toBe(false);
    expect(needsStorable(null)).toBe(false);
  });

  it('U+0000 is removed, wherever and however many', () => {
    expect(storableText('\u0000a\u0000\u0000b\u0000')).toBe('ab');
    expect(needsStorable('a\u0000')).toBe(true);
  });

  it('a lone high or low surrogate becomes U+FFFD; a valid pair beside it is kept', () => {
    expect(storableText(`a${HIGH}b`)).toBe('a\ufffdb');
    expect(storableText(`a${LOW}b`)).toBe('a\ufffdb');
    expect(storableText(`${LOW}${HIGH}`)).toBe('\ufffd\ufffd');
    expect(storableText(`${HIGH}${HIGH}${LOW}`)).toBe(`\ufffd${HIGH}${LOW}`);
    expect(storableText(`${HIGH}${LOW}${LOW}`)).toBe(`${HIGH}${LOW}\ufffd`);
    expect(storableText(`end${HIGH}`)).toBe('end\ufffd');
    expect(needsStorable(`a${LOW}`)).toBe(true);
  });

  it('NUL and lone surrogates together: removing a NUL never joins two lone halves into a pair', () => {
    expect(storableText(`${HIGH}\u0000${LOW}`)).toBe('\ufffd\ufffd');
    // The same text through JSON (storableJsonText) is stored alike.
    expect(JSON.parse(storableJsonText(JSON.stringify(`${HIGH}\u0000${LOW}`)))).toBe('\ufffd\ufffd');
    expect(storableText(`x\u0000${HIGH}`)).toBe('x\ufffd');
  });
});
