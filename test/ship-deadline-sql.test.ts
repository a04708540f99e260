import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { shipDeadlineAt, shipDeadlineSql } from '../rules/late-shipment.js';
import { createTestDb, type TestDb } from './helpers/db.js';

/*
 * One ship deadline, two forms: rules/late-shipment.ts shipDeadlineAt (in memory) and shipDeadlineSql (set-based
 * queries, jobs/plan-polls.ts) must give the same instant for every order, per-platform overrides, fractional
 * hours, presale/custom promises and unknown platforms included. The SQL form is selected over a VALUES list.
 */

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  await db?.drop();
});

// jd off its default (36 h), douyin fractional (a whole-ms rounding question), pdd kept at default.yaml's 48 h.
const cfg = loadConfig({
  env: {},
  overrides: {
    rules: {
      lateShipment: {
        platforms: { jd: { shipWithinHours: 36, warnAtHours: 12, criticalAtHours: 24 }, douyin: { shipWithinHours: 47.123456789, warnAtHours: 24, criticalAtHours: 36 } },
      },
    },
  },
});

const PAID = '2026-11-20T08:30:15.123Z';
const PROMISE = '2026-11-27T00:00:00.000Z';

// [name, platform, order type, promised ship date]
const table: [string, string, string, string | null][] = [
  ['taobao normal (default 72 h)', 'taobao', 'normal', null],
  ['tmall normal', 'tmall', 'normal', null],
  ['jd normal (override 36 h)', 'jd', 'normal', null],
  ['pdd normal (default.yaml 48 h)', 'pdd', 'normal', null],
  ['douyin normal (fractional hours)', 'douyin', 'normal', null],
  ['other normal', 'other', 'normal', null],
  ['a platform outside the list: the default policy', 'kuaishou', 'normal', null],
  ['normal order with a promise: the promise is ignored', 'jd', 'normal', PROMISE],
  ['presale with a promise', 'jd', 'presale', PROMISE],
  ['custom with a promise', 'taobao', 'custom', PROMISE],
  ['presale without a promise: no deadline', 'taobao', 'presale', null],
  ['custom without a promise: no deadline', 'douyin', 'custom', null],
];
const cases = table.map(([name, platform, type, promisedShipBy]) => ({ name, platform, type, paidAt: PAID, promisedShipBy }));

describe('ship deadline: shipDeadlineAt and shipDeadlineSql agree', () => {
  it('gives the same instant (or none) for every case', async () => {
    const sql = db.sql;
    const rows = await sql`
      select o.i, ${shipDeadlineSql(sql, cfg, 'o')} as deadline
      from unnest(${cases.map((_, i) => i)}::int[], ${cases.map((c) => c.platform)}::text[], ${cases.map((c) => c.type)}::text[],
                  ${cases.map((c) => c.paidAt)}::timestamptz[], ${cases.map((c) => c.promisedShipBy) as string[]}::timestamptz[])
        as o(i, platform, type, paid_at, promised_ship_by)
      order by o.i`;
    const fromSql = rows.map((r) => ({ name: cases[r.i as number]!.name, deadline: (r.deadline as Date | null)?.toISOString() ?? null }));
    const inMemory = cases.map((c) => ({
      name: c.name,
      deadline: shipDeadlineAt({ platform: c.platform, orderType: c.type, paidAt: new Date(c.paidAt), promisedShipBy: c.promisedShipBy ? new Date(c.promisedShipBy) : null }, cfg)?.toISOString() ?? null,
    }));
    expect(fromSql).toEqual(inMemory);
    // The table is not vacuous: the cases differ in the ways the rule distinguishes.
    expect(Object.fromEntries(inMemory.map((c) => [c.name, c.deadline]))).toMatchObject({
      'taobao normal (default 72 h)': '2026-11-23T08:30:15.123Z',
      'jd normal (override 36 h)': '2026-11-21T20:30:15.123Z',
      'pdd normal (default.yaml 48 h)': '2026-11-22T08:30:15.123Z',
      // 47.123456789 h = 169,644,444.4404 ms, rounded up to whole ms
      'douyin normal (fractional hours)': new Date(Date.parse(PAID) + 169_644_445).toISOString(),
      'a platform outside the list: the default policy': '2026-11-23T08:30:15.123Z',
      'normal order with a promise: the promise is ignored': '2026-11-21T20:30:15.123Z',
      'presale with a promise': PROMISE,
      'presale without a promise: no deadline': null,
    });
  });
});
