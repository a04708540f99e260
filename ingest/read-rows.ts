import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import iconv from 'iconv-lite';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export const IMPORT_FORMATS = ['csv', 'ndjson'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];
/** gbk and gb18030: Chinese Excel's "CSV" export (GB18030 is a superset of GBK; both decode as GB18030). */
export const IMPORT_ENCODINGS = ['utf8', 'gbk', 'gb18030'] as const;
export type ImportEncoding = (typeof IMPORT_ENCODINGS)[number];

/** A command-line value the importers cannot use (an unknown --format or --encoding). */
export class ImportOptionError extends Error {
  override name = 'ImportOptionError';
}

/** `--format` / `--encoding` as given on the command line: case-insensitive, an unknown value refused. */
export function importOption<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase().replace(/^utf-8$/, 'utf8');
  if (!(allowed as readonly string[]).includes(v)) throw new ImportOptionError(`--${name} must be one of ${allowed.join('|')} (got ${JSON.stringify(value)})`);
  return v as T;
}

export function detectFormat(file: string, format?: ImportFormat): ImportFormat {
  return format ?? (/\.(nd)?jsonl?$/i.test(file) ? 'ndjson' : 'csv');
}

const SAMPLE_BYTES = 1 << 16;

/**
 * The encoding of an import file: UTF-8 if it starts with a UTF-8 BOM or its first 64 KiB read as UTF-8 (a few
 * damaged bytes among many valid characters still count as UTF-8: those rows are refused, the rest is read
 * right), else GB18030 (what Chinese Excel writes for "CSV", a superset of GBK). GBK text read as UTF-8 is
 * nearly all invalid: its two-byte characters do not follow UTF-8's lead/continuation byte pattern.
 */
export async function detectEncoding(file: string): Promise<'utf8' | 'gb18030'> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(SAMPLE_BYTES);
    const { bytesRead } = await fh.read(buf, 0, SAMPLE_BYTES, 0);
    const b = buf.subarray(0, bytesRead);
    if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return 'utf8';
    // stream: a character cut at the end of the sample is not an error.
    const text = new TextDecoder('utf-8').decode(b, { stream: bytesRead === SAMPLE_BYTES });
    let bad = 0;
    let wide = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0xfffd) bad++;
      else if (c >= 0x80) wide++;
    }
    return bad === 0 || wide >= 4 * bad ? 'utf8' : 'gb18030';
  } finally {
    await fh.close();
  }
}

/**
 * The text of an import file, decoded from `encoding` chunk by chunk. Bytes that are not valid in it come out as
 * U+FFFD: `undecodable` tells the readers to refuse the record holding one, never to store it.
 */
async function* decodedText(file: string, encoding: ImportEncoding): AsyncGenerator<string> {
  const decoder = iconv.getDecoder(encoding === 'utf8' ? 'utf8' : 'gb18030');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 16 })) {
    const text = decoder.write(chunk as Buffer);
    if (text) yield text;
  }
  const rest = decoder.end();
  if (rest) yield rest;
}

/** Why text decoded from `encoding` cannot be stored, or null: it holds bytes that were not valid in it. */
export function undecodable(text: string, encoding: ImportEncoding): string | null {
  return text.includes('\ufffd')
    ? `bytes that are not valid ${encoding === 'utf8' ? 'UTF-8' : encoding.toUpperCase()} (save the file as UTF-8, or give --encoding)`
    : null;
}

/** A row of an import file, or the reason the line could not even be read, with its 1-based line number. */
export type FileRow = { line: number; raw: Record<string, unknown> } | { line: number; error: string };

/**
 * One CSV record: its fields as read and the 1-based line it ends on (a quoted field may span lines). A record
 * that cannot be read (a quote in the wrong place, a quote never closed, bytes that do not decode) has no
 * fields and says why in `error`; reading goes on after it.
 */
export interface CsvRecord {
  line: number;
  fields: string[];
  error?: string;
}

/** A record could not be read (a quote in the wrong place, a quote never closed). */
export class CsvSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    /** Where reading can go on: the first record delimiter at or after this index; -1 = after the record's first line. */
    readonly at = -1,
  ) {
    super(message);
    this.name = 'CsvSyntaxError';
  }
}

/** A record longer than this is refused rather than buffered (an unclosed quote would swallow the file). */
export const MAX_CSV_RECORD_CHARS = 4 << 20;

const QUOTE = 34; // "
const COMMA = 44;
const CR = 13;
const LF = 10;

