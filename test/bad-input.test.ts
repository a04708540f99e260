import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './helpers/api.js';
import type { TestDb } from './helpers/db.js';

/** Bad items through POST /api/orders: each gets its own answer naming the field; the good ones are stored. */

type Answer = { accepted: number; rejected: { index: number; orderId: string | null; errors: string[] }[] };

const order = (id: string, extra: Record<string, unknown> = {}) => ({
  orderId: id,
  paidAt: '2026-11-11T00:05:00+08:00',
  amount: 199,
  customer: { name: '王芳', phone: '13800138000', handle: 'wf' },
  shipments: [{ carrier: 'ZTO', trackingNo: `ZT9${id.replace(/\W/g, '')}000`, markedShippedAt: '2026-11-11T10:00:00+08:00' }],
  ...extra,
});

describe('bad input through POST /api/orders', () => {
  let api: TestApi;
  let db: TestDb;
  let base: string;

  beforeAll(async () => {
    api = await startTestApi({ input: { futureSkewMinutes: 5 } });
    ({ db, base } = api);
  });
  afterAll(async () => {
    await api.close();
  });

  const post = async (orders: unknown[]) => {
    const res = await api.post('/api/orders', { orders });
    expect(res.status).toBe(200);
    return res.body as Answer;
  };
  const stored = async (ids: string[]) =>
    (await db.sql`select external_id from orders where external_id = any(${ids}) order by 1`).map((r) => r.external_id as string);
  /** Each rejected index with its errors joined, for matching. */
  const reasons = (a: Answer) => Object.fromEntries(a.rejected.map((r) => [r.index, r.errors.join(' | ')]));

  it('validates instants: a sane window, real calendar dates, an offset, shipped after paid', async () => {
    const wallPlus = (min: number) => new Date(Date.now() + min * 60_000).toISOString();
    const a = await post([
      order('T0'),
      order('T1', { paidAt: '9999-12-31T23:59:59+08:00' }),
      order('T2', { paidAt: wallPlus(60) }),
      order('T3', { paidAt: '1970-01-01T00:00:00Z' }),
      order('T4', { paidAt: '2026-02-30T10:00:00+08:00' }),
      order('T5', { paidAt: '2026-11-11T00:05:00' }),
      order('T6', { shipments: [{ carrier: 'ZTO', trackingNo: 'ZT9T6000', markedShippedAt: '2026-11-10T00:00:00+08:00' }] }),
      order('T7', { paidAt: wallPlus(2), shipments: [] }), // within input.futureSkewMinutes (5 here)
      order('T8', { paidAt: '2026-11-11T00:05:00+15:00' }),
      order('T9', { type: 'presale', promisedShipBy: '2027-11-11T00:00:00+08:00' }),
      order('T10', { paidAt: '2026-11-11T24:00:00+08:00' }),
    ]);
    const r = reasons(a);
    expect(Object.keys(r).map(Number)).toEqual([1, 2, 3, 4, 5, 6, 8, 9, 10]);
    expect(r[1]).toMatch(/^paidAt: is in the future/);
    expect(r[2]).toMatch(/^paidAt: is in the future .*futureSkewMinutes/);
    expect(r[3]).toMatch(/^paidAt: is before 2003-05-09T16:00:00.000Z/);
    expect(r[4]).toMatch(/^paidAt: is not a calendar date \(2026-02-30\)/);
    expect(r[5]).toMatch(/^paidAt: must be ISO-8601 with an offset/);
    expect(r[6]).toMatch(/^shipments\.0\.markedShippedAt: is before paidAt/);
    expect(r[8]).toMatch(/^paidAt: has an offset out of range/);
    expect(r[9]).toMatch(/^promisedShipBy: is more than 180 days after paidAt/);
    expect(r[10]).toMatch(/^paidAt: is not a time of day/);
    expect(a.rejected.find((x) => x.index === 1)!.orderId).toBe('T1');
    expect(a.accepted).toBe(2);
    expect(await stored(['T0', 'T1', 'T2', 'T3', 'T4', 'T5', 'T6', 'T7', 'T8', 'T9', 'T10'])).toEqual(['T0', 'T7']);
  });

  it('takes an amount only as a number or a plain decimal string, naming the field', async () => {
    const bad: unknown[] = [true, '', [], null, '0x10', '1e3', -1, '-1', 'NaN', 'Infinity', '12.505', { yuan: 1 }];
    const a = await post([order('M0', { amount: '12.50' }), ...bad.map((amount, i) => order(`M${i + 1}`, { amount })), order('M99', { amount: undefined })]);
    expect(a.accepted).toBe(2);
    expect(a.rejected.map((x) => x.index)).toEqual(bad.map((_, i) => i + 1));
    for (const x of a.rejected) expect(x.errors).toEqual([expect.stringMatching(/^amount: must be/)]);
    expect(reasons(a)[4]).toMatch(/got null/);
    expect(reasons(a)[5]).toMatch(/got "0x10"/);
    const rows = await db.sql`select external_id, amount::text from orders where external_id in ('M0', 'M99') order by 1`;
    expect(rows.map((r) => [r.external_id, r.amount])).toEqual([
      ['M0', '12.50'],
      ['M99', '0.00'],
    ]);
  });

  it('caps free text at its length', async () => {
    const a = await post([
      order('L0', { customer: { name: 'x'.repeat(100), handle: 'h'.repeat(100), phone: '1'.repeat(32) } }),
      order('L1', { customer: { name: 'x'.repeat(101) } }),
      order('L2', { customer: { phone: '1'.repeat(33) } }),
      order('x'.repeat(65), { shipments: [] }),
    ]);
    expect(a.accepted).toBe(1);
    expect(reasons(a)).toEqual({
      1: 'customer.name: is longer than 100 characters (101)',
      2: 'customer.phone: is longer than 32 characters (33)',
      3: 'orderId: is longer than 64 characters (65)',
    });
  });

  it('caps and checks an agent name and a completion note on the outreach API (400 naming the field)', async () => {
    const act = async (action: string, body: unknown) => {
      const res = await fetch(`${base}/api/outreach/1/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, error: ((await res.json()) as { error: string }).error };
    };
    expect(await act('claim', { agent: 'a'.repeat(65) })).toEqual({ status: 400, error: 'agent: is longer than 64 characters (65)' });
    expect(await act('claim', { agent: 'al\u0000ice' })).toEqual({ status: 400, error: 'agent: contains a NUL character (U+0000), which cannot be stored' });
    expect(await act('complete', { outcome: 'called', note: 'n'.repeat(1001) })).toEqual({ status: 400, error: 'note: is longer than 1000 characters (1001)' });
    // A valid body reaches the task lookup (none here).
    expect((await act('claim', { agent: 'alice' })).status).toBe(404);
  });

  it('refuses text Postgres cannot store (NUL, lone surrogates) per item, storing the rest of the batch', async () => {
    const a = await post([
      order('N0'),
      order('N1', { customer: { name: 'nul\u0000byte' } }),
      order('N2\u0000'),
      order('N3', { customer: { handle: 'half \ud83d' } }),
      order('N4', { customer: { name: '张\u0000' }, amount: 'x' }),
      order('N5'),
    ]);
    expect(a.accepted).toBe(2);
    expect(reasons(a)).toEqual({
      1: 'customer.name: contains a NUL character (U+0000), which cannot be stored',
      2: 'orderId: contains a NUL character (U+0000), which cannot be stored',
      3: 'customer.handle: contains a lone UTF-16 surrogate (not valid Unicode), which cannot be stored',
      4: expect.stringContaining('customer.name: contains a NUL character'),
    });
    // The refused id is not echoed back (it could not be stored either); the others are.
    expect(a.rejected.map((x) => x.orderId)).toEqual(['N1', null, 'N3', 'N4']);
    expect(await stored(['N0', 'N1', 'N3', 'N4', 'N5'])).toEqual(['N0', 'N5']);
  });

  it('refuses a chase whose note or contact Postgres cannot store (400 naming the field, nothing stored)', async () => {
    await post([order('CH1')]);
    const nul = await api.post('/api/chases', { orderId: 'CH1', note: 'call\u0000me' });
    expect(nul.status).toBe(400);
    expect(nul.body.error).toBe('note: contains a NUL character (U+0000), which cannot be stored');
    const half = await api.post('/api/chases', { orderId: 'CH1', contact: '138\ud83d' });
    expect(half.status).toBe(400);
    expect(half.body.error).toMatch(/^contact: contains a lone UTF-16 surrogate/);
    expect(await api.db.sql`select 1 from chases`).toHaveLength(0);
  });
});
