import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NormalizedEvent, TrackingProvider, TrackRequest, TrackResult } from '../carriers/carrier.js';
import type { Config } from '../config/schema.js';
import type { DeepPartial } from '../config/load.js';
import { fixedClock } from '../domain/clock.js';
import type { Status } from '../domain/status.js';
import { createDeps } from '../worker/deps.js';
import { startHttp, type HttpServer } from '../worker/http.js';
import { createLogger } from '../worker/logger.js';
import { runOnce } from '../worker/run-once.js';
import { startChannelSink, type ChannelSink } from './fakes/channel-sink.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { importChases } from '../ingest/import-chases.js';
import { chasePolicy } from '../db/queries/chases.js';

const SECRET = 'chase-secret';
const TRACKING = 'ZT900000001';
const PHONE = '13800138000';

/** A carrier whose history we write: every poll re-sends the whole history, as real providers do. */
function scriptedProvider() {
  const history = new Map<string, NormalizedEvent[]>();
  const provider: TrackingProvider = {
    name: 'sandbox',
    maxBatch: 50,
    async track(reqs: TrackRequest[]): Promise<TrackResult[]> {
      return reqs.map((r) => {
        const events = history.get(r.trackingNo) ?? [];
        if (!events.length) return { kind: 'not_found', trackingNo: r.trackingNo, message: 'no record yet' };
        return { kind: 'ok', trackingNo: r.trackingNo, events: [...events], summaryStatus: null, flags: [] };
      });
    },
  };
  return {
    provider,
    add(trackingNo: string, at: string, status: Status, hub: string | null, text: string) {
      const list = history.get(trackingNo) ?? [];
      list.push({ occurredAt: new Date(at), status, hub, location: null, text, providerCode: null, raw: { at, text } });
      history.set(trackingNo, list);
    },
  };
}

const order = (id: string, trackingNo: string) => ({
  orderId: id,
  platform: 'taobao',
  paidAt: '2026-11-11T00:05:00+08:00',
  amount: 199,
  customer: { name: '王芳', phone: PHONE, handle: 'wf' },
  shipments: [{ carrier: 'ZTO', trackingNo, markedShippedAt: '2026-11-11T10:00:00+08:00' }],
});

async function setup(sink: ChannelSink, overrides: DeepPartial<Config> = {}) {
  const app = await createTestApp({
    ...overrides,
    chases: { ...(overrides.chases ?? {}), channels: { webhook: { enabled: true, url: `${sink.url}/customer`, secret: SECRET, timeoutMs: 2000 } } },
  } as DeepPartial<Config>);
  const carrier = scriptedProvider();
  app.deps.providers.set('sandbox', carrier.provider);
  return { app, carrier };
}

async function api(http: HttpServer, method: string, path: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${http.port}${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: (await res.json()) as any };
}

async function notifications(app: TestApp) {
  return app.deps.sql`select kind, hub, status, dedupe_key from notifications order by id`;
}