/** Whitespace trimmed around fields in trim mode (not the line breaks: those end records). */
function isBlankChar(c: number): boolean {
  return c === 32 || c === 9 || c === 0x0b || c === 0x0c || c === 0xa0 || c === 0xfeff || (c >= 0x2000 && c <= 0x200a) || c === 0x3000 || c === 0x1680 || c === 0x202f || c === 0x205f;
}

/**
 * Incremental RFC 4180 CSV parser (comma, double quote, "" inside quotes), fed string chunks. What the importers
 * relied on from csv-parse (bom, skip_empty_lines, relax_column_count, optional trim) behaves the same:
 * a leading BOM is dropped; the record delimiter is the first of CRLF, LF or CR met in the file; empty lines
 * are skipped (in trim mode also blank ones); rows may have any number of fields. Where csv-parse stopped the
 * whole file, this parser gives an error record naming the line and goes on: after a quote inside an unquoted
 * field or text after a closing quote, at the next record delimiter; after a quote never closed (at the end of
 * the input, or after MAX_CSV_RECORD_CHARS), at the end of the line the record began on.
 * A record gets the line it ends on, counting every line break (CRLF, LF or CR, inside quoted fields too) as an
 * editor does; csv-parse counted a CRLF inside quotes twice.
 *
 * Records without a quote (nearly all of an ERP export) are cut with indexOf and split: about ten times
 * cheaper than a byte-level state machine.
 */
export class CsvParser {
  private buf = '';
  private started = false;
  private delim: string | null = null;
  /** Line number of the next unread character. */
  private line = 1;
  /** Dropping the rest of an over-long record's line (its delimiter has not come yet). */
  private skipping = false;

  constructor(private readonly trim = false) {}

  /** Feed the next chunk (`final`: no more input); returns the records completed by it. */
  push(chunk: string, final = false): CsvRecord[] {
    let buf = this.buf.length ? this.buf + chunk : chunk;
    const out: CsvRecord[] = [];
    if (!this.started) {
      if (!buf.length && !final) return out;
      if (buf.charCodeAt(0) === 0xfeff) buf = buf.slice(1);
      this.started = true;
    }
    if (this.delim === null && !this.detectDelimiter(buf, final)) {
      this.buf = buf;
      return out;
    }
    let pos = 0;
    if (this.skipping) {
      // The rest of an over-long record's line: dropped up to its delimiter.
      const delim = this.delim ?? '\n';
      const end = buf.indexOf(delim);
      if (end === -1) {
        this.buf = '';
        return out;
      }
      this.skipping = false;
      this.line++;
      pos = end + delim.length;
    }
    for (;;) {
      pos = this.records(buf, pos, final, out);
      if (buf.length - pos <= MAX_CSV_RECORD_CHARS) break;
      // A record this long is a quote never closed: it would swallow the file. Report it, go on after its first line.
      pos = this.skip(buf, pos, new CsvSyntaxError(`line ${this.line}: record longer than ${MAX_CSV_RECORD_CHARS} characters (a quote never closed?)`, this.line), true, out);
      if (pos === buf.length && !final && !buf.endsWith(this.delim ?? '\n')) this.skipping = true;
    }
    this.buf = pos >= buf.length ? '' : buf.slice(pos);
    return out;
  }

  /**
   * The error record for `err` (raised reading the record at `pos`) and the position after the delimiter where
   * reading goes on, or -1 when that delimiter is not in the input yet (the record is read again with more).
   */
  private skip(buf: string, pos: number, err: CsvSyntaxError, final: boolean, out: CsvRecord[]): number {
    const delim = this.delim ?? '\n';
    const from = err.at === -1 ? pos : err.at;
    const end = buf.indexOf(delim, from);
    if (end === -1 && !final) return -1;
    const stop = end === -1 ? buf.length : end;
    out.push({ line: err.line, fields: [], error: err.message });
    this.line += lineBreaks(buf.slice(pos, stop)) + (end === -1 ? 0 : 1);
    return end === -1 ? buf.length : end + delim.length;
  }

