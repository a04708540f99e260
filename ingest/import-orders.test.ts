import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EPOCH, upsertOrders } from '../db/queries/orders.js';
import { fixedClock } from '../domain/clock.js';
import { createTestDb, type TestDb } from '../test/helpers/db.js';
import { CSV_COLUMNS, importOrders } from './import-orders.js';
import { loadConfig } from '../config/load.js';
import { inputLimits, parseOrder } from './order-input.js';

const HEADER = CSV_COLUMNS.join(',');
const clock = fixedClock('2026-11-12T00:00:00Z');
const INPUT = loadConfig({ env: {} }).input;

/** A CSV row: order columns, then carrier/trackingNo/markedShippedAt (empty = no parcel). */
function row(orderId: string, parcel: [string, string, string?] | null, over: Partial<Record<(typeof CSV_COLUMNS)[number], string>> = {}): string {
  const v: Record<string, string> = {
    orderId,
    platform: 'tmall',
    type: 'normal',
    paidAt: '2026-11-11T01:00:00+08:00',
    promisedShipBy: '',
    amount: '88.50',
    currency: 'CNY',
    customerName: '李娜',
    customerPhone: '13900000001',
    customerHandle: 'ln',
    carrier: parcel?.[0] ?? '',
    trackingNo: parcel?.[1] ?? '',
    markedShippedAt: parcel?.[2] ?? '',
    ...over,
  };
  return CSV_COLUMNS.map((k) => v[k]!).join(',');
}

