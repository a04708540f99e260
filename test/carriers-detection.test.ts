import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon } from '../worker/daemon.js';
import { createLogger } from '../worker/logger.js';
import { fixedClock } from '../domain/clock.js';
import { TEST_REDIS_URL } from './helpers/services.js';
import { startKdniaoFake, type KdniaoFake } from './fakes/kdniao-server.js';
import { startSeventeenTrackFake } from './fakes/seventeen-track-server.js';
import { SeventeenTrackProvider } from '../carriers/seventeen-track/client.js';
import { carrierFromProviderCode } from '../carriers/carrier-codes.js';
import { providerContext } from './helpers/provider.js';
import { startKuaidi100Fake, type Kuaidi100Fake } from './fakes/kuaidi100-server.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { fixture } from './helpers/provider.js';
import { carrierWarnings, inputLimits, parseOrder } from '../ingest/order-input.js';

/*
 * Issue 16 on real Postgres with the provider clients against their local fakes: carriers beyond the
 * original 14 are accepted and polled with the right provider code; a parcel whose carrier is unknown or
 * missing is accepted, its carrier detected through the providers' detection APIs, stored, then polled;
 * a number nobody recognises raises an ops alert.
 */

const K100 = fixture('kuaidi100-query.json') as Record<string, unknown>;
const KDN = fixture('kdniao-8001.json') as Record<string, unknown>;
const CUSTOMER = 'CUST';
const KEY = 'k100-key';
const EBID = '1234567';
const APPKEY = 'kdn-app-key';
const T0 = '2021-12-16T00:00:00Z';
const T1 = '2021-12-16T00:01:00Z';

let k100: Kuaidi100Fake;
let kdn: KdniaoFake;
let app: TestApp;

const order = (orderId: string, carrier: string | undefined, trackingNo: string) => ({
  orderId,
  paidAt: '2021-12-14T08:00:00+08:00',
  customer: { phone: '13800138000' },
  shipments: [{ ...(carrier === undefined ? {} : { carrier }), trackingNo, markedShippedAt: '2021-12-15T08:00:00+08:00' }],
});

/** The Kuaidi100 poll/query.do params the fake saw for `num`. */
const k100Queries = (num: string) =>
  k100.requests.filter((r) => r.path === '/poll/query.do' && r.numbers.includes(num)).map((r) => JSON.parse(new URLSearchParams(r.body).get('param')!) as Record<string, string>);
/** The Kdniao RequestData the fake saw for `num` with RequestType `type`. */
const kdnRequests = (num: string, type: string) =>
  kdn.requests
    .filter((r) => r.numbers.includes(num) && new URLSearchParams(r.body).get('RequestType') === type)
    .map((r) => JSON.parse(new URLSearchParams(r.body).get('RequestData')!) as Record<string, string>);

async function shipment(trackingNo: string) {
  const [s] = await app.db.sql`
    select s.id, s.carrier, s.carrier_given, s.carrier_detected_by, s.status, c.next_poll_at,
           (select count(*)::int from tracking_events e where e.shipment_id = s.id) as events
    from shipments s join shipment_schedule c on c.shipment_id = s.id where s.tracking_no = ${trackingNo}`;
  return s!;
}

beforeAll(async () => {
  k100 = await startKuaidi100Fake({ customer: CUSTOMER, key: KEY });
  kdn = await startKdniaoFake({ eBusinessId: EBID, appKey: APPKEY });
  app = await createTestApp(
    {
      providers: {
        // UPS goes to Kdniao, everything else to Kuaidi100: routing by the full table's codes.
        routes: { default: 'kuaidi100', UPS: 'kdniao' },
        detection: { order: ['kuaidi100', 'kdniao'], retryMinutes: 360 },
        kuaidi100: { enabled: true, baseUrl: k100.url, autonumberUrl: k100.url, customer: CUSTOMER, key: KEY },
        kdniao: { enabled: true, baseUrl: kdn.url, eBusinessId: EBID, appKey: APPKEY, requestType: '8001' },
      },
    },
    T0,
  );
});
afterAll(async () => {
  await app?.close();
  await k100?.close();
  await kdn?.close();
});