  /** Parse the complete records of `buf` from `pos` into `out`; returns where the unread rest begins (-1: keep it all). */
  private records(buf: string, pos: number, final: boolean, out: CsvRecord[]): number {
    const delim = this.delim ?? '\n';
    const dl = delim.length;
    const len = buf.length;
    let quoteAt = -2; // -2: not searched yet; -1: no quote from the last search point on
    while (pos < len) {
      const end = buf.indexOf(delim, pos);
      if (end === -1 && !final) break;
      const stop = end === -1 ? len : end;
      if (quoteAt !== -1 && quoteAt < pos) quoteAt = buf.indexOf('"', pos);
      if (quoteAt === -1 || quoteAt >= stop) {
        // Fast path: no quote in this record. A stray line break in it (a lone LF in a CRLF file) counts too.
        const text = buf.slice(pos, stop);
        pos = end === -1 ? len : end + dl;
        if (text.includes('\r') || text.includes('\n')) this.line += lineBreaks(text);
        const line = this.line;
        if (end !== -1) this.line++;
        if (text.length === 0) continue;
        const fields = text.split(',');
        if (this.trim) {
          for (let i = 0; i < fields.length; i++) fields[i] = fields[i]!.trim();
          if (fields.length === 1 && fields[0] === '') continue;
        }
        out.push({ line, fields });
        continue;
      }
      let r: { record: CsvRecord; next: number } | null;
      try {
        r = this.quoted(buf, pos, delim, final);
      } catch (err) {
        if (!(err instanceof CsvSyntaxError)) throw err;
        const next = this.skip(buf, pos, err, final, out);
        if (next === -1) return pos;
        pos = next;
        continue;
      }
      if (r === null) break;
      pos = r.next;
      out.push(r.record);
    }
    return pos;
  }

  /** The record delimiter is the first line break of the file outside quotes; false = need more input. */
  private detectDelimiter(buf: string, final: boolean): boolean {
    let inQuotes = false;
    for (let i = 0; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (c === QUOTE) inQuotes = !inQuotes;
      else if (!inQuotes && c === LF) {
        this.delim = '\n';
        return true;
      } else if (!inQuotes && c === CR) {
        if (i + 1 === buf.length && !final) return false;
        this.delim = buf.charCodeAt(i + 1) === LF ? '\r\n' : '\r';
        return true;
      }
    }
    if (final) this.delim = '\n';
    return final;
  }

  /**
   * Character-level parse of one record that holds a quote, from `pos`: the record and the position after its
   * delimiter, or null when the input ends inside it (more is needed).
   */
  private quoted(buf: string, pos: number, delim: string, final: boolean): { record: CsvRecord; next: number } | null {
    const fields: string[] = [];
    const len = buf.length;
    const dl = delim.length;
    let lines = 0;
    let i = pos;
    for (;;) {
      // One field from i.
      let value: string;
      let j = i;
      if (this.trim) while (j < len && isBlankChar(buf.charCodeAt(j))) j++;
      if (j < len && buf.charCodeAt(j) === QUOTE) {
        value = '';
        let from = j + 1;
        for (;;) {
          const q = buf.indexOf('"', from);
          if (q === -1) {
            if (!final) return null;
            throw new CsvSyntaxError(`line ${this.line}: quote not closed`, this.line);
          }
          if (q + 1 === len && !final) return null;
          const part = buf.slice(from, q);
          lines += lineBreaks(part);
          value += part;
          if (buf.charCodeAt(q + 1) === QUOTE) {
            value += '"';
            from = q + 2;
            continue;
          }
          j = q + 1;
          break;
        }
        if (this.trim) while (j < len && isBlankChar(buf.charCodeAt(j))) j++;
        if (j === len && !final) return null;
        if (j < len && buf.charCodeAt(j) !== COMMA && !buf.startsWith(delim, j)) {
          if (dl === 2 && j + 1 === len && !final && buf.charCodeAt(j) === CR) return null;
          throw new CsvSyntaxError(`line ${this.line + lines}: text after a closing quote (field ${fields.length + 1})`, this.line + lines, j);
        }
      } else {
        // Unquoted field (in a record that has a quote elsewhere).
        let k = j;
        while (k < len) {
          const c = buf.charCodeAt(k);
          if (c === COMMA || ((c === LF || c === CR) && buf.startsWith(delim, k))) break;
          if (c === QUOTE) throw new CsvSyntaxError(`line ${this.line + lines}: a quote inside an unquoted field (field ${fields.length + 1})`, this.line + lines, k);
          k++;
        }
        if (k === len && !final) return null;
        if (dl === 2 && k + 1 === len && !final && buf.charCodeAt(k) === CR) return null;
        value = buf.slice(i, k);
        lines += lineBreaks(value);
        if (this.trim) value = value.trim();
        j = k;
      }
      fields.push(value);
      if (j < len && buf.charCodeAt(j) === COMMA) {
        i = j + 1;
        continue;
      }
      // End of record: at the delimiter or at the end of the input.
      this.line += lines;
      const record = { line: this.line, fields };
      if (j < len) {
        this.line++;
        return { record, next: j + dl };
      }
      return { record, next: len };
    }
  }
}

function count(s: string, ch: string): number {
  let n = 0;
  for (let i = s.indexOf(ch); i !== -1; i = s.indexOf(ch, i + 1)) n++;
  return n;
}