describe('chasers', () => {
  let sink: ChannelSink;
  beforeAll(async () => {
    sink = await startChannelSink();
  });
  afterAll(() => sink.close());

  it('tells a chased customer once per hub, holds quiet hours, then sends the delivered message and closes the chase', async () => {
    sink.requests.length = 0;
    const { app, carrier } = await setup(sink);
    const http = await startHttp(app.deps, { check: async () => 'ok' as const }, async () => {}, { port: 0 });
    const sent = () => sink.requests.filter((r) => r.url === '/customer');
    try {
      await app.addOrders([order('C1', TRACKING)]);
      app.clock.set('2026-11-12T09:00:00+08:00');

      // Registration: unknown → 404; first → 201; repeat → 200 with the same chase (idempotent per shipment+contact).
      expect((await api(http, 'POST', '/api/chases', { orderId: 'NOPE' })).status).toBe(404);
      expect((await api(http, 'POST', '/api/chases', { trackingNo: 'NOPE123' })).status).toBe(404);
      const first = await api(http, 'POST', '/api/chases', { orderId: 'C1', note: '客户催件' });
      expect(first.status).toBe(201);
      expect(first.json.items).toHaveLength(1);
      const chase = first.json.items[0];
      expect(chase).toMatchObject({ orderId: 'C1', trackingNo: TRACKING, contact: PHONE, channel: 'webhook', status: 'active', baselineHub: null });
      const again = await api(http, 'POST', '/api/chases', { trackingNo: TRACKING });
      expect(again.status).toBe(200);
      expect(again.json.items.map((i: { id: number }) => i.id)).toEqual([chase.id]);

      // Collection at the outlet: no hub move yet.
      carrier.add(TRACKING, '2026-11-12T09:30:00+08:00', 'collected', '杭州西湖网点', '【杭州西湖网点】已揽收');
      let s = await app.cycle('2026-11-12T10:00:00+08:00');
      expect(s.failures).toEqual([]);
      expect(sent()).toHaveLength(0);

      // Leaves the outlet, reaches hub 1: one message for hub 1.
      carrier.add(TRACKING, '2026-11-12T13:00:00+08:00', 'in_transit', '杭州西湖网点', '快件离开【杭州西湖网点】已发往【杭州转运中心】');
      carrier.add(TRACKING, '2026-11-12T13:50:00+08:00', 'arrived_at_hub', '杭州转运中心', '快件已到达【杭州转运中心】');
      s = await app.cycle('2026-11-12T14:00:00+08:00');
      expect(s.failures).toEqual([]);
      expect(sent()).toHaveLength(1);
      const m1 = sent()[0]!;
      expect(sink.verify(m1, SECRET)).toBe(true);
      expect(m1.json).toMatchObject({
        event: 'customer.hub_moved',
        orderId: 'C1',
        trackingNo: TRACKING,
        carrier: 'ZTO',
        hub: '杭州转运中心',
        occurredAt: '2026-11-12T05:50:00.000Z',
        contact: PHONE,
      });
      expect(m1.json.message).toContain('杭州转运中心');
      expect(m1.json.message).toContain(TRACKING);

      // A repeated scan at hub 1 and the departure from it (the notified hub), with the whole history re-sent: nothing.
      carrier.add(TRACKING, '2026-11-12T14:20:00+08:00', 'arrived_at_hub', '杭州转运中心', '快件已到达【杭州转运中心】分拣中');
      carrier.add(TRACKING, '2026-11-12T15:30:00+08:00', 'in_transit', '杭州转运中心', '快件离开【杭州转运中心】已发往【上海转运中心】');
      s = await app.cycle('2026-11-12T16:00:00+08:00');
      expect(s.failures).toEqual([]);
      expect(s.totals.newEvents).toBe(2);
      expect(sent()).toHaveLength(1);

      // Hub 2.
      carrier.add(TRACKING, '2026-11-12T19:40:00+08:00', 'arrived_at_hub', '上海转运中心', '快件已到达【上海转运中心】');
      await app.cycle('2026-11-12T20:00:00+08:00');
      expect(sent()).toHaveLength(2);
      expect(sent()[1]!.json.hub).toBe('上海转运中心');
      // Only history again: nothing new.
      await app.cycle('2026-11-12T21:10:00+08:00');
      expect(sent()).toHaveLength(2);

      // Quiet hours (22:00–08:00): two moves are held, none is sent.
      carrier.add(TRACKING, '2026-11-12T22:50:00+08:00', 'arrived_at_hub', '上海浦东分部', '快件已到达【上海浦东分部】');
      await app.cycle('2026-11-12T23:00:00+08:00');
      carrier.add(TRACKING, '2026-11-13T01:50:00+08:00', 'arrived_at_hub', '上海浦东新区营业部', '快件已到达【上海浦东新区营业部】');
      await app.cycle('2026-11-13T02:00:00+08:00');
      expect(sent()).toHaveLength(2);
      expect((await notifications(app)).filter((n) => n.status === 'pending')).toHaveLength(2);

      // End of quiet hours: one catch-up with the latest state only.
      s = await app.cycle('2026-11-13T08:00:00+08:00');
      expect(s.failures).toEqual([]);
      expect(sent()).toHaveLength(3);
      expect(sent()[2]!.json.hub).toBe('上海浦东新区营业部');
      const held = await notifications(app);
      expect(held.find((n) => n.hub === '上海浦东分部')!.status).toBe('superseded');
      await app.cycle('2026-11-13T08:05:00+08:00');
      expect(sent()).toHaveLength(3);

      // Out for delivery.
      carrier.add(TRACKING, '2026-11-13T08:40:00+08:00', 'out_for_delivery', '上海市', '【上海市】浦东新区营业部 派件员 张三 正在派件中');
      await app.cycle('2026-11-13T09:10:00+08:00');
      expect(sent()).toHaveLength(4);
      expect(sent()[3]!.json).toMatchObject({ event: 'customer.out_for_delivery', hub: '上海市' });

      // Delivered: final message and the chase closes.
      carrier.add(TRACKING, '2026-11-13T11:30:00+08:00', 'delivered', '上海市', '【上海市】已签收，签收人: 本人');
      s = await app.cycle('2026-11-13T12:00:00+08:00');
      expect(s.failures).toEqual([]);
      expect(sent()).toHaveLength(5);
      const last = sent()[4]!;
      expect(sink.verify(last, SECRET)).toBe(true);
      expect(last.json.event).toBe('customer.delivered');
      expect(last.json.message).toContain('已签收');
      for (const r of sent()) expect(sink.verify(r, SECRET)).toBe(true);

      const hubs = sent().filter((r) => r.json.event === 'customer.hub_moved').map((r) => r.json.hub);
      expect(hubs).toEqual(['杭州转运中心', '上海转运中心', '上海浦东新区营业部']);

      const ended = await api(http, 'GET', '/api/chases?status=ended&orderId=C1');
      expect(ended.status).toBe(200);
      expect(ended.json.items).toHaveLength(1);
      expect(ended.json.items[0]).toMatchObject({ id: chase.id, status: 'ended', endReason: 'delivered', lastNotifiedHub: '上海浦东新区营业部', notificationsSent: 5 });
      expect((await api(http, 'GET', '/api/chases?status=active')).json).toEqual({ items: [], nextCursor: null });

      // Already delivered: 409 naming the delivery time.
      const late = await api(http, 'POST', '/api/chases', { orderId: 'C1' });
      expect(late.status).toBe(409);
      expect(late.json.error).toContain('2026-11-13T03:30:00.000Z');

      // Replaying the last cycle changes nothing.
      await app.cycle('2026-11-13T12:00:00+08:00');
      expect(sent()).toHaveLength(5);
    } finally {
      await http.close();
      await app.close();
    }
  });

  it('enforces the daily cap per contact, and DELETE ends a chase', async () => {
    sink.requests.length = 0;
    // A second contact (a relative's number) needs the explicit override; without it the API answers 403 (chase-policy test).
    const { app, carrier } = await setup(sink, { chases: { dailyCapPerContact: 1, allowOtherContacts: true } });
    const http = await startHttp(app.deps, { check: async () => 'ok' }, async () => {}, { port: 0 });
    try {
      await app.addOrders([order('D1', 'ZT900000002'), order('D2', 'ZT900000003')]);
      app.clock.set('2026-11-12T09:00:00+08:00');
      const a = await api(http, 'POST', '/api/chases', { orderId: 'D1' });
      const b = await api(http, 'POST', '/api/chases', { orderId: 'D2', contact: '13900139000' });
      expect([a.status, b.status]).toEqual([201, 201]);
      carrier.add('ZT900000002', '2026-11-12T09:30:00+08:00', 'arrived_at_hub', '杭州转运中心', '快件已到达【杭州转运中心】');
      await app.cycle('2026-11-12T10:00:00+08:00');
      carrier.add('ZT900000002', '2026-11-12T12:30:00+08:00', 'arrived_at_hub', '上海转运中心', '快件已到达【上海转运中心】');
      await app.cycle('2026-11-12T13:00:00+08:00');
      expect(sink.requests).toHaveLength(1);
      expect((await notifications(app)).map((n) => n.status)).toEqual(['sent', 'capped']);

      // Next business day the contact may hear again.
      carrier.add('ZT900000002', '2026-11-13T09:30:00+08:00', 'arrived_at_hub', '上海浦东分部', '快件已到达【上海浦东分部】');
      await app.cycle('2026-11-13T10:00:00+08:00');
      expect(sink.requests).toHaveLength(2);

      // Removed chase: nothing more, and it stays listed as ended.
      const del = await api(http, 'DELETE', `/api/chases/${b.json.items[0].id}`);
      expect(del.json).toMatchObject({ status: 'ended', endReason: 'removed' });
      carrier.add('ZT900000003', '2026-11-13T10:30:00+08:00', 'arrived_at_hub', '杭州转运中心', '快件已到达【杭州转运中心】');
      await app.cycle('2026-11-13T11:00:00+08:00');
      expect(sink.requests).toHaveLength(2);
      const list = await api(http, 'GET', '/api/chases?status=ended&limit=1');
      expect(list.json.items).toHaveLength(1);

      // maxAgeDays (15) later the remaining chase expires.
      await app.cycle('2026-11-28T10:00:00+08:00');
      const [expired] = await app.deps.sql`select status, end_reason from chases where id = ${a.json.items[0].id}`;
      expect(expired).toMatchObject({ status: 'ended', end_reason: 'expired' });
    } finally {
      await http.close();
      await app.close();
    }
  });

  it('retries a failed send once the channel recovers and never sends it twice', async () => {
    sink.requests.length = 0;
    const { app, carrier } = await setup(sink);
    try {
      await app.addOrders([order('F1', 'ZT900000005')]);
      app.clock.set('2026-11-12T09:00:00+08:00');
      const { registerChases } = await import('../db/queries/chases.js');
      await registerChases(app.deps.sql, { orderId: 'F1' }, chasePolicy(app.config), app.clock.now());
      carrier.add('ZT900000005', '2026-11-12T09:30:00+08:00', 'arrived_at_hub', '杭州转运中心', '快件已到达【杭州转运中心】');
      // The send right after the poll fails. The release sweep of the same cycle does not start a second
      // retry chain: the failed one owns the message through its backoff (one chain per message).
      sink.failNext(1, 503);
      const s1 = await app.cycle('2026-11-12T10:00:00+08:00');
      expect(s1.failures.map((f) => f.job)).toEqual(['send-customer-message']);
      const [n1] = await app.deps.sql`select status, attempts, last_error from notifications`;
      expect(n1).toMatchObject({ status: 'pending', attempts: 1 });
      // The next cycle's sweep sends it (same idempotency key); later cycles do not repeat it.
      const s2 = await app.cycle('2026-11-12T10:05:00+08:00');
      expect(s2.failures).toEqual([]);
      await app.cycle('2026-11-12T10:10:00+08:00');
      await app.cycle('2026-11-12T11:30:00+08:00');
      expect(sink.requests).toHaveLength(2);
      expect(new Set(sink.requests.map((r) => r.headers['idempotency-key'])).size).toBe(1);
      const [n2] = await app.deps.sql`select status, attempts from notifications`;
      expect(n2).toMatchObject({ status: 'sent', attempts: 2 });
    } finally {
      await app.close();
    }
  });

  it('imports chases from CSV and NDJSON, reporting bad rows by line', async () => {
    const { app } = await setup(sink);
    const dir = mkdtempSync(join(tmpdir(), 'pw-chases-'));
    try {
      await app.addOrders([order('I1', 'ZT900000006'), order('I2', 'ZT900000007')]);
      const csv = join(dir, 'chases.csv');
      writeFileSync(csv, 'orderId,trackingNo,contact,channel,note\nI1,,,,催了三次\nNOPE,,,,\n,ZT900000007,13900139000,fax,\nI1,,,,\n');
      const s = await importChases({ sql: app.deps.sql, clock: app.clock, file: csv, policy: chasePolicy(app.config) });
      expect(s).toMatchObject({ rows: 4, chasesCreated: 1, alreadyRegistered: 1, rejectedRows: 2 });
      const report = readFileSync(s.errorReport!, 'utf8').trim().split('\n');
      expect(report.slice(1).map((l) => l.split(',')[0])).toEqual(['3', '4']);
      const nd = join(dir, 'chases.ndjson');
      // SMS is not enabled in this config: that row is refused with the reason, the others go on.
      writeFileSync(nd, '{"trackingNo":"ZT900000007","channel":"sms"}\nnot json\n{"trackingNo":"ZT900000007"}\n');
      const s2 = await importChases({ sql: app.deps.sql, clock: app.clock, file: nd, policy: chasePolicy(app.config) });
      expect(s2).toMatchObject({ rows: 3, chasesCreated: 1, rejectedRows: 2 });
      expect(readFileSync(s2.errorReport!, 'utf8')).toMatch(/^1,,ZT900000007,.*channel sms is not enabled/m);
      const rows = await app.deps.sql`select channel, note from chases order by id`;
      expect(rows.map((r) => [r.channel, r.note])).toEqual([['webhook', '催了三次'], ['webhook', null]]);
    } finally {
      await app.close();
    }
  });

  it('two cycles racing at the same instant still send one message per hub', async () => {
    sink.requests.length = 0;
    const { app, carrier } = await setup(sink);
    const { deps: deps2, db: handle2 } = await createDeps(app.config, fixedClock('2026-11-12T09:00:00+08:00'), createLogger('silent', { pretty: false }));
    deps2.providers.set('sandbox', carrier.provider);
    const clock2 = deps2.clock as ReturnType<typeof fixedClock>;
    const race = async (at: string) => {
      app.clock.set(at);
      clock2.set(at);
      const rs = await Promise.all([runOnce(app.deps), runOnce(deps2)]);
      for (const r of rs) expect(r.failures).toEqual([]);
    };
    try {
      await app.addOrders([order('R1', 'ZT900000004')]);
      const { registerChases } = await import('../db/queries/chases.js');
      await registerChases(app.deps.sql, { orderId: 'R1' }, chasePolicy(app.config), new Date('2026-11-12T09:00:00+08:00'));
      carrier.add('ZT900000004', '2026-11-12T09:30:00+08:00', 'arrived_at_hub', '杭州转运中心', '快件已到达【杭州转运中心】');
      await race('2026-11-12T10:00:00+08:00');
      carrier.add('ZT900000004', '2026-11-12T11:30:00+08:00', 'arrived_at_hub', '上海转运中心', '快件已到达【上海转运中心】');
      await race('2026-11-12T12:00:00+08:00');
      // Both workers judging the same events directly (not only through polling) still make one row per hub.
      const { notifyChasers } = await import('../jobs/notify-chasers.js');
      const [s] = await app.deps.sql`select id from shipments where tracking_no = 'ZT900000004'`;
      const both = await Promise.all([notifyChasers(app.deps, [Number(s!.id)]), notifyChasers(deps2, [Number(s!.id)])]);
      expect(both.flatMap((b) => b.followUps)).toEqual([]);
      expect(sink.requests.map((r) => r.json.hub)).toEqual(['杭州转运中心', '上海转运中心']);
    } finally {
      await handle2.close();
      await app.close();
    }
  });
});