describe('carriers beyond the original 14', () => {
  it('安能 and 跨越 by Chinese name, UPS by English name and a marketplace spelling are accepted and polled with the right provider code', async () => {
    const cases = [
      { orderId: 'C1', carrier: '安能', num: 'ANE20211215001', code: 'ANE', provider: 'kuaidi100', com: 'annengwuliu' },
      { orderId: 'C2', carrier: '跨越速运', num: 'KY4000123456789', code: 'KYSY', provider: 'kuaidi100', com: 'kuayue' },
      { orderId: 'C3', carrier: 'UPS', num: '1Z999AA10123456784', code: 'UPS', provider: 'kdniao', com: 'UPS' },
      // 淘宝's export names the company in full; 众邮 was not among the 14.
      { orderId: 'C4', carrier: '众邮快递', num: 'ZY0010000123', code: 'ZYE', provider: 'kuaidi100', com: 'zhongyouex' },
    ];
    for (const c of cases) {
      const parsed = parseOrder(order(c.orderId, c.carrier, c.num), inputLimits(app.config.input));
      expect(parsed.ok).toBe(true);
      if (parsed.ok) expect(carrierWarnings(parsed.order)).toEqual([]);
      if (c.provider === 'kuaidi100') k100.script(c.num, { ...K100, nu: c.num, com: c.com });
      else kdn.script(c.num, { ...KDN, EBusinessID: EBID, LogisticCode: c.num, ShipperCode: c.com, Success: true });
    }
    await app.addOrders(cases.map((c) => order(c.orderId, c.carrier, c.num)));
    const run = await app.cycle(T0);
    expect(run.failures).toEqual([]);
    for (const c of cases) {
      const s = await shipment(c.num);
      expect(s.carrier).toBe(c.code);
      expect(s.events).toBeGreaterThan(0);
      if (c.provider === 'kuaidi100') expect(k100Queries(c.num).map((p) => p.com)).toEqual([c.com]);
      else expect(kdnRequests(c.num, '8001').map((d) => d.ShipperCode)).toEqual([c.com]);
    }
    // Known carriers never go through detection.
    expect(k100.requests.filter((r) => r.path.startsWith('/autonumber'))).toEqual([]);
  });
});