/** Line breaks in s: each CRLF, lone LF and lone CR counts one. */
function lineBreaks(s: string): number {
  const cr = count(s, '\r');
  return cr ? cr + count(s, '\n') - count(s, '\r\n') : count(s, '\n');
}

/**
 * Stream a CSV file's records (header included), one array per chunk read, decoded from `encoding` (default
 * detected). A record holding bytes that did not decode becomes an error record.
 */
export async function* readCsvRecords(file: string, opts: { trim?: boolean; encoding?: ImportEncoding } = {}): AsyncGenerator<CsvRecord[]> {
  const encoding = opts.encoding ?? (await detectEncoding(file));
  const parser = new CsvParser(opts.trim ?? false);
  let replaced = false; // a U+FFFD seen: records are checked from then on (a clean file pays nothing)
  const checked = (records: CsvRecord[]) => {
    if (!replaced) return records;
    return records.map((r) => {
      const why = r.error ? null : undecodable(r.fields.join(','), encoding);
      return why ? { line: r.line, fields: [], error: `line ${r.line}: ${why}` } : r;
    });
  };
  for await (const chunk of decodedText(file, encoding)) {
    if (!replaced && chunk.includes('\ufffd')) replaced = true;
    const records = parser.push(chunk);
    if (records.length) yield checked(records);
  }
  const rest = parser.push('', true);
  if (rest.length) yield checked(rest);
}

/** A CSV record as an object keyed by the header (a later column of the same name wins; missing cells absent). */
export function recordObject(header: readonly string[], fields: readonly string[]): Record<string, string> {
  const o: Record<string, string> = {};
  const n = Math.min(header.length, fields.length);
  for (let i = 0; i < n; i++) o[header[i]!] = fields[i]!;
  return o;
}

/**
 * Stream an ERP export row by row (CSV with a header, or NDJSON objects): memory stays bounded whatever the
 * file size. Blank lines are skipped; unreadable lines come back as errors so the caller reports them.
 */
export async function* readRows(file: string, format: ImportFormat, opts: { trimCsv?: boolean; encoding?: ImportEncoding } = {}): AsyncGenerator<FileRow> {
  const encoding = opts.encoding ?? (await detectEncoding(file));
  if (format === 'ndjson') {
    const rl = createInterface({ input: Readable.from(decodedText(file, encoding)), crlfDelay: Infinity });
    let line = 0;
    for await (const read of rl) {
      line++;
      const text = line === 1 && read.charCodeAt(0) === 0xfeff ? read.slice(1) : read;
      if (!text.trim()) continue;
      const why = undecodable(text, encoding);
      if (why) {
        yield { line, error: why };
        continue;
      }
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch (err) {
        yield { line, error: `not JSON: ${(err as Error).message}` };
        continue;
      }
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) yield { line, error: 'not a JSON object' };
      else yield { line, raw: raw as Record<string, unknown> };
    }
    return;
  }
  let header: string[] | null = null;
  for await (const records of readCsvRecords(file, { trim: opts.trimCsv ?? false, encoding })) {
    for (const r of records) {
      if (r.error && !header) throw new CsvSyntaxError(`header: ${r.error}`, r.line);
      if (r.error) yield { line: r.line, error: r.error };
      else if (!header) header = r.fields;
      else yield { line: r.line, raw: recordObject(header, r.fields) };
    }
  }
}

export function csvEscape(v: string): string {
  return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** The bad-rows report: created on the first bad row only, so a clean import leaves no file behind. */
export class ErrorReport {
  private stream: WriteStream | null = null;
  private backlog = false;
  rows = 0;
  constructor(
    readonly path: string,
    private readonly header: string[],
  ) {}

  write(fields: (string | number)[]): void {
    this.rows++;
    if (!this.stream) {
      this.stream = createWriteStream(this.path);
      // A UTF-8 BOM: Chinese Excel opens the file as UTF-8 (without one it guesses GBK and garbles every reason).
      this.stream.write(`\ufeff${this.header.join(',')}\n`);
    }
    if (!this.stream.write(`${fields.map((f) => csvEscape(String(f))).join(',')}\n`)) this.backlog = true;
  }

  /** Wait until the file has taken what was written (a file of nothing but bad rows must not pile up in memory). */
  async drained(): Promise<void> {
    if (this.backlog && this.stream) {
      this.backlog = false;
      if (this.stream.writableNeedDrain) await once(this.stream, 'drain');
    }
  }

  /** Path of the report if anything was written. */
  get written(): string | null {
    return this.stream ? this.path : null;
  }

  async close(): Promise<void> {
    const s = this.stream;
    if (s) await new Promise<void>((resolve) => s.end(resolve));
  }
}
