import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { fixedClock } from '../domain/clock.js';
import { CSV_COLUMNS, ImportHeaderError, importOrders } from '../ingest/import-orders.js';
import { IMPORT_ENCODINGS, IMPORT_FORMATS, importOption } from '../ingest/read-rows.js';
import { createTestDb, type TestDb } from './helpers/db.js';
import { dropPrefix, uniquePrefix } from './helpers/redis.js';
import { TEST_REDIS_URL } from './helpers/services.js';

/** Import files as shops produce them: Excel's GBK export, UTF-8 with a BOM, damaged bytes, odd headers, odd flags. */

const run = promisify(execFile);
const BIN = new URL('../bin/parcelwatch.mjs', import.meta.url).pathname;
const INPUT = loadConfig({ env: {} }).input;
const clock = fixedClock('2026-11-12T00:00:00Z');
const HEADER = CSV_COLUMNS.join(',');
const row = (id: string, name: string, trackingNo: string) =>
  `${id},tmall,normal,2026-11-11T01:00:00+08:00,,88.50,CNY,${name},13900000001,h${id},中通,${trackingNo},`;

describe('import files', () => {
  let db: TestDb;
  let dir: string;
  const prefix = uniquePrefix();
  let n = 0;
  const write = (content: string | Buffer) => {
    const f = join(dir, `f${++n}.csv`);
    writeFileSync(f, content);
    return f;
  };
  const names = async () => (await db.sql`select external_id, customer_name from orders order by 1`).map((r) => [r.external_id, r.customer_name]);

  beforeAll(async () => {
    db = await createTestDb();
    dir = mkdtempSync(join(tmpdir(), 'pwfiles-'));
  });
  beforeEach(async () => {
    await db.sql`truncate orders, shipments restart identity cascade`;
  });
  afterAll(async () => {
    await db.drop();
    await dropPrefix(prefix);
  });

  it('refuses an unknown --format or --encoding value, and takes any case', () => {
    expect(importOption('format', 'CSV', IMPORT_FORMATS)).toBe('csv');
    expect(importOption('encoding', 'UTF-8', IMPORT_ENCODINGS)).toBe('utf8');
    expect(() => importOption('encoding', 'latin1', IMPORT_ENCODINGS)).toThrow('--encoding must be one of utf8|gbk|gb18030 (got "latin1")');
  });

  it('reads a GBK/GB18030 export (detected, or named) and UTF-8 with or without a BOM to the same text', async () => {
    const text = [HEADER, row('G1', '王芳', 'ZT8000000001'), row('G2', '李娜', 'ZT8000000002')].join('\r\n');
    for (const [content, encoding, detected] of [
      [iconv.encode(text, 'gbk'), undefined, 'gb18030'],
      [iconv.encode(text, 'gb18030'), 'gbk', 'gbk'],
      [Buffer.from(`\ufeff${text}`, 'utf8'), undefined, 'utf8'],
      [Buffer.from(text, 'utf8'), undefined, 'utf8'],
    ] as const) {
      await db.sql`truncate orders, shipments restart identity cascade`;
      const s = await importOrders({ sql: db.sql, clock, input: INPUT, file: write(content), encoding });
      expect(s).toMatchObject({ encoding: detected, rows: 2, stored: 2, rejectedRows: 0 });
      expect(await names()).toEqual([
        ['G1', '王芳'],
        ['G2', '李娜'],
      ]);
    }
  });

  it('refuses a row whose bytes do not decode instead of storing U+FFFD, and goes on', async () => {
    const good = Buffer.from([HEADER, row('D1', '王芳', 'ZT8100000001'), row('D2', '李娜', 'ZT8100000002'), ''].join('\n'), 'utf8');
    // A damaged byte (0xFF is never valid UTF-8) in the name of the second data row.
    const bad = Buffer.concat([good.subarray(0, good.indexOf('李娜')), Buffer.from([0xff]), good.subarray(good.indexOf('李娜'))]);
    const s = await importOrders({ sql: db.sql, clock, input: INPUT, file: write(bad), errorReport: join(dir, 'bytes.errors.csv') });
    expect(s).toMatchObject({ encoding: 'utf8', rows: 2, stored: 1, rejectedRows: 1 });
    expect(readFileSync(s.errorReport!, 'utf8')).toContain('3,,"line 3: bytes that are not valid UTF-8 (save the file as UTF-8, or give --encoding)"');
    expect(await names()).toEqual([['D1', '王芳']]);
    const nd = join(dir, 'bytes.ndjson');
    writeFileSync(nd, Buffer.concat([Buffer.from('{"orderId":"N1","paidAt":"2026-11-11T01:00:00+08:00","customer":{"name":"'), Buffer.from([0xff]), Buffer.from('"}}\n{"orderId":"N2","paidAt":"2026-11-11T01:00:00+08:00"}\n')]));
    const n2 = await importOrders({ sql: db.sql, clock, input: INPUT, file: nd, encoding: 'utf8', errorReport: join(dir, 'nd.errors.csv') });
    expect(n2).toMatchObject({ rows: 2, stored: 1, rejectedRows: 1 });
  });

  it('fails on an unknown, duplicate or missing header column before storing anything', async () => {
    const cases: [string, RegExp][] = [
      [HEADER.replace('trackingNo', 'trackingNumber'), /column 12 "trackingNumber" is not one of .*; columns carrier and trackingNo go together/],
      [`${HEADER},orderId`, /column 14 "orderId" is named twice/],
      [HEADER.replace('paidAt,', ''), /column paidAt is missing/],
    ];
    for (const [header, message] of cases) {
      const f = write([header, row('X1', '王芳', 'ZT8200000001')].join('\n'));
      const err = await importOrders({ sql: db.sql, clock, input: INPUT, file: f }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImportHeaderError);
      expect((err as Error).message).toMatch(message);
    }
    expect(await names()).toEqual([]);
  });

  describe('through the CLI', () => {
    const cli = async (args: string[]) => {
      const env = { ...process.env, LOG_LEVEL: 'warn', DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, PARCELWATCH_QUEUE_PREFIX: prefix, PARCELWATCH_CONFIG: '' };
      try {
        const r = await run(process.execPath, [BIN, ...args], { env, timeout: 60_000 });
        return { code: 0, stdout: r.stdout, stderr: r.stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };

    it('takes --format and --encoding in any case, refuses unknown values with the usage (exit 2), and sums up', { timeout: 120_000 }, async () => {
      const f = write(iconv.encode([HEADER, row('C1', '王芳', 'ZT8300000001'), row('C1', '王芳', 'ZT8300000002'), row('C2', '李娜', 'ZT8300000003'), 'C3,tmall,"x"y'].join('\n'), 'gbk'));
      // (Each run starts a process: the unknown --encoding and the re-import's counts are covered in-process above and in ingest/.)
      const bad = await cli(['import', 'orders', f, '--format', 'xml']);
      expect(bad.code).toBe(64); // a usage error, like every command's bad option
      expect(bad.stderr).toMatch(/--format must be one of csv\|ndjson \(got "xml"\)/);
      expect(bad.stderr).toMatch(/import orders FILE \[--format csv\|ndjson\] \[--encoding utf8\|gbk\|gb18030\]/);
      const ok = await cli(['import', 'orders', f, '--format', 'CSV', '--encoding', 'GBK']);
      expect(ok.code).toBe(3); // one row refused
      expect(ok.stdout).toMatch(/\(csv, gbk\): read 4 rows; orders: 2 stored \(new or changed\), 0 unchanged; 3 new parcels; 1 rejected — see /);
      expect(await names()).toEqual([
        ['C1', '王芳'],
        ['C2', '李娜'],
      ]);
      const header = await cli(['import', 'orders', write('orderId,paidAt,colour\nH1,2026-11-11T01:00:00+08:00,red\n')]);
      expect(header.code).toBe(2);
      expect(header.stderr).toMatch(/header \(line 1\): column 3 "colour" is not one of .*; nothing was imported/);
    });

    it('imports a marketplace export as downloaded with --platform (any case); refuses an unknown one (exit 64) and --platform on another import', { timeout: 120_000 }, async () => {
      const f = write(iconv.encode('订单编号,买家会员名,收货人姓名,联系手机,订单付款时间 ,买家实际支付金额,物流单号,物流公司\r\nT1,王小芳,王芳,13900000011,2026-11-11 00:05:09,99.00,ZT7200000001,中通快递\r\n', 'gbk'));
      const bad = await cli(['import', 'orders', f, '--platform', 'ebay']);
      expect(bad.code).toBe(64);
      expect(bad.stderr).toMatch(/--platform must be one of taobao\|tmall\|jd\|pdd\|douyin\|other \(got "ebay"\)/);
      const other = await cli(['import', 'norms', f, '--platform', 'jd']);
      expect(other.code).toBe(64);
      expect(other.stderr).toMatch(/import norms: --platform is for import orders only/);
      const ok = await cli(['import', 'orders', f, '--platform', 'TMALL']);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(/\(csv, gb18030\): read 1 rows; orders: 1 stored \(new or changed\), 0 unchanged; 1 new parcels; 0 rejected; /);
      const [o] = await db.sql`select platform, customer_name, paid_at from orders where external_id = 'T1'`;
      expect([o!.platform, o!.customer_name, (o!.paid_at as Date).toISOString()]).toEqual(['tmall', '王芳', '2026-11-10T16:05:09.000Z']);
    });
  });
});
