import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NormalizedEvent, TrackResult } from '../carriers/carrier.js';
import { loadShipmentsForPoll } from '../db/queries/tracking.js';
import type { Status } from '../domain/status.js';
import { formatLocal } from '../domain/local-time.js';
import { ingestResults } from '../ingest/tracking.js';
import { sweepLeaseUntil } from '../jobs/lease.js';
import { reschedulePolls } from '../jobs/plan-polls.js';
import { explainCommand, ExplainUsageError } from '../worker/explain-cli.js';
import { startHttp, type HttpServer } from '../worker/http.js';
import { createTestApp, type TestApp } from './helpers/app.js';

/*
 * Explaining a parcel: what `shipment show` / GET /api/shipments/:trackingNo tell an ops person (each
 * stored event with the rule that decided it, the folded state, exceptions, next poll and check, poll failures), and the
 * unclassified texts (counter, list). Events go in through the real ingest path (ingestResults) as a
 * provider reply would bring them, rules included; detection runs through run-once.
 */

const run = promisify(execFile);
const BIN = new URL('../bin/parcelwatch.mjs', import.meta.url).pathname;
const BAGGING = '【装袋】已进行装袋扫描';

const ev = (at: string, text: string, status: Status, extra: Partial<NormalizedEvent> = {}): NormalizedEvent => ({
  occurredAt: new Date(at),
  status,
  hub: null,
  location: null,
  text,
  providerCode: null,
  raw: { text },
  ...extra,
});

const ok = (trackingNo: string, events: NormalizedEvent[]): TrackResult => ({ kind: 'ok', trackingNo, events, summaryStatus: null, flags: [] });

const order = (id: string, carrier: string, trackingNo: string) => ({
  orderId: id,
  platform: 'taobao',
  paidAt: '2026-11-11T00:05:00+08:00',
  amount: 99,
  customer: { name: '李雷', phone: '13900139000', handle: 'll' },
  shipments: [{ carrier, trackingNo, markedShippedAt: '2026-11-11T12:00:00+08:00' }],
});

