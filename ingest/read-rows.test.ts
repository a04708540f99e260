import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { rng } from '../bench/generate.js';
import { CsvParser, CsvSyntaxError, MAX_CSV_RECORD_CHARS, readRows, type CsvRecord } from './read-rows.js';

/** What the importers used to get from csv-parse (same options), as [line, fields] pairs, or 'error'. */
function reference(text: string, trim: boolean): [number, string[]][] | 'error' {
  try {
    const rows = parse(text, { bom: true, skip_empty_lines: true, relax_column_count: true, info: true, trim }) as unknown as { record: string[]; info: { lines: number } }[];
    return rows.map((r) => [r.info.lines, r.record]);
  } catch {
    return 'error';
  }
}

/** Our parser fed in chunks of `size` characters. */
function ours(text: string, trim: boolean, size: number): [number, string[]][] | 'error' {
  const p = new CsvParser(trim);
  const out: CsvRecord[] = [];
  try {
    for (let i = 0; i < text.length; i += size) out.push(...p.push(text.slice(i, i + size)));
    out.push(...p.push('', true));
  } catch (err) {
    if (err instanceof CsvSyntaxError) return 'error';
    throw err;
  }
  // csv-parse stops at the first bad record; ours reports it and reads on (tested below): the same verdict on the file.
  if (out.some((r) => r.error)) return 'error';
  return out.map((r) => [r.line, r.fields]);
}

const CASES: Record<string, string> = {
  plain: 'a,b,c\n1,2,3\n4,5,6\n',
  noFinalNewline: 'a,b\n1,2',
  crlf: 'a,b\r\n1,2\r\n\r\n3,4\r\n',
  cr: 'a,b\r1,2\r\r3,4',
  bom: '\ufeffa,b\n1,2\n',
  leadingEmptyLines: '\n\na,b\n1,2\n',
  ragged: 'a,b,c\n1\n1,2,3,4\n',
  blankAndSpaces: 'a,b\n  \n,\n1,2\n',
  quoted: 'a,b\n"x,y","say ""hi"""\n"",""\n',
  multiline: 'a,b\n1,"x\ny\nz"\n2,w\n',
  lfInCrlfFile: 'a,b\r\n1,"x\ny"\r\n2,w\r\n',
  quotedHeader: '"a","b"\n1,2\n',
  unicode: 'orderId,name\nB1,王先生\nB2,"李,娜"\n',
  trimAround: 'a,b\n  "x" , y \n',
  quoteInUnquoted: 'a,b\nx"y,2\n',
  textAfterQuote: 'a,b\n"x"y,2\n',
  spaceBeforeQuote: 'a,b\n "x",2\n',
  unclosed: 'a,b\n"x,2\n3,4\n',
  onlyHeader: 'a,b\n',
  empty: '',
  quoteAtChunkEnd: 'a,b\n"x""",""\n"",1',
};

