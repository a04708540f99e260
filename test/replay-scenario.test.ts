import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { systemClock } from '../domain/clock.js';
import { startDaemon, type Daemon } from '../worker/daemon.js';
import { createLogger } from '../worker/logger.js';
import { startChannelSink, type ChannelSink } from './fakes/channel-sink.js';
import { startDingtalkFake, type DingtalkFake } from './fakes/dingtalk-server.js';
import { startKuaidi100Fake, type Kuaidi100Fake } from './fakes/kuaidi100-server.js';
import { cli, cliDatabase } from './helpers/cli.js';

/*
 * The "Done when" scenario, black-box: the API runs at wall time (a real `start --role api`
 * daemon, in-process), chases are registered through it, and `run-once --now` replays instants weeks
 * in the past through the CLI against a signed DingTalk robot that checks signatures with its own wall
 * clock and a customer endpoint. Every replay must exit 0, and the chasers hear what was stored after
 * their registration, though every replayed instant is earlier than the registration's wall time.
 */

const K100 = { customer: 'K100CUSTOMER', key: 'k100-key' };
const ROBOT = { accessToken: 'robot-token', secret: 'SEC9f3c1a2b4d5e6f708192a3b4c5d6e7f8' };
const CUSTOMER_SECRET = 'customer-secret';
const PARCELS = [
  { orderId: 'S1', trackingNo: 'YT7000000000001', phone: '13800138001' },
  { orderId: 'S2', trackingNo: 'YT7000000000002', phone: '13800138002' },
];

/** The carrier's history as Kuaidi100 answers it at each replay step (newest first, cumulative). */
function journey(trackingNo: string) {
  const events = [
    { time: '2026-11-11 18:00:00', context: '【杭州市西湖区公司】 已揽收', statusCode: '1', status: '揽收' },
    { time: '2026-11-11 19:30:00', context: '【杭州转运中心】 已收入', statusCode: '1002', status: '干线' },
    { time: '2026-11-12 06:00:00', context: '【上海转运中心】 已收入', statusCode: '1002', status: '干线' },
    { time: '2026-11-13 08:00:00', context: '【上海市浦东新区公司】 派件员 张三 正在为您派件', statusCode: '5', status: '派件' },
    { time: '2026-11-14 09:00:00', context: '【上海市浦东新区公司】 已签收，签收人：本人', statusCode: '3', status: '签收' },
  ];
  // Step k (0..3) knows the first k+2 events.
  return [0, 1, 2, 3].map((k) => {
    const known = events.slice(0, k + 2).reverse();
    const delivered = known[0]!.statusCode === '3';
    return {
      message: 'ok',
      nu: trackingNo,
      ischeck: delivered ? '1' : '0',
      com: 'yuantong',
      status: '200',
      state: known[0]!.statusCode,
      data: known.map((e) => ({ ...e, ftime: e.time, areaName: '', location: '' })),
    };
  });
}

const STEPS = ['2026-11-11T20:00:00+08:00', '2026-11-12T10:00:00+08:00', '2026-11-13T10:00:00+08:00', '2026-11-14T10:00:00+08:00'];