describe('importOrders (pipelined batches, real Postgres)', () => {
  let db: TestDb;
  let dir: string;
  let n = 0;
  const file = (lines: string[]) => {
    const f = join(dir, `orders-${++n}.csv`);
    writeFileSync(f, [HEADER, ...lines].join('\n') + '\n');
    return f;
  };
  const xmin = async () => Number((await db.sql`select (pg_snapshot_xmax(pg_current_snapshot())::text::bigint % 4294967296) as x`)[0]!.x);
  const writtenSince = async (mark: number) =>
    Number((await db.sql`select (select count(*) from orders where xmin::text::bigint >= ${mark}) + (select count(*) from shipments where xmin::text::bigint >= ${mark})
                                + (select count(*) from shipment_schedule where xmin::text::bigint >= ${mark}) as n`)[0]!.n);

  beforeAll(async () => {
    db = await createTestDb();
    dir = mkdtempSync(join(tmpdir(), 'pwimport-'));
  });
  afterAll(async () => {
    await db.drop();
  });
  beforeEach(async () => {
    await db.sql`truncate orders, shipments, exceptions restart identity cascade`;
  });

  it('imports many small batches with one in flight: every row stored, a re-import writes 0 rows', async () => {
    const lines: string[] = [];
    for (let i = 1; i <= 57; i++) {
      lines.push(row(`M${i}`, ['ZTO', `ZT${String(i).padStart(8, '0')}`, i % 3 ? '2026-11-11T10:00:00Z' : '']));
      if (i % 5 === 0) lines.push(row(`M${i}`, ['YTO', `YT${String(i).padStart(8, '0')}`])); // a second parcel, next row
    }
    lines.push(row('M999', null)); // an order without a parcel
    const f = file(lines);
    const s = await importOrders({ sql: db.sql, clock, input: INPUT, file: f, batchSize: 4 });
    // Distinct orders, though a batch of 4 rows would cut an order's two rows apart: batches end between orders.
    expect(s).toMatchObject({ rows: lines.length, stored: 58, unchanged: 0, shipments: 57 + 11, rejectedRows: 0, errorReport: null });
    const [counts] = await db.sql`select (select count(*)::int from orders) as orders, (select count(*)::int from shipments) as shipments`;
    expect(counts).toEqual({ orders: 58, shipments: 68 });
    // Arrived with parcels: judged per parcel only; without one: due for an order-level check.
    const checks = await db.sql`select external_id, next_check_at from orders where external_id in ('M1', 'M999') order by 1`;
    expect(checks.map((r) => [r.external_id, r.next_check_at])).toEqual([
      ['M1', null],
      ['M999', EPOCH],
    ]);

    const mark = await xmin();
    const again = await importOrders({ sql: db.sql, clock, input: INPUT, file: f, batchSize: 4 });
    expect(again).toMatchObject({ rows: lines.length, stored: 0, unchanged: 58, shipments: 0, rejectedRows: 0 });
    expect(await writtenSince(mark)).toBe(0);
  });

  it('merges an order whose rows are scattered through the file into one order, and counts it once', async () => {
    // S1 and S2 come back far apart: with batches of 2 rows, each of their rows lands in another batch.
    const lines = [
      row('S1', ['ZTO', 'ZT80000001']),
      row('S2', ['YTO', 'YT80000001']),
      row('P1', ['ZTO', 'ZT80000011']),
      row('P2', ['ZTO', 'ZT80000012']),
      row('S1', ['YTO', 'YT80000002']),
      row('P3', ['ZTO', 'ZT80000013']),
      row('S2', ['ZTO', 'ZT80000002']),
      row('P4', null),
      row('S1', ['SF', 'SF80000003', '2026-11-11T10:00:00Z']),
    ];
    const f = file(lines);
    const s = await importOrders({ sql: db.sql, clock, input: INPUT, file: f, batchSize: 2 });
    expect(s).toMatchObject({ rows: 9, stored: 6, unchanged: 0, shipments: 8, rejectedRows: 0 });
    const orders = await db.sql`select o.external_id, count(s.id)::int as parcels from orders o left join shipments s on s.order_id = o.id group by 1 order by 1`;
    expect(orders.map((r) => [r.external_id, r.parcels])).toEqual([
      ['P1', 1],
      ['P2', 1],
      ['P3', 1],
      ['P4', 0],
      ['S1', 3],
      ['S2', 2],
    ]);
    const links = await db.sql`select o.external_id, count(*)::int as n from order_shipments l join orders o on o.id = l.order_id group by 1 order by 1`;
    expect(links.map((r) => [r.external_id, r.n])).toEqual([
      ['P1', 1],
      ['P2', 1],
      ['P3', 1],
      ['S1', 3],
      ['S2', 2],
    ]);

    const again = await importOrders({ sql: db.sql, clock, input: INPUT, file: f, batchSize: 2 });
    expect(again).toMatchObject({ rows: 9, stored: 0, unchanged: 6, shipments: 0 });
    // S1 unchanged by its first rows, then given a parcel by a row in a later batch: stored, not also unchanged.
    const more = await importOrders({ sql: db.sql, clock, input: INPUT, file: file([...lines, row('S1', ['EMS', 'EM80000004'])]), batchSize: 2 });
    expect(more).toMatchObject({ rows: 10, stored: 1, unchanged: 5, shipments: 1 });
  });

  it('reports bad rows and parcels already on an order of another customer by line, in line order, across batches', async () => {
    await importOrders({ sql: db.sql, clock, input: INPUT, file: file([row('OTHER', ['SF', 'SF0000000001'])]) });
    const stranger = { customerPhone: '13700000009', customerHandle: 'zz' };
    const f = file([
      row('A1', ['ZTO', 'ZT10000001']), // line 2
      row('A2', null, { paidAt: 'yesterday' }), // line 3: bad
      row('A3', ['SF', 'SF0000000001'], stranger), // line 4: parcel of OTHER, another customer
      row('A4', ['nosuch', 'NS10000001']), // line 5: unknown carrier: accepted, with a warning (issue 16)
      row('A5', ['ZTO', 'ZT10000005']), // line 6
      row('A6', ['SF', 'sf0000000001 ']), // line 7: another number (case matters), fine
      row('A7', ['YTO', 'YT10000007']), // line 8
      row('A8', ['SF', 'SF0000000001'], stranger), // line 9: the same again
    ]);
    const s = await importOrders({ sql: db.sql, clock, input: INPUT, file: f, batchSize: 2, errorReport: join(dir, 'report.csv') });
    expect(s).toMatchObject({ rows: 8, rejectedRows: 3, warnings: 1, shipments: 5, stored: 5, unchanged: 0 });
    expect(readFileSync(s.errorReport!, 'utf8').startsWith('\ufeffline,orderId,reason\n')).toBe(true); // BOM: Chinese Excel opens it as UTF-8
    const report = readFileSync(s.errorReport!, 'utf8').trim().split('\n');
    expect(report.slice(1).map((l) => l.split(',').slice(0, 2).join(','))).toEqual(['3,A2', '4,A3', '5,A4', '9,A8']);
    expect(report[2]).toMatch(/SF0000000001 \(SF\) already serves order OTHER of another customer .*nothing of order A3 was stored/);
    expect(report[3]).toMatch(/^5,A4,"?warning: shipments\.0\.carrier: unknown carrier ""nosuch""; accepted/);
    const [ns] = await db.sql`select carrier from shipments where tracking_no = 'NS10000001'`;
    expect(ns!.carrier).toBe('nosuch');
    expect(await db.sql`select external_id from orders where external_id in ('A3', 'A8')`).toHaveLength(0);
    // Never moved silently.
    const [sf] = await db.sql`select o.external_id from shipments s join orders o on o.id = s.order_id where s.tracking_no = 'SF0000000001'`;
    expect(sf!.external_id).toBe('OTHER');
  });

  it('keeps the upsert semantics: a changed order is re-judged with its parcels, a known parcel only gains its shipped time', async () => {
    await importOrders({ sql: db.sql, clock, input: INPUT, file: file([row('C1', ['ZTO', 'ZT20000001']), row('C2', ['ZTO', 'ZT20000002'])]) });
    await db.sql`update shipment_schedule set next_check_at = null`;
    const mark = await xmin();
    const s = await importOrders({
      input: INPUT,
      sql: db.sql,
      clock,
      file: file([row('C1', ['ZTO', 'ZT20000001'], { amount: '99.00' }), row('C2', ['ZTO', 'ZT20000002', '2026-11-11T12:00:00+08:00'])]),
    });
    expect(s).toMatchObject({ shipments: 0, rejectedRows: 0 });
    const rows = await db.sql`select o.external_id, o.amount, s.marked_shipped_at, c.next_check_at from orders o join shipments s on s.order_id = o.id join shipment_schedule c on c.shipment_id = s.id order by 1`;
    expect(rows.map((r) => [r.external_id, Number(r.amount), r.marked_shipped_at?.toISOString() ?? null, r.next_check_at])).toEqual([
      ['C1', 99, null, EPOCH],
      ['C2', 88.5, '2026-11-11T04:00:00.000Z', EPOCH],
    ]);
    // C1's order row, C2's parcel (its shipped time) and both parcels' schedule rows were written; C2's order
    // row and C1's parcel were not.
    expect(await writtenSince(mark)).toBe(4);
  });

  it('re-checks an order judged at the order level when a parcel arrives for it', async () => {
    await importOrders({ sql: db.sql, clock, input: INPUT, file: file([row('D1', null), row('D2', null)]) });
    const [d1] = await db.sql`select id from orders where external_id = 'D1'`;
    await db.sql`update orders set next_check_at = '2026-11-20T00:00:00Z'`;
    await db.sql`insert into exceptions (order_id, type, severity, opened_at, updated_at) values (${d1!.id}, 'late_shipment', 'high', now(), now())`;
    await db.sql`update orders set next_check_at = null where external_id = 'D1'`; // judged by its open alarm only
    await importOrders({ sql: db.sql, clock, input: INPUT, file: file([row('D1', ['ZTO', 'ZT30000001']), row('D2', ['ZTO', 'ZT30000002'])]) });
    const rows = await db.sql`select external_id, next_check_at from orders order by 1`;
    expect(rows.map((r) => [r.external_id, r.next_check_at])).toEqual([
      ['D1', EPOCH],
      ['D2', EPOCH],
    ]);
  });

  it('stores text that needs escaping in an array literal exactly', async () => {
    const name = 'Tom "The \\ Brace" {x}, NULL';
    const csvName = `"${name.replace(/"/g, '""')}"`;
    await importOrders({ sql: db.sql, clock, input: INPUT, file: file([row('E1', ['ZTO', 'ZT40000001'], { customerName: csvName, customerHandle: 'NULL' })]) });
    const [o] = await db.sql`select customer_name, customer_handle from orders where external_id = 'E1'`;
    expect(o).toEqual({ customer_name: name, customer_handle: 'NULL' });
  });

  it('upsertOrders (the API path) takes the same route: last occurrence wins, every parcel kept', async () => {
    const parsed = [
      { orderId: 'F1', paidAt: '2026-11-11T00:05:00+08:00', amount: 1, shipments: [{ carrier: 'zto', trackingNo: 'ZT50000001' }] },
      { orderId: 'F1', paidAt: '2026-11-11T00:05:00+08:00', amount: 2, shipments: [{ carrier: 'yto', trackingNo: 'YT50000001' }] },
    ].map((o) => parseOrder(o, inputLimits(INPUT)));
    const r = await upsertOrders(db.sql, parsed.map((p) => (p.ok ? p.order : null!)), clock.now());
    expect(r).toEqual({ changed: 1, newShipments: 2, conflicts: [] });
    const rows = await db.sql`select o.amount, s.carrier from orders o join shipments s on s.order_id = o.id order by 2`;
    expect(rows.map((x) => [Number(x.amount), x.carrier])).toEqual([
      [2, 'YTO'],
      [2, 'ZTO'],
    ]);
  });

  it('imports NDJSON through the schema, with the same batches and report', async () => {
    const f = join(dir, 'orders.ndjson');
    const order = (id: string, trackingNo: string) =>
      JSON.stringify({ orderId: id, platform: 'jd', paidAt: '2026-11-11T00:05:00+08:00', shipments: [{ carrier: '中通', trackingNo }] });
    writeFileSync(f, [order('N1', 'ZT70000001'), '{"orderId": ', '', order('N2', 'ZT70000002'), order('N3', 'x')].join('\n'));
    const s = await importOrders({ sql: db.sql, clock, input: INPUT, file: f, batchSize: 1, errorReport: join(dir, 'nd.errors.csv') });
    expect(s).toMatchObject({ rows: 4, stored: 2, shipments: 2, rejectedRows: 2 });
    const report = readFileSync(s.errorReport!, 'utf8').trim().split('\n').slice(1);
    expect(report[0]).toMatch(/^2,,"?not JSON/);
    expect(report[1]).toMatch(/^5,N3,"?shipments\.0\.trackingNo/);
  });

  it('reports a row with text Postgres cannot store (NUL) and goes on with the others', async () => {
    const lines = [row('G1', ['ZTO', 'ZT60000001']), row('G2', ['ZTO', 'ZT60000002']), row('G3', ['ZTO', 'ZT60000003'], { customerName: 'nul\u0000byte' }), row('G4', ['ZTO', 'ZT60000004'])];
    const nd = join(dir, 'nul.ndjson');
    writeFileSync(nd, [JSON.stringify({ orderId: 'G5', paidAt: '2026-11-11T00:05:00+08:00' }), JSON.stringify({ orderId: 'G6', paidAt: '2026-11-11T00:05:00+08:00', customer: { handle: '\u0000' } })].join('\n'));
    const s = await importOrders({ sql: db.sql, clock, input: INPUT, file: file(lines), batchSize: 2, errorReport: join(dir, 'nul.errors.csv') });
    expect(s).toMatchObject({ rows: 4, rejectedRows: 1 });
    expect(readFileSync(s.errorReport!, 'utf8')).toContain('4,G3,"customer.name: contains a NUL character (U+0000), which cannot be stored"');
    const n = await importOrders({ sql: db.sql, clock, input: INPUT, file: nd, errorReport: join(dir, 'nul-nd.errors.csv') });
    expect(n).toMatchObject({ rows: 2, rejectedRows: 1 });
    expect(readFileSync(n.errorReport!, 'utf8')).toContain('2,G6,"customer.handle: contains a NUL character');
    const ids = await db.sql`select external_id from orders order by 1`;
    expect(ids.map((r) => r.external_id)).toEqual(['G1', 'G2', 'G4', 'G5']);
  });

  it("imports a Taobao export as downloaded: its header, GB18030 bytes, Beijing times, a row per item, parcels", async () => {
    // Taobao's 订单报表 column list (as public shop back-ends copy it); the rows are ours: no real export with parcels
    // was found (test/orders-corpus/README.md).
    const header =
      '订单编号,买家会员名,买家支付宝账号,买家应付货款,买家应付邮费,买家支付积分,总金额,返点积分,买家实际支付金额,买家实际支付积分,订单状态,买家留言,收货人姓名,收货地址 ,运送方式,联系电话 ,联系手机,订单创建时间,订单付款时间 ,宝贝标题 ,宝贝种类,物流单号 ,物流公司,订单备注,宝贝总数量';
    const tb = (id: string, handle: string, paid: string, name: string, landline: string, mobile: string, paidAt: string, title: string, tracking: string, carrier: string) =>
      `${id},${handle},,${paid},0.00,0,${paid},0,${paid},0,卖家已发货，等待买家确认,,${name},浙江省 杭州市 西湖区 文三路1号,快递,${landline},${mobile},${paidAt},${paidAt},${title},1,${tracking},${carrier},,1`;
    const text = [
      header,
      tb('1001', '王小芳', '99.00', '王芳', '0571-0000001', '13900000011', '2026-11-11 00:05:09', '羊毛围巾', 'ZT7100000001', '中通快递'),
      tb('1002', '李娜娜', '35.50', '李娜', '', '13900000012', '2026/11/11 8:30', '手套', 'YT7100000002', '圆通速递'),
      tb('1001', '王小芳', '99.00', '王芳', '0571-0000001', '13900000011', '2026-11-11 00:05:09', '帽子', 'ZT7100000003', '中通快递'),
      tb('1003', '赵六', '10.00', '赵六', '', '13900000013', '', '袜子', '', ''), // not paid yet
    ].join('\r\n');
    const f = join(dir, 'ExportOrderList202611120930.csv');
    writeFileSync(f, iconv.encode(text, 'gb18030'));
    const s = await importOrders({ sql: db.sql, clock, input: INPUT, file: f, errorReport: join(dir, 'taobao.errors.csv') });
    expect(s).toMatchObject({ encoding: 'gb18030', rows: 4, stored: 2, shipments: 3, rejectedRows: 1, warnings: 0 });
    expect(readFileSync(s.errorReport!, 'utf8')).toContain('5,1003,paidAt (订单付款时间): is required');
    const rows = await db.sql`select o.external_id, o.platform, o.paid_at, o.amount, o.customer_name, o.customer_phone, o.customer_handle, s.carrier, s.tracking_no
                                from orders o join shipments s on s.order_id = o.id order by s.tracking_no`;
    expect(rows.map((r) => [r.external_id, r.platform, (r.paid_at as Date).toISOString(), Number(r.amount), r.customer_name, r.customer_phone, r.customer_handle, r.carrier, r.tracking_no])).toEqual([
      ['1002', 'taobao', '2026-11-11T00:30:00.000Z', 35.5, '李娜', '13900000012', '李娜娜', 'YTO', 'YT7100000002'],
      ['1001', 'taobao', '2026-11-10T16:05:09.000Z', 99, '王芳', '13900000011', '王小芳', 'ZTO', 'ZT7100000001'],
      ['1001', 'taobao', '2026-11-10T16:05:09.000Z', 99, '王芳', '13900000011', '王小芳', 'ZTO', 'ZT7100000003'],
    ]);
  });

  it('a given platform fills the rows that name none: no platform column, an empty cell, an NDJSON object without one', async () => {
    const exp = join(dir, 'jd-export.csv');
    // A JD-style header (订单号, 付款确认时间, 应付金额) has no platform column; a ragged row's extra cell is not read as one.
    writeFileSync(exp, '订单号,付款确认时间,应付金额\nJ1,2026-11-11 09:00:00,10.00\nJ2,2026-11-11 09:05:00,12.00,tmall\n');
    const s = await importOrders({ sql: db.sql, clock, input: INPUT, file: exp, platform: 'jd', errorReport: join(dir, 'jd.errors.csv') });
    expect(s).toMatchObject({ rows: 2, stored: 2, rejectedRows: 0 });
    const own = file([row('P1', null, { platform: '' }), row('P2', null, { platform: 'douyin' })]);
    await importOrders({ sql: db.sql, clock, input: INPUT, file: own, platform: 'pdd', errorReport: join(dir, 'own.errors.csv') });
    const nd = join(dir, 'platform.ndjson');
    writeFileSync(nd, '{"orderId":"N1","paidAt":"2026-11-11T01:00:00+08:00"}\n{"orderId":"N2","platform":"tmall","paidAt":"2026-11-11T01:00:00+08:00"}\n');
    await importOrders({ sql: db.sql, clock, input: INPUT, file: nd, platform: 'jd', errorReport: join(dir, 'platform-nd.errors.csv') });
    const rows = await db.sql`select external_id, platform from orders order by 1`;
    expect(rows.map((r) => [r.external_id, r.platform])).toEqual([
      ['J1', 'jd'],
      ['J2', 'jd'],
      ['N1', 'jd'],
      ['N2', 'tmall'],
      ['P1', 'pdd'],
      ['P2', 'douyin'],
    ]);
  });

  it('reports a row with a stray or unclosed quote in the errors file and goes on with the rest', async () => {
    const f = file([row('H1', null), 'H2,tmall,"bad"quote,x', row('H3', null), 'H4,tmall,normal,"2026-11-11T01:00:00+08:00', row('H5', null)]);
    const s = await importOrders({ sql: db.sql, clock, input: INPUT, file: f, errorReport: join(dir, 'quotes.errors.csv') });
    expect(s).toMatchObject({ rows: 5, stored: 3, rejectedRows: 2 });
    const report = readFileSync(s.errorReport!, 'utf8').trim().split('\n').slice(1);
    expect(report).toEqual(['3,,line 3: text after a closing quote (field 3)', '5,,line 5: quote not closed']);
    const ids = await db.sql`select external_id from orders order by 1`;
    expect(ids.map((r) => r.external_id)).toEqual(['H1', 'H3', 'H5']);
    // The pool is fine afterwards.
    expect((await db.sql`select 1 as one`)[0]!.one).toBe(1);
  });
});
