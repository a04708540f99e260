import { describe, expect, it } from 'vitest';
import { rng } from '../bench/generate.js';
import { OrderRows } from '../db/queries/orders.js';
import { loadConfig } from '../config/load.js';
import { addFlatOrderFast, FLAT_ORDER_COLUMNS, flatRowToOrder, inputLimits, parseOrder } from './order-input.js';

/** Receipt at a fixed instant after the fixtures' dates: the window is the same on every run. */
const LIMITS = inputLimits(loadConfig({ env: {} }).input, new Date('2026-11-13T00:00:00Z'));

const IDENTITY = FLAT_ORDER_COLUMNS.map((_, i) => i);
const good = ['B000000001', 'jd', 'normal', '2026-11-12T01:07:30.522Z', '', '269.01', 'CNY', '杨先生', '13850776696', 'tb_1', 'ZTO', 'ZTO000000000001', '2026-11-12T15:42:38.962Z'];

/** The schema's verdict on a flat row (cells in FLAT_ORDER_COLUMNS order, undefined = no such cell), as rows. */
function slow(cells: readonly (string | undefined)[]): OrderRows | null {
  const row: Record<string, string> = {};
  FLAT_ORDER_COLUMNS.forEach((k, i) => {
    if (cells[i] !== undefined) row[k] = cells[i]!;
  });
  const p = parseOrder(flatRowToOrder(row), LIMITS);
  if (!p.ok) return null;
  const rows = new OrderRows();
  rows.add(p.order, 7);
  return rows;
}

function fast(cells: readonly string[], col: readonly number[]): OrderRows | null {
  const rows = new OrderRows();
  const ok = addFlatOrderFast(cells, col, rows, 7, LIMITS);
  if (!ok) expect(rows.length, 'adds nothing when it gives up').toBe(0);
  return ok ? rows : null;
}

/** Cell values worth trying per column: valid, blank, padded, borderline and invalid ones. */
const VARIANTS: string[][] = [
  ['B1', '', '  B2 ', 'x'.repeat(64), 'x'.repeat(65), '0', ' ', 'B\u00001', '\udc00B'],
  ['jd', '', 'tmall', ' pdd ', 'JD', 'amazon', 'douyin'],
  ['normal', '', 'presale', ' custom', 'Normal', 'rush'],
  ['2026-11-12T01:07:30.522Z', '', '2026-11-11T00:05:00+08:00', '2026-11-11T00:05+0800', '2026-11-11 00:05', '2026-02-31T00:00:00Z', '2026-13-01T00:00:00Z', '2026-11-11T24:00:00Z', ' 2026-11-12T01:07:30Z ', 'yesterday',
    // canonical UTC (taken as is when in range) and its out-of-range look-alikes (Date rolls them over)
    '2024-02-29T00:00:00.000Z', '2026-02-29T00:00:00.000Z', '1900-02-29T00:00:00.000Z', '2000-02-29T00:00:00.000Z', '2026-04-31T10:00:00.000Z',
    '2026-11-11T24:00:00.000Z', '2026-11-11T23:59:60.000Z', '2026-00-10T00:00:00.000Z', '2026-12-31T23:59:59.999Z', '2026-11-11T10:00:00.000z',
    // outside the window: the placeholder that stopped detection, before the earliest payment, an offset beyond ±14:00
    '9999-12-31T23:59:59+08:00', '1970-01-01T00:00:00Z', '2026-11-11T00:05:00+15:00', '2026-11-13T00:09:00Z', '2026-11-13T00:11:00Z'],
  ['', '2026-11-20T00:00:00+08:00', 'soon', '2026-11-20T99:00:00Z', '2026-11-01T00:00:00Z', '2027-11-01T00:00:00Z'],
  ['269.01', '', '0', '12.50', '7', '-0', '-5', '10000000', '10000000.01', '1e3', '0x10', ' 12 ', 'abc', 'Infinity', 'NaN', '.5', '12.505', '1,000'],
  ['CNY', '', 'usd', 'USD', 'CN', ' EUR '],
  ['杨先生', '', ' 李娜 ', '0', 'nul\u0000', 'x'.repeat(100), 'x'.repeat(101), 'lone \ud800 surrogate'],
  ['13850776696', '', ' 138 '],
  ['tb_1', '', '   ', '\u0000'],
  ['ZTO', '', 'zhongtong', ' 顺丰 ', 'nosuch', 'JD', 'j&t express'],
  ['ZTO000000000001', '', 'ZT1', ' ZT1234567 ', 'ZT 1234567', 'A'.repeat(40), 'A'.repeat(41), 'ab-12'],
  ['2026-11-12T15:42:38.962Z', '', 'later', '2026-11-12T15:42Z', '2026-02-30T15:42:38.962Z', '2026-11-12T15:42:38.962+08:00', '2026-11-10T00:00:00Z', '2026-11-14T00:00:00Z'],
];

describe('addFlatOrderFast (the import fast path) vs the zod schema', () => {
  it('takes a typical row, adding what the schema’s order adds', () => {
    const f = fast(good, IDENTITY);
    expect(f).not.toBeNull();
    expect(f).toEqual(slow(good));
    expect(f!.paidAt).toEqual(['2026-11-12T01:07:30.522Z']);
    expect(f!.carrier).toEqual(['ZTO']);
  });

  it('agrees with the schema on every single-column variation and 5,000 random rows: same rows, or gives up', () => {
    let taken = 0;
    let refused = 0;
    const check = (cells: string[]) => {
      const f = fast(cells, IDENTITY);
      const s = slow(cells);
      if (f !== null) {
        taken++;
        expect(f, JSON.stringify(cells)).toEqual(s);
      }
      if (s === null) refused++;
    };
    for (let c = 0; c < VARIANTS.length; c++) {
      for (const v of VARIANTS[c]!) {
        const cells = [...good];
        cells[c] = v;
        check(cells);
      }
    }
    const r = rng(7);
    for (let n = 0; n < 5_000; n++) {
      // Half the cells keep the good value, so enough rows pass all the (now stricter) column checks to compare.
      const cells = VARIANTS.map((vs) => (r() < 0.5 ? vs[0]! : vs[Math.floor(r() * vs.length)]!));
      if (r() < 0.05) cells.length = Math.floor(r() * cells.length); // a short (ragged) row
      check(cells);
    }
    expect(taken).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });

  it('reads columns wherever the header put them, and treats a missing column as empty', () => {
    // Header order reversed, no customerHandle column.
    const col = FLAT_ORDER_COLUMNS.map((k, i) => (k === 'customerHandle' ? -1 : FLAT_ORDER_COLUMNS.length - 1 - i));
    const f = fast([...good].reverse(), col);
    expect(f).not.toBeNull();
    expect(f!.handle).toEqual([null]);
    expect(f).toEqual(slow(good.map((v, i) => (FLAT_ORDER_COLUMNS[i] === 'customerHandle' ? undefined : v))));
  });
});
