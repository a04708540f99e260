import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError, type TrackResult } from '../carriers/carrier.js';
import { parseKdniaoReply } from '../carriers/kdniao/parse.js';
import { parseKuaidi100Reply } from '../carriers/kuaidi100/parse.js';
import { parseAcceptedItem } from '../carriers/seventeen-track/parse.js';
import { unstorable } from '../ingest/text.js';
import { CsvParser, csvEscape, readRows, type CsvRecord, type FileRow } from '../ingest/read-rows.js';
import { startTestApi, type TestApi } from './helpers/api.js';

/**
 * Property-based fuzzing (fast-check) of what comes in from outside: provider replies, import files, the orders
 * API. Runs are bounded (numRuns) so CI stays fast; a failure prints its seed and shrunk counterexample.
 */

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as unknown;

/** Every path to a value inside `v` (objects and arrays walked), the root included. */
function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

/** `v` with the value at its `pick`-th path replaced by `by` (a deep copy). */
function mutate(v: unknown, pick: number, by: unknown): unknown {
  const all = paths(v);
  const path = all[pick % all.length]!;
  if (path.length === 0) return by;
  const copy = structuredClone(v) as Record<string | number, unknown>;
  let cur = copy;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  cur[path.at(-1)!] = by;
  return copy;
}

/** A reply: arbitrary JSON, or a real sample with up to three values replaced by arbitrary JSON. */
const replyLike = (sample: unknown) =>
  fc.oneof(
    fc.jsonValue(),
    fc.array(fc.tuple(fc.nat(), fc.jsonValue({ maxDepth: 2 })), { minLength: 1, maxLength: 3 }).map((edits) => edits.reduce((acc, [p, by]) => mutate(acc, p, by), sample)),
  );

/**
 * Parsing gives data or a classified error: a per-number result (data carries real instants), or for a reply
 * that is wrong as a whole a ProviderError of a known kind (the poller quarantines it). Anything else thrown fails.
 */
function wellFormed(parse: () => TrackResult): void {
  let r: TrackResult;
  try {
    r = parse();
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    expect(['malformed', 'auth', 'quota', 'transient']).toContain((err as ProviderError).kind);
    return;
  }
  expect(['ok', 'not_found', 'rejected', 'malformed']).toContain(r.kind);
  if (r.kind === 'ok') for (const e of r.events) expect(Number.isFinite(e.occurredAt.getTime())).toBe(true);
}

describe('provider parsers never throw on arbitrary JSON', () => {
  const TZ = 'Asia/Shanghai';
  it('kuaidi100', () => {
    fc.assert(fc.property(replyLike(fixture('kuaidi100-query.json')), (body) => wellFormed(() => parseKuaidi100Reply(body, 'SF1234567890', TZ))), { numRuns: 300 });
  });
  it('kdniao', () => {
    fc.assert(fc.property(replyLike(fixture('kdniao-1002.json')), (body) => wellFormed(() => parseKdniaoReply(body, 'SF1234567890', TZ))), { numRuns: 300 });
  });
  it('17track (an accepted item)', () => {
    const sample = (fixture('seventeentrack-gettrackinfo.json') as { data: { accepted: Record<string, unknown>[] } }).data.accepted[0]!;
    const item = replyLike(sample).map((v) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v }));
    fc.assert(fc.property(item, (it) => wellFormed(() => parseAcceptedItem(it, 'SF1234567890', TZ))), { numRuns: 300 });
  });
});

describe('the CSV reader never throws and never loses a good row', () => {
  const cell = fc.string({ unit: fc.constantFrom('a', '7', ' ', '王', ',', '"', '\n', '\r\n', 'x'), maxLength: 6 });
  /** A line that is wrong on its own line only: a quote inside an unquoted field, text after a closing quote. */
  const bad = fc.constantFrom('x"y,1', '"x"y,2', 'a,b"c', '"q" ,3');
  it('reports each bad line as an error record and gives every good row back, in any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ weight: 4, arbitrary: fc.array(cell, { minLength: 1, maxLength: 4 }).map((fields) => ({ fields })) }, { weight: 1, arbitrary: bad.map((text) => ({ text })) }), { maxLength: 12 }),
        fc.integer({ min: 1, max: 40 }),
        (lines, size) => {
          // A good row: every field quoted where it needs it; a row of one empty field would be an empty line (skipped), so it gets a second.
          const good = lines.map((l) => ('fields' in l && l.fields.length === 1 && l.fields[0] === '' ? { fields: ['', ''] } : l));
          const text = `h1,h2\n${good.map((l) => ('fields' in l ? l.fields.map((f) => (/[\r"]/.test(f) ? `"${f.replace(/"/g, '""')}"` : csvEscape(f))).join(',') : l.text)).join('\n')}\n`;
          const p = new CsvParser();
          const out: CsvRecord[] = [];
          for (let i = 0; i < text.length; i += size) out.push(...p.push(text.slice(i, i + size)));
          out.push(...p.push('', true));
          const rows = out.slice(1);
          expect(rows.filter((r) => !r.error).map((r) => r.fields)).toEqual(good.filter((l) => 'fields' in l).map((l) => (l as { fields: string[] }).fields));
          expect(rows.filter((r) => r.error)).toHaveLength(good.filter((l) => 'text' in l).length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r', ' ', '\ufeff', '王'), maxLength: 60 }), fc.integer({ min: 1, max: 9 }), (text, size) => {
        const p = new CsvParser();
        for (let i = 0; i < text.length; i += size) p.push(text.slice(i, i + size));
        p.push('', true);
      }),
      { numRuns: 500 },
    );
  });
});