describe('replay scenario: run-once --now in the past, chases through the API, signed DingTalk robot', () => {
  let env: Record<string, string>;
  let drop: () => Promise<void>;
  let k100: Kuaidi100Fake;
  let robot: DingtalkFake;
  let customers: ChannelSink;
  let api: Daemon;
  let base: string;

  beforeAll(async () => {
    ({ env, drop } = await cliDatabase());
    k100 = await startKuaidi100Fake(K100);
    robot = await startDingtalkFake(ROBOT);
    customers = await startChannelSink();
    const file = join(mkdtempSync(join(tmpdir(), 'pw-replay-')), 'config.yaml');
    writeFileSync(
      file,
      stringify({
        providers: { routes: { default: 'kuaidi100' }, kuaidi100: { enabled: true, baseUrl: k100.url, ...K100 } },
        outreach: {
          channels: { dingtalk: { enabled: true, url: `${robot.url}/robot/send?access_token=${ROBOT.accessToken}`, secret: ROBOT.secret, timeoutMs: 5000 } },
        },
        chases: { channels: { webhook: { enabled: true, url: `${customers.url}/customer`, secret: CUSTOMER_SECRET, timeoutMs: 5000 } } },
      }),
    );
    env = { ...env, PARCELWATCH_CONFIG: file };
    const config = loadConfig({ env });
    api = await startDaemon({ config, clock: systemClock, log: createLogger('silent', { pretty: false }), role: 'api', port: 0 });
    base = `http://127.0.0.1:${api.http!.port}`;
  }, 120_000);

  afterAll(async () => {
    await api?.stop();
    await Promise.all([k100?.close(), robot?.close(), customers?.close()]);
    await drop?.();
  });

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as any };
  };
  const replay = async (at: string) => {
    const r = await cli(['run-once', '--now', at, '--json'], env, 180_000);
    expect(r.code, `run-once --now ${at}: ${r.stdout}${r.stderr}`).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.failures).toEqual([]);
    return summary;
  };

  it('exits 0 at every instant and delivers the chaser pushes the events imply', { timeout: 900_000 }, async () => {
    const orders = [
      ...PARCELS.map((p) => ({
        orderId: p.orderId,
        platform: 'taobao',
        paidAt: '2026-11-11T00:05:00+08:00',
        amount: 199,
        customer: { name: '王芳', phone: p.phone },
        shipments: [{ carrier: 'YTO', trackingNo: p.trackingNo, markedShippedAt: '2026-11-11T10:00:00+08:00' }],
      })),
      // Never shipped: a late-shipment warning on the 13th and a breach on the 14th, told to the DingTalk group.
      { orderId: 'L1', platform: 'taobao', paidAt: '2026-11-11T00:05:00+08:00', amount: 99, customer: { name: '李雷', phone: '13900139009' } },
    ];
    const created = await post('/api/orders', { orders });
    expect(created).toMatchObject({ status: 200, json: { accepted: 3, rejected: [] } });
    for (const p of PARCELS) k100.script(p.trackingNo, ...journey(p.trackingNo));

    // The evening of the 11th: collected and at the first hub, before anyone chases.
    await replay(STEPS[0]!);

    // Registered now (wall time, weeks after every replayed instant), baseline = the hub known now.
    const byOrder = await post('/api/chases', { orderId: 'S1', note: '客户催件' });
    const byTracking = await post('/api/chases', { trackingNo: PARCELS[1]!.trackingNo });
    for (const r of [byOrder, byTracking]) {
      expect(r.status).toBe(201);
      expect(r.json.items[0]).toMatchObject({ baselineHub: '杭州转运中心', status: 'active', channel: 'webhook' });
    }

    for (const at of STEPS.slice(1)) await replay(at);

    // Each chased customer heard: the next hub, out for delivery, delivered — once each, signed.
    for (const p of PARCELS) {
      const pushes = customers.requests.filter((r) => r.json?.trackingNo === p.trackingNo);
      expect(pushes.map((r) => [r.json.event, r.json.hub])).toEqual([
        ['customer.hub_moved', '上海转运中心'],
        ['customer.out_for_delivery', '上海市浦东新区公司'],
        ['customer.delivered', '上海市浦东新区公司'],
      ]);
      for (const r of pushes) {
        expect(customers.verify(r, CUSTOMER_SECRET)).toBe(true);
        expect(r.json.contact).toBe(p.phone);
      }
    }
    expect(customers.requests).toHaveLength(6);

    // The robot took every message (signed with wall time), and the late order reached the group, phone masked.
    expect(robot.rejected()).toEqual([]);
    const texts = robot.accepted().map((d) => d.body.markdown.text as string);
    expect(texts.some((t) => t.includes('L1'))).toBe(true);
    for (const t of texts) {
      expect(t).not.toContain('13900139009');
      expect(t).toContain('139****9009');
    }

    // The chases closed on delivery.
    const ended = await fetch(`${base}/api/chases?status=ended`).then((r) => r.json() as Promise<any>);
    expect(ended.items.map((c: { endReason: string }) => c.endReason)).toEqual(['delivered', 'delivered']);
  });
});
