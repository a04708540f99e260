import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse as parseCsv } from 'csv-parse';

export type ImportFormat = 'csv' | 'ndjson';

export function detectFormat(file: string, format?: ImportFormat): ImportFormat {
  return format ?? (/\.(nd)?jsonl?$/i.test(file) ? 'ndjson' : 'csv');
}

/** A row of an import file, or the reason the line could not even be read, with its 1-based line number. */
export type FileRow = { line: number; raw: Record<string, unknown> } | { line: number; error: string };

/**
 * Stream an ERP export row by row (CSV with a header, or NDJSON objects): memory stays bounded whatever the
 * file size. Blank lines are skipped; unreadable lines come back as errors so the caller reports them.
 */
export async function* readRows(file: string, format: ImportFormat, opts: { trimCsv?: boolean } = {}): AsyncGenerator<FileRow> {
  if (format === 'ndjson') {
    const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    let line = 0;
    for await (const text of rl) {
      line++;
      if (!text.trim()) continue;
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
  const parser = createReadStream(file).pipe(
    parseCsv({ columns: true, bom: true, skip_empty_lines: true, relax_column_count: true, info: true, trim: opts.trimCsv ?? false }),
  );
  for await (const rec of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    yield { line: rec.info.lines, raw: rec.record };
  }
}

export function csvEscape(v: string): string {
  return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** The bad-rows report: created on the first bad row only, so a clean import leaves no file behind. */
export class ErrorReport {
  private stream: WriteStream | null = null;
  rows = 0;
  constructor(
    readonly path: string,
    private readonly header: string[],
  ) {}

  write(fields: (string | number)[]): void {
    this.rows++;
    if (!this.stream) {
      this.stream = createWriteStream(this.path);
      this.stream.write(`${this.header.join(',')}\n`);
    }
    this.stream.write(`${fields.map((f) => csvEscape(String(f))).join(',')}\n`);
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