describe('a parcel without a usable carrier', () => {
  it('no carrier at all: accepted with a warning, detected by Kuaidi100 autonumber, stored, then polled', async () => {
    const num = 'YT7000000000001';
    const parsed = parseOrder(order('D1', undefined, num), inputLimits(app.config.input));
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(carrierWarnings(parsed.order)).toEqual([`shipments.0.carrier: no carrier; accepted, the carrier will be detected from trackingNo ${num}`]);
    k100.recognise(num, 'yuantong', 'zhongtong');
    k100.script(num, { ...K100, nu: num });
    await app.addOrders([order('D1', '', num)]);

    app.clock.set('2021-12-16T01:00:00Z');
    const first = await app.cycle('2021-12-16T01:00:00Z');
    expect(first.failures).toEqual([]);
    expect(first.totals.detected).toBe(1);
    const detected = await shipment(num);
    expect(detected).toMatchObject({ carrier: 'YTO', carrier_given: '', carrier_detected_by: 'kuaidi100', events: 0 });
    expect(detected.next_poll_at).toEqual(new Date('2021-12-16T01:00:00Z'));
    const auto = k100.requests.filter((r) => r.path.startsWith('/autonumber') && r.numbers.includes(num));
    expect(auto).toHaveLength(1);
    expect(new URL(auto[0]!.path, 'http://x').searchParams.get('key')).toBe(KEY);

    await app.cycle('2021-12-16T01:01:00Z');
    expect(k100Queries(num).map((p) => p.com)).toEqual(['yuantong']);
    expect((await shipment(num)).events).toBe(4);
  });

  it('a carrier the table does not know: kept as given, Kuaidi100 does not recognise the number, Kdniao 2002 does; polled with the detected carrier', async () => {
    const num = 'KY4000987654321';
    await app.addOrders([order('D2', '某某快运', num)]);
    kdn.recognise(num, 'KYSY');
    k100.script(num, { ...K100, nu: num, com: 'kuayue' });
    const stored = await shipment(num);
    expect(stored.carrier).toBe('某某快运');

    await app.cycle('2021-12-16T02:00:00Z');
    expect(kdnRequests(num, '2002')).toEqual([{ LogisticCode: num }]);
    expect(await shipment(num)).toMatchObject({ carrier: 'KYSY', carrier_given: '某某快运', carrier_detected_by: 'kdniao' });

    await app.cycle('2021-12-16T02:01:00Z');
    expect(k100Queries(num).map((p) => p.com)).toEqual(['kuayue']);
    expect((await shipment(num)).events).toBe(4);
  });

  it('a number no provider recognises raises one ops alert, is asked about again later, and the alert resolves once detected', async () => {
    const num = 'XX0000000000042';
    await app.addOrders([order('D3', 'pigeon post', num)]);
    await app.cycle('2021-12-16T03:00:00Z');
    const s = await shipment(num);
    expect(s.carrier).toBe('pigeon post');
    expect(s.next_poll_at).toEqual(new Date('2021-12-16T09:00:00Z'));
    const key = `carrier-unknown:${s.id}`;
    const [alert] = await app.db.sql`select message, count, resolved_at from alerts where key = ${key}`;
    expect(alert).toMatchObject({ count: 1, resolved_at: null });
    expect(alert!.message).toMatch(/order D3, tracking number XX0000000000042 \(carrier given: "pigeon post"\): no provider recognises the carrier \(asked: kuaidi100, kdniao\)/);
    // No poll was made for it: a poll without a carrier code would only be refused.
    expect(k100Queries(num)).toEqual([]);
    const metrics = await app.deps.metrics.registry.getSingleMetricAsString('parcelwatch_carrier_detections_total');
    expect(metrics).toMatch(/parcelwatch_carrier_detections_total\{provider="none",result="unrecognised"\} 1/);

    // Nothing before the retry time; at the retry time still unknown: the same alert, counted again.
    await app.cycle('2021-12-16T04:00:00Z');
    expect((await app.db.sql`select count from alerts where key = ${key}`)[0]!.count).toBe(1);
    await app.cycle('2021-12-16T09:00:00Z');
    expect(await app.db.sql`select count, resolved_at from alerts where key = ${key}`).toEqual([{ count: 2, resolved_at: null }]);

    // The provider learns the range: detected, alert resolved.
    k100.recognise(num, 'ems');
    await app.cycle('2021-12-16T15:00:00Z');
    expect(await shipment(num)).toMatchObject({ carrier: 'EMS', carrier_given: 'pigeon post' });
    expect((await app.db.sql`select resolved_at from alerts where key = ${key}`)[0]!.resolved_at).toEqual(new Date('2021-12-16T15:00:00Z'));
  });
});