describe('the NDJSON reader never throws and never loses a good row', () => {
  it('gives back every object line and an error for every other non-blank line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pwfuzz-'));
    let n = 0;
    const garbage = fc.oneof(fc.constantFrom('{"orderId": ', '[1,2]', 'null', '"x"', '{oops}', '\u0000'), fc.string({ maxLength: 8 }).filter((t) => t.trim() !== '' && !t.includes('\n') && !t.includes('\r')));
    const object = fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(object.map((o) => ({ o })), garbage.map((t) => ({ t }))), { maxLength: 10 }), async (lines) => {
        const f = join(dir, `f${++n}.ndjson`);
        const text = (l: { o: object } | { t: string }) => ('o' in l ? JSON.stringify(l.o) : l.t);
        writeFileSync(f, lines.map(text).join('\n'));
        const got: FileRow[] = [];
        for await (const r of readRows(f, 'ndjson', { encoding: 'utf8' })) got.push(r);
        const isObject = (t: string) => {
          try {
            const v = JSON.parse(t) as unknown;
            return v !== null && typeof v === 'object' && !Array.isArray(v);
          } catch {
            return false;
          }
        };
        const want = lines.map(text).filter((t) => t.trim() !== '');
        expect(got.map((r) => ('raw' in r ? r.raw : 'error'))).toEqual(want.map((t) => (isObject(t) ? JSON.parse(t) : 'error')));
      }),
      { numRuns: 100 },
    );
  });
});

describe('POST /api/orders with random mixes of good and bad items (real HTTP)', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await api.close();
  });

  let seq = 0;
  /** A valid order, unique across the run; its parcel is its own. */
  const goodOrder = fc
    .record({
      amount: fc.oneof(fc.integer({ min: 0, max: 100000 }), fc.constantFrom('12.50', '0', '99.9')),
      name: fc.string({ maxLength: 20 }).filter((s) => unstorable(s) === null),
      platform: fc.constantFrom('taobao', 'tmall', 'jd', 'pdd'),
      paidAt: fc.constantFrom('2026-11-11T00:05:00+08:00', '2026-11-10T23:59:59Z', '2026-11-11T12:00:00.123+0800'),
      parcels: fc.integer({ min: 0, max: 2 }),
    })
    .map((o) => {
      const id = `F${++seq}`;
      return {
        orderId: id,
        platform: o.platform,
        paidAt: o.paidAt,
        amount: o.amount,
        customer: { name: o.name, phone: `138${String(seq).padStart(8, '0')}` },
        shipments: Array.from({ length: o.parcels }, (_, i) => ({ carrier: 'ZTO', trackingNo: `FZ${seq}X${i}` })),
      };
    });
  /** A broken order: one field set to something the API must refuse, or not an order at all. */
  const badOrder = fc.oneof(
    fc.tuple(goodOrder, fc.constantFrom<[string, unknown]>(
      ['amount', true], ['amount', ''], ['amount', []], ['amount', null], ['amount', '0x10'], ['amount', '1e3'], ['amount', -1],
      ['paidAt', '9999-12-31T23:59:59+08:00'], ['paidAt', '2026-02-30T00:00:00+08:00'], ['paidAt', '2026-11-11'], ['paidAt', 5],
      ['orderId', 'nul\u0000'], ['orderId', ''], ['orderId', { a: 1 }], ['customer', { name: 'x\u0000' }], ['customer', { handle: '\ud800' }],
      ['customer', { name: 'x'.repeat(101) }], ['shipments', [{ carrier: 'ZTO' }]] /* no tracking number (an unknown carrier is accepted since issue 16) */, ['shipments', 'ZT1'], ['type', 'rush'],
    )).map(([o, [k, v]]) => ({ ...o, [k]: v })),
    fc.jsonValue({ maxDepth: 2 }).filter((v) => !(v && typeof v === 'object' && !Array.isArray(v) && 'paidAt' in v)),
  );

  it('never answers 500; stores every good item; gives every bad item a reason with its index', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(goodOrder.map((o) => ({ good: true as const, o })), badOrder.map((o) => ({ good: false as const, o }))), { minLength: 1, maxLength: 15 }), async (items) => {
        const res = await api.post('/api/orders', { orders: items.map((i) => i.o) });
        expect(res.status).toBe(200);
        const body = res.body as { accepted: number; rejected: { index: number; errors: string[] }[] };
        const badIdx = items.flatMap((it, i) => (it.good ? [] : [i]));
        expect(body.rejected.map((r) => r.index)).toEqual(badIdx);
        for (const r of body.rejected) expect(r.errors.length).toBeGreaterThan(0);
        expect(body.accepted).toBe(items.length - badIdx.length);
        const goodIds = items.flatMap((it) => (it.good ? [(it.o as { orderId: string }).orderId] : []));
        const stored = await api.db.sql`select external_id from orders where external_id = any(${goodIds})`;
        expect(stored).toHaveLength(goodIds.length);
      }),
      { numRuns: 40 },
    );
  });
});