describe('CsvParser (same records and lines as csv-parse with the options the importers used)', () => {
  for (const [name, text] of Object.entries(CASES)) {
    for (const trim of [false, true]) {
      it(`${name}${trim ? ' (trim)' : ''}`, () => {
        const want = reference(text, trim);
        for (const size of [1, 2, 3, 5, 64, text.length || 1]) expect(ours(text, trim, size), `chunks of ${size}`).toEqual(want);
      });
    }
  }

  it('numbers a CRLF inside quotes as one line break (csv-parse counted two)', () => {
    const text = 'a,b\r\n1,"x\r\ny"\r\n2,w\r\n';
    expect(reference(text, false)).toEqual([[1, ['a', 'b']], [4, ['1', 'x\r\ny']], [5, ['2', 'w']]]);
    for (const size of [1, 2, 7, text.length]) expect(ours(text, false, size)).toEqual([[1, ['a', 'b']], [3, ['1', 'x\r\ny']], [4, ['2', 'w']]]);
  });

  it('agrees on 1,000 generated files (quotes, embedded delimiters and line breaks, blank lines, ragged rows, LF/CRLF/CR)', () => {
    const r = rng(42);
    const pick = <T,>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
    const atoms = ['a', 'b', '7', ' ', '王', ',', '"', '\n', 'x y', ''];
    for (let f = 0; f < 1000; f++) {
      const nl = pick(['\n', '\r\n', '\r']);
      const rows: { text: string; breaks: number }[] = [];
      let broken = false;
      const n = 1 + Math.floor(r() * 6);
      for (let i = 0; i < n; i++) {
        if (r() < 0.1) {
          rows.push({ text: r() < 0.5 ? '' : '   ', breaks: 0 });
          continue;
        }
        const cells: string[] = [];
        let breaks = 0;
        const width = 1 + Math.floor(r() * 4);
        for (let c = 0; c < width; c++) {
          let v = '';
          const k = Math.floor(r() * 4);
          for (let j = 0; j < k; j++) v += pick(atoms);
          const quote = /[",\n]/.test(v) || r() < 0.2;
          if (quote) breaks += v.split('\n').length - 1;
          const cell = quote ? `"${v.replace(/"/g, '""').replace(/\n/g, nl)}"` : v;
          const breakIt = r() < 0.02 && cell.includes('"'); // now and then a broken quote
          broken ||= breakIt;
          cells.push(breakIt ? cell.replace('"', '') : cell);
        }
        rows.push({ text: cells.join(','), breaks });
      }
      const text = (r() < 0.1 ? '\ufeff' : '') + rows.map((x) => x.text).join(nl) + (r() < 0.5 ? nl : '');
      for (const trim of [false, true]) {
        // Records as csv-parse reads them; lines from the generator (the physical line each row ends on), unless a
        // broken quote merged rows: then the fields only.
        const ref = reference(text, trim);
        let want: typeof ref = ref;
        const got = [ours(text, trim, 1 + Math.floor(r() * 16)), ours(text, trim, text.length || 1)];
        if (broken) {
          const fieldsOnly = (x: typeof ref) => (x === 'error' ? x : x.map(([, f]) => f));
          for (const g of got) expect(fieldsOnly(g), JSON.stringify(text)).toEqual(fieldsOnly(ref));
          continue;
        }
        if (ref !== 'error') {
          const ends: number[] = [];
          let line = 1;
          for (const row of rows) {
            line += row.breaks;
            if (!(row.text === '' || (trim && row.text.trim() === ''))) ends.push(line);
            line++;
          }
          want = ref.map(([, fields], i) => [ends[i]!, fields]);
        }
        for (const g of got) expect(g, JSON.stringify(text)).toEqual(want);
      }
    }
  });

  it('refuses a record longer than the cap instead of buffering the rest of the file, and reads on', () => {
    const p = new CsvParser();
    const out: CsvRecord[] = [...p.push('a,b\n1,"')];
    for (let i = 0; i < 5; i++) out.push(...p.push('x'.repeat(MAX_CSV_RECORD_CHARS / 4)));
    out.push(...p.push('\n3,4\n', true));
    expect(out.map((r) => [r.line, r.error ?? r.fields])).toEqual([
      [1, ['a', 'b']],
      [2, expect.stringMatching(/^line 2: record longer than/)],
      [3, ['3', '4']],
    ]);
  });

  it('reports a stray or unclosed quote as an error record of its line and reads on, in any chunking', () => {
    const text = 'a,b\n1,2\nx"y,3\n"x"y,4\n5,"multi\nline"\n"open,6\n7,8\n';
    for (const size of [1, 2, 3, 7, text.length]) {
      const p = new CsvParser();
      const out: CsvRecord[] = [];
      for (let i = 0; i < text.length; i += size) out.push(...p.push(text.slice(i, i + size)));
      out.push(...p.push('', true));
      expect(out.map((r) => [r.line, r.error ?? r.fields]), `chunks of ${size}`).toEqual([
        [1, ['a', 'b']],
        [2, ['1', '2']],
        [3, 'line 3: a quote inside an unquoted field (field 1)'],
        [4, 'line 4: text after a closing quote (field 1)'],
        [6, ['5', 'multi\nline']],
        [7, 'line 7: quote not closed'],
        [8, ['7', '8']],
      ]);
    }
  });
});

describe('readRows (CSV)', () => {
  it('maps records to the header, reports the line each record ends on, and streams a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pwrows-'));
    const file = join(dir, 'x.csv');
    writeFileSync(file, '\ufefforderId,note,orderId\r\nA1,"two\r\nlines",A1b\r\n\r\nA2\r\n');
    const rows = [];
    for await (const row of readRows(file, 'csv')) rows.push(row);
    expect(rows).toEqual([
      { line: 3, raw: { orderId: 'A1b', note: 'two\r\nlines' } },
      { line: 5, raw: { orderId: 'A2' } },
    ]);
  });
});