describe('ops see the table and the alerts', () => {
  const BIN = new URL('../bin/parcelwatch.mjs', import.meta.url).pathname;
  const cli = async (args: string[], env: Record<string, string> = {}) => {
    try {
      const r = await promisify(execFile)(process.execPath, [BIN, ...args], {
        env: { ...process.env, LOG_LEVEL: 'warn', DATABASE_URL: app.db.url, REDIS_URL: TEST_REDIS_URL, PARCELWATCH_CONFIG: '', ...env },
        timeout: 60_000,
      });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it('parcelwatch carriers list / alerts and config check of an unknown route', { timeout: 120_000 }, async () => {
    const table = await cli(['carriers', 'list', '--search', '跨越']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^code\s+name\s+kuaidi100\s+kdniao\s+17track\s+aliases$/);
    expect(table.stdout).toMatch(/^KYSY\s+跨越速运\s+kuayue\s+KYSY\s+-\s+/m);

    const alerts = await cli(['alerts', '--format', 'json']);
    expect(alerts.code).toBe(0);
    const open = JSON.parse(alerts.stdout) as { key: string; message: string }[];
    // The parcel of the previous test was detected in the end; its alert is resolved and no longer listed.
    expect(open.filter((a) => a.key.startsWith('carrier-unknown:'))).toEqual([]);

    const bad = await cli(['config', 'check'], { PARCELWATCH_CONFIG: await routeFile('PIGEON') });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/\[providers\.routes\.PIGEON\] is not a carrier/);
  });

  it('GET /api/carriers?search= and GET /api/alerts', async () => {
    const num = 'XX0000000000077';
    await app.addOrders([order('D4', '', num)]);
    await app.cycle('2021-12-17T00:00:00Z');
    const daemon = await startDaemon({ config: app.config, clock: fixedClock('2021-12-17T00:00:00Z'), log: createLogger('silent', { pretty: false }), role: 'api', migrate: false });
    try {
      const base = `http://127.0.0.1:${daemon.http!.port}`;
      const carriers = (await (await fetch(`${base}/api/carriers?search=${encodeURIComponent('京东物流')}`)).json()) as { items: { code: string; aliases: string[] }[]; total: number };
      expect(carriers.items[0]).toMatchObject({ code: 'JD' });
      expect(carriers.items[0]!.aliases).toContain('京东物流');
      const ups = (await (await fetch(`${base}/api/carriers?search=ups`)).json()) as { items: unknown[] };
      expect(ups.items[0]).toMatchObject({ code: 'UPS', providers: { kuaidi100: 'ups', kdniao: 'UPS', seventeenTrack: 100002 } });
      const all = (await (await fetch(`${base}/api/carriers`)).json()) as { total: number };
      expect(all.total).toBeGreaterThan(1000);
      const alerts = (await (await fetch(`${base}/api/alerts`)).json()) as { items: { key: string; message: string; count: number }[] };
      const mine = alerts.items.filter((a) => a.key.startsWith('carrier-unknown:'));
      expect(mine).toHaveLength(1);
      expect(mine[0]!.message).toMatch(/order D4, tracking number XX0000000000077 \(carrier given: none\)/);
    } finally {
      await daemon.stop();
    }
  });
});

async function routeFile(carrier: string): Promise<string> {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const file = join(mkdtempSync(join(tmpdir(), 'pwroutes-')), 'routes.yaml');
  writeFileSync(file, `providers:\n  routes:\n    default: sandbox\n    ${carrier}: sandbox\n`);
  return file;
}

describe('17TRACK auto-detection', () => {
  it('registers without a carrier and reads the carrier 17TRACK assigned; 0 means not recognised; a known number is looked up', async () => {
    const fake = await startSeventeenTrackFake({ token: 'T17' });
    const provider = new SeventeenTrackProvider({ enabled: true, mode: 'poll', baseUrl: fake.url, qps: 3, concurrency: 1, timeoutMs: 1000, minPollIntervalMinutes: 60, token: 'T17', batchSize: 40 });
    const ctx = providerContext('2021-12-16T00:00:00Z');
    try {
      fake.autoDetect('1Z999AA10123456785', 100002);
      const codes = await provider.detectCarrier('1Z999AA10123456785', ctx);
      expect(codes).toEqual(['100002']);
      expect(carrierFromProviderCode('seventeenTrack', codes[0]!)).toBe('UPS');
      expect(JSON.parse(fake.requests.at(-1)!.body)).toEqual([{ number: '1Z999AA10123456785' }]);

      fake.autoDetect('ZZ000000000', 0);
      expect(await provider.detectCarrier('ZZ000000000', ctx)).toEqual([]);

      // Registered before: register refuses it (free), gettrackinfo tells the carrier.
      fake.script('1Z999AA10123456785', { trackInfo: {}, carrier: 100002 });
      expect(await provider.detectCarrier('1Z999AA10123456785', ctx)).toEqual(['100002']);
      expect(fake.requests.at(-1)!.path).toBe('/track/v2.2/gettrackinfo');
    } finally {
      provider.close();
      await fake.close();
    }
  });
});