describe('explain a parcel', () => {
  let app: TestApp;
  let http: HttpServer;
  let base: string;
  let cliEnv: Record<string, string>;

  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, body: (await res.json()) as any };
  };
  /** The real binary (main.ts wiring included); slow to start, so used once. */
  const spawnCli = async (args: string[]) => {
    try {
      const r = await run(process.execPath, [BIN, ...args], { env: { ...process.env, ...cliEnv }, timeout: 60_000 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  /** The same command in process, output captured; exit 64 for a usage error, as main.ts maps it. */
  const cli = async (args: string[]) => {
    let stdout = '';
    let stderr = '';
    const io = { out: (t: string) => void (stdout += t), err: (t: string) => void (stderr += t) };
    try {
      const code = await explainCommand(app.config, args[0] as 'shipment' | 'events', args.slice(1), app.clock, io);
      return { code, stdout, stderr };
    } catch (err) {
      if (err instanceof ExplainUsageError) return { code: 64, stdout, stderr: err.message };
      throw err;
    }
  };

  beforeAll(async () => {
    app = await createTestApp({}, '2026-11-12T12:30:00+08:00');
    http = await startHttp(app.deps, { check: async () => 'ok' as const }, async () => {}, { port: 0 });
    base = `http://127.0.0.1:${http.port}`;
    cliEnv = { DATABASE_URL: app.db.url, PARCELWATCH_CONFIG: '', LOG_LEVEL: 'warn' };
    await app.addOrders([order('EX-1', 'SF', 'SF1000000001'), order('EX-2', 'ZTO', 'DUP00000001'), order('EX-3', 'YTO', 'DUP00000001')]);
    const [sf, zto] = (await app.deps.sql`select id from shipments where carrier in ('SF', 'ZTO') order by carrier`).map((r) => Number(r.id));
    const rows = await loadShipmentsForPoll(app.deps.sql, [sf!, zto!]);
    const bySf = rows.find((r) => r.carrier === 'SF')!;
    const byZto = rows.find((r) => r.carrier === 'ZTO')!;
    await ingestResults(
      app.deps,
      'kuaidi100',
      [
        {
          shipment: bySf,
          result: ok('SF1000000001', [
            ev('2026-11-11T10:00:00+08:00', '商家已下单，等待快递员揽收', 'info_received', { rule: 'text:info_received' }),
            ev('2026-11-11T18:00:00+08:00', '【深圳宝安营业部】已揽收', 'collected', { rule: 'kuaidi100:statusCode=103', providerCode: '103', hub: '深圳宝安营业部' }),
            ev('2026-11-12T02:00:00+08:00', '快件已到达【深圳转运中心】', 'arrived_at_hub', { rule: 'text:arrived_at_hub', providerCode: '0', hub: '深圳转运中心' }),
            ev('2026-11-12T08:00:00+08:00', BAGGING, 'unknown', { providerCode: '0' }),
            ev('2026-11-12T12:00:00+08:00', '快件地址不详，无法派送，请联系寄件方', 'problem', { rule: 'kuaidi100:status=疑难', providerCode: '2' }),
          ]),
        },
        {
          shipment: byZto,
          result: ok('DUP00000001', [
            ev('2026-11-11T20:00:00+08:00', '【杭州市】快件已被【杭州萧山】揽收', 'collected', { rule: 'text:collected', hub: '杭州萧山' }),
            ev('2026-11-12T06:00:00+08:00', BAGGING, 'unknown'),
          ]),
        },
      ],
      app.clock.now(),
    );
    // Detection at the same instant judges what changed (carrier_problem opens at once).
    const cycle = await app.cycle('2026-11-12T12:30:00+08:00');
    expect(cycle.failures).toEqual([]);
  }, 120_000);

  afterAll(async () => {
    await http?.close();
    await app?.close();
  });

  it('GET /api/shipments/:trackingNo lists each event with the rule that decided it, the state, exceptions and next instants', async () => {
    const { status, body } = await get('/api/shipments/SF1000000001');
    expect(status).toBe(200);
    expect(body.items).toHaveLength(1);
    const p = body.items[0];
    expect(p).toMatchObject({
      trackingNo: 'SF1000000001',
      carrier: 'SF',
      orderIds: ['EX-1'],
      status: 'problem',
      collectedAt: '2026-11-11T10:00:00.000Z',
      deliveredAt: null,
      lastHub: '深圳转运中心',
    });
    expect(p.events.map((e: any) => [e.occurredAt, e.status, e.rule, e.providerCode, e.hub])).toEqual([
      ['2026-11-11T02:00:00.000Z', 'info_received', 'text:info_received', null, null],
      ['2026-11-11T10:00:00.000Z', 'collected', 'kuaidi100:statusCode=103', '103', '深圳宝安营业部'],
      ['2026-11-11T18:00:00.000Z', 'arrived_at_hub', 'text:arrived_at_hub', '0', '深圳转运中心'],
      ['2026-11-12T00:00:00.000Z', 'unknown', null, '0', null],
      ['2026-11-12T04:00:00.000Z', 'problem', 'kuaidi100:status=疑难', '2', null],
    ]);
    expect(p.events[4].text).toBe('快件地址不详，无法派送，请联系寄件方');
    expect(p.exceptions).toEqual([expect.objectContaining({ type: 'carrier_problem', status: 'open', severity: 'warning', orderId: 'EX-1', parcelLevel: true, openedAt: '2026-11-12T04:30:00.000Z' })]);
    // Polled a moment ago by ingest: the next poll is in the future, polling has not stopped.
    expect(new Date(p.nextPollAt).getTime()).toBeGreaterThan(app.clock.now().getTime());
    expect(p).toHaveProperty('nextCheckAt');
  });

  it('one item per carrier holding the number; --carrier narrows it (aliases accepted)', async () => {
    const both = await get('/api/shipments/DUP00000001');
    // The YTO parcel had nothing ingested here; the cycle polled it on the sandbox carrier.
    expect(both.body.items.map((i: any) => [i.carrier, i.orderIds])).toEqual([
      ['YTO', ['EX-3']],
      ['ZTO', ['EX-2']],
    ]);
    expect(both.body.items[1]).toMatchObject({ status: 'collected', lastHub: '杭州萧山', events: [{ rule: 'text:collected' }, { rule: null, status: 'unknown' }] });
    const one = await get('/api/shipments/DUP00000001?carrier=zhongtong');
    expect(one.body.items.map((i: any) => i.carrier)).toEqual(['ZTO']);
    expect((await get('/api/shipments/DUP00000001?carrier=SF')).status).toBe(404);
    expect((await get('/api/shipments/DUP00000001?carrier=nosuch')).status).toBe(400);
  });

  it('unknown, oversized or garbled numbers are 404/400, never 500', async () => {
    for (const path of ['/api/shipments/NOPE0000', `/api/shipments/${'9'.repeat(40)}`, `/api/shipments/${'9'.repeat(5000)}`, '/api/shipments/%00abc', '/api/shipments/%E5%8C%97']) {
      const r = await get(path);
      expect(r.status, path).toBe(404);
      expect(r.body.error).toMatch(/not found/);
    }
    const bad = await get('/api/shipments/%E5%8C');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/percent-encoding/);
  });

  it('unclassified texts are counted by provider and carrier and listed grouped by text', async () => {
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/parcelwatch_events_unclassified_total\{provider="kuaidi100",carrier="SF"\} 1\b/);
    expect(metrics).toMatch(/parcelwatch_events_unclassified_total\{provider="kuaidi100",carrier="ZTO"\} 1\b/);

    const { status, body } = await get('/api/events/unclassified?since=2d');
    expect(status).toBe(200);
    expect(body.items).toEqual([
      {
        text: BAGGING,
        count: 2,
        parcels: 2,
        carriers: ['SF', 'ZTO'],
        providers: ['kuaidi100'],
        firstSeenAt: '2026-11-12T04:30:00.000Z',
        lastSeenAt: '2026-11-12T04:30:00.000Z',
        // Both stored in one batch: the newest is the later row.
        example: expect.objectContaining({ trackingNo: expect.stringMatching(/^(SF1000000001|DUP00000001)$/) }),
      },
    ]);
    // The window counts back from the injected clock; a window ending before the events holds nothing.
    expect((await get('/api/events/unclassified?since=2026-11-12T13:00:00%2B08:00')).body.items).toEqual([]);
    expect((await get('/api/events/unclassified?since=yesterday')).status).toBe(400);
    expect((await get('/api/events/unclassified?limit=0')).status).toBe(400);
  });

  it('a replay of the same reply stores nothing new and counts nothing again', async () => {
    const [row] = await loadShipmentsForPoll(app.deps.sql, [Number((await app.deps.sql`select id from shipments where carrier = 'ZTO'`)[0]!.id)]);
    const s = await ingestResults(app.deps, 'kuaidi100', [{ shipment: row!, result: ok('DUP00000001', [ev('2026-11-12T06:00:00+08:00', BAGGING, 'unknown')]) }], app.clock.now());
    expect(s.newEvents).toBe(0);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/parcelwatch_events_unclassified_total\{provider="kuaidi100",carrier="ZTO"\} 1\b/);
  });

  it('parcelwatch shipment show prints the events with their rules, the state, open exceptions and next instants', { timeout: 60_000 }, async () => {
    const r = await spawnCli(['shipment', 'show', 'SF1000000001']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^SF1000000001 {2}SF \(顺丰速运\) {2}orders EX-1/);
    expect(r.stdout).toMatch(/status {7}problem since 2026-11-12 12:00/);
    expect(r.stdout).toMatch(/collected 2026-11-11 18:00/);
    expect(r.stdout).toMatch(/next poll {4}2026-11-12 \d\d:\d\d {3}next check/);
    const eventLines = r.stdout.split('\n').filter((l) => /^2026-11-1\d \d\d:\d\d {2}/.test(l));
    expect(eventLines).toHaveLength(5);
    expect(eventLines[1]).toMatch(/^2026-11-11 18:00 {2}collected +kuaidi100:statusCode=103 +103 +深圳宝安营业部 +【深圳宝安营业部】已揽收$/);
    expect(eventLines[3]).toMatch(/unknown +\(no rule matched\) +0 +【装袋】已进行装袋扫描$/);
    expect(eventLines[4]).toMatch(/problem +kuaidi100:status=疑难 +2 +快件地址不详，无法派送，请联系寄件方$/);
    expect(r.stdout).toMatch(/exceptions\ntype +severity +status[^\n]*\ncarrier_problem +warning +open +2026-11-12 12:30/);

    const json = await cli(['shipment', 'show', 'DUP00000001', '--carrier', 'ZTO', '--format', 'json']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.items.map((i: any) => [i.carrier, i.status, i.events.map((e: any) => e.rule)])).toEqual([['ZTO', 'collected', ['text:collected', null]]]);

    const missing = await cli(['shipment', 'show', 'NOPE0000']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/NOPE0000.*not found/);
  });

  it('parcelwatch events unclassified lists the texts grouped, with an example number', async () => {
    const r = await cli(['events', 'unclassified', '--since', '2026-11-10T00:00:00+08:00']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^count +parcels +carriers/);
    expect(r.stdout).toMatch(/\n2 +2 +SF,ZTO +kuaidi100 +2026-11-12 12:30 +(SF SF1000000001|ZTO DUP00000001) +【装袋】已进行装袋扫描\n/);
    expect(r.stdout).toMatch(/1 unclassified text\(s\) since 2026-11-10 00:00/);
    const json = await cli(['events', 'unclassified', '--since', '2026-11-10T00:00:00+08:00', '--format', 'json', '--limit', '5']);
    expect(JSON.parse(json.stdout).items.map((i: any) => [i.text, i.count])).toEqual([[BAGGING, 2]]);
    expect((await cli(['events', 'unclassified', '--since', 'soon'])).code).toBe(64);
    // A look-back counts from the clock: 1 h before 12:30 the texts were already stored at 12:30.
    expect(JSON.parse((await cli(['events', 'unclassified', '--since', '1h', '--format', 'json'])).stdout).items).toHaveLength(1);
    expect((await cli(['shipment', 'show'])).code).toBe(64);
  });

  it('a parcel whose poll jobs failed shows how many in a row and when its backoff ends (API and shipment show); others show 0 and no line', async () => {
    await app.addOrders([order('EX-4', 'SF', 'SF1000000004')]);
    const now = app.clock.now();
    const id = Number((await app.deps.sql`select id from shipments where tracking_no = 'SF1000000004'`)[0]!.id);
    // Leased by plan-polls, then two of its poll jobs failed for good alone: what poll-tracking's onFailed does.
    await app.deps.sql`update shipment_schedule set next_poll_at = ${sweepLeaseUntil(now)} where shipment_id = ${id}`;
    expect(await reschedulePolls(app.deps.sql, [id], now, 30, true)).toBe(1);
    expect(await reschedulePolls(app.deps.sql, [id], now, 30, true)).toBe(1);
    const due = new Date(now.getTime() + 2 * 30 * 60_000);

    const { status, body } = await get('/api/shipments/SF1000000004');
    expect(status).toBe(200);
    expect(body.items[0]).toMatchObject({ pollFailures: 2, nextPollAt: due.toISOString() });
    expect((await get('/api/shipments/SF1000000001')).body.items[0].pollFailures).toBe(0);

    const r = await cli(['shipment', 'show', 'SF1000000004']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`next poll    ${formatLocal(due, app.config.timezone)}`);
    expect(r.stdout).toMatch(/\n {2}poll failed {2}2 job\(s\) in a row, failed for good: polled alone, backing off/);
    expect((await cli(['shipment', 'show', 'SF1000000001'])).stdout).not.toMatch(/poll failed/);
  });
});
