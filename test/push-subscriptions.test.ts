import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKdniaoFake, type KdniaoFake } from './fakes/kdniao-server.js';
import { startKuaidi100Fake, type Kuaidi100Fake } from './fakes/kuaidi100-server.js';
import { startSeventeenTrackFake, type SeventeenTrackFake } from './fakes/seventeen-track-server.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { APP_KEY, EBID, k100Form, k100Param, postForm, pushConfig, ST_TOKEN, startHooks } from './helpers/push.js';

/*
 * Subscriptions through the rate-limited subscribe jobs (run in-process by run-once cycles) against the
 * providers' fakes, every Kuaidi100 reply code; then the fallback: a subscribed shipment whose pushes go
 * silent is polled, and left to its pushes again once they resume.
 */

const T0 = new Date('2026-11-20T10:00:00+08:00');
const at = (hours: number) => new Date(T0.getTime() + hours * 3_600_000).toISOString();

let k100: Kuaidi100Fake;
let kdniao: KdniaoFake;
let st: SeventeenTrackFake;
let app: TestApp;
let seq = 0;

beforeAll(async () => {
  k100 = await startKuaidi100Fake({ customer: 'CUST', key: 'k100-key' });
  kdniao = await startKdniaoFake({ eBusinessId: EBID, appKey: APP_KEY });
  st = await startSeventeenTrackFake({ token: ST_TOKEN });
  app = await createTestApp(
    pushConfig({
      providers: {
        kuaidi100: { baseUrl: k100.url, qps: 100, concurrency: 4 },
        kdniao: { baseUrl: kdniao.url, qps: 100 },
        seventeenTrack: { baseUrl: st.url, qps: 100 },
      },
    }),
    T0.toISOString(),
  );
});
afterAll(async () => {
  await app.close();
  await Promise.all([k100.close(), kdniao.close(), st.close()]);
});

async function addOrder(carrier: string, trackingNo: string, paidHoursAgo = 1, now = app.clock.now()) {
  await app.addOrders([
    {
      orderId: `S${++seq}`,
      platform: 'taobao',
      paidAt: new Date(now.getTime() - paidHoursAgo * 3_600_000).toISOString(),
      amount: 50,
      customer: { name: '韩梅梅', phone: '13800138000' },
      shipments: [{ carrier, trackingNo }],
    },
  ]);
}
const sub = async (no: string) =>
  (await app.db.sql`select x.* from shipment_subscriptions x join shipments s on s.id = x.shipment_id where s.tracking_no = ${no}`)[0]!;
const queries = (no: string) => k100.requests.filter((r) => r.path === '/poll/query.do' && r.numbers.includes(no)).length;
const subscribeCalls = (no: string) => k100.subscriptions.filter((p) => p.number === no).length;

describe('subscriptions', () => {
  it('Kuaidi100: every reply code, the documented param, and polling for what is not subscribed', async () => {
    const codes = { YT0000000200: '200', YT0000000501: '501', YT0000000700: '700', YT0000000701: '701', YT0000000702: '702', YT0000000500: '500' } as const;
    for (const [no, code] of Object.entries(codes)) {
      await addOrder('YTO', no);
      if (code !== '200') k100.scriptSubscribe(no, code, '200');
    }
    await addOrder('ZTO', '7500000000001');
    const run = await app.cycle(T0.toISOString());
    expect(run.failures).toEqual([]);
    const want: Record<string, [string, string]> = {
      YT0000000200: ['subscribed', '200'],
      YT0000000501: ['subscribed', '501'],
      YT0000000700: ['failed', '700'],
      YT0000000701: ['failed', '701'],
      YT0000000702: ['failed', '702'],
      YT0000000500: ['pending', '500'],
      '7500000000001': ['subscribed', '200'],
    };
    for (const [no, [state, code]] of Object.entries(want)) {
      const x = await sub(no);
      expect([no, x.state, x.last_reply_code, x.attempts_this_month]).toEqual([no, state, code, 1]);
    }
    expect((await sub('YT0000000500')).next_attempt_at).toEqual(new Date(at(0.5)));
    expect((await sub('YT0000000700')).next_attempt_at).toBeNull();
    const zto = k100.subscriptions.find((p) => p.number === '7500000000001')!;
    expect(zto).toEqual({
      company: 'zhongtong',
      number: '7500000000001',
      key: 'k100-key',
      parameters: { callbackurl: 'https://shop.example/hooks/kuaidi100', salt: 'k100-salt', resultv2: '4', phone: '8000' },
    });
    // Refused numbers fall back to polling at once; subscribed ones are left to their pushes.
    expect(queries('YT0000000700')).toBe(1);
    expect(queries('YT0000000200')).toBe(0);
    expect(queries('YT0000000500')).toBe(1);

    // The 500 is retried after push.subscribe.retryMinutes and then succeeds.
    await app.cycle(at(0.6));
    expect(await sub('YT0000000500')).toMatchObject({ state: 'subscribed', last_reply_code: '200', attempts_this_month: 2 });
    expect(subscribeCalls('YT0000000700')).toBe(1);
  });

  it('600/601: one alert, no further subscriptions, polling instead; a second key error after resolving alerts again', async () => {
    await addOrder('YTO', 'YT0000000600');
    await addOrder('YTO', 'YT0000000601x');
    k100.scriptSubscribe('YT0000000600', '600');
    await app.cycle(at(1));
    expect(await sub('YT0000000600')).toMatchObject({ state: 'key_error', last_reply_code: '600' });
    // Planned in the same sweep, after the refusal: not sent.
    expect(await sub('YT0000000601x')).toMatchObject({ state: 'key_error', last_reply_code: 'key_refused' });
    expect(subscribeCalls('YT0000000601x')).toBe(0);
    expect(queries('YT0000000601x')).toBe(1);
    const alerts = await app.db.sql`select key, count from alerts where key = 'subscribe-key:kuaidi100' and resolved_at is null`;
    expect(alerts).toEqual([{ key: 'subscribe-key:kuaidi100', count: 1 }]);
    // While the alert is open, new shipments are not sent either.
    await addOrder('YTO', 'YT0000000602');
    await app.cycle(at(1.1));
    expect(await sub('YT0000000602')).toMatchObject({ state: 'key_error' });
    expect(subscribeCalls('YT0000000602')).toBe(0);
    // An operator fixes the key and resolves the alert: the next refusal (601, key expired) alerts again.
    await app.db.sql`update alerts set resolved_at = ${at(1.2)} where key = 'subscribe-key:kuaidi100'`;
    await addOrder('YTO', 'YT0000000601');
    k100.scriptSubscribe('YT0000000601', '601');
    await app.cycle(at(1.3));
    expect(await sub('YT0000000601')).toMatchObject({ state: 'key_error', last_reply_code: '601' });
    expect((await app.db.sql`select count(*)::int as n from alerts where key = 'subscribe-key:kuaidi100' and resolved_at is null`)[0]!.n).toBe(1);
    await app.db.sql`update alerts set resolved_at = ${at(1.4)} where key = 'subscribe-key:kuaidi100'`;
  });

  it('at most push.maxSubscriptionsPerMonth per number per month; a new number re-subscribes', async () => {
    await addOrder('YTO', 'YT0000000CAP');
    await app.db.sql`update shipment_subscriptions x set month = '2026-11', attempts_this_month = 4 from shipments s where s.id = x.shipment_id and s.tracking_no = 'YT0000000CAP'`;
    await app.cycle(at(2));
    expect(await sub('YT0000000CAP')).toMatchObject({ state: 'failed', last_reply_code: 'monthly_cap', attempts_this_month: 4 });
    expect(subscribeCalls('YT0000000CAP')).toBe(0);
    // The seller corrects the tracking number: the shipment is subscribed again under the new one.
    await app.db.sql`update shipments set tracking_no = 'YT0000000NEW' where tracking_no = 'YT0000000200'`;
    expect((await sub('YT0000000NEW')).state).toBe('pending');
    await app.cycle(at(2.1));
    expect(await sub('YT0000000NEW')).toMatchObject({ state: 'subscribed', tracking_no: 'YT0000000NEW' });
    expect(subscribeCalls('YT0000000NEW')).toBe(1);
  });

  it('Kdniao subscription (accepted, refused) and 17TRACK register in batches of 40', async () => {
    await addOrder('STO', '7730000000001');
    await addOrder('STO', '7730000000002');
    kdniao.refuseSubscribe('7730000000002', '单号不存在');
    const ems = Array.from({ length: 45 }, (_, i) => `EE${String(i).padStart(9, '0')}CN`);
    for (const no of ems) await addOrder('EMS', no);
    st.registered.add(ems[3]!); // already registered: -18019901 counts as subscribed
    st.rejectRegister(ems[4]!, -18019903, 'carrier not detected');
    const registersBefore = st.requests.filter((r) => r.path.endsWith('/register')).length;
    await app.cycle(at(3));
    expect(await sub('7730000000001')).toMatchObject({ state: 'subscribed', provider: 'kdniao' });
    expect(await sub('7730000000002')).toMatchObject({ state: 'failed', last_reply_message: '单号不存在' });
    expect(kdniao.subscribed.has('7730000000001')).toBe(true);
    const registers = st.requests.filter((r) => r.path.endsWith('/register')).slice(registersBefore);
    expect(registers.slice(0, 2).map((r) => r.numbers.length)).toEqual([40, 5]);
    expect(await sub(ems[3]!)).toMatchObject({ state: 'subscribed' });
    expect(await sub(ems[4]!)).toMatchObject({ state: 'failed', last_reply_code: 'seventeenTrack:-18019903' });
    expect(await sub(ems[44]!)).toMatchObject({ state: 'subscribed', provider: 'seventeenTrack' });
    // The gauges are refreshed by the planner's next run.
    await app.cycle(at(3.1));
    const gauge = await app.deps.metrics.registry.getSingleMetricAsString('parcelwatch_subscriptions');
    expect(gauge).toMatch(/provider="seventeenTrack",state="subscribed"\} 44/);
    expect(gauge).toMatch(/provider="kdniao",state="failed"\} 1/);
  });
});

describe('fallback to polling', () => {
  it('silent pushes → polled; pushes again → left to them; near the ship deadline always polled', async () => {
    const no = 'YT00000FALLBK';
    const start = 10;
    app.clock.set(at(start));
    await addOrder('YTO', no, 2);
    await app.cycle(at(start));
    expect((await sub(no)).state).toBe('subscribed');
    expect(queries(no)).toBe(0);
    const hooks = await startHooks(app.deps);
    try {
      const push = async (hour: number, events: { ftime: string; context: string; statusCode?: string }[]) => {
        app.clock.set(at(hour));
        const res = await postForm(`${hooks.base}/hooks/kuaidi100`, k100Form(k100Param(no, events)));
        expect(res.status).toBe(200);
      };
      const local = (hour: number) => new Date(new Date(at(hour)).getTime() + 8 * 3_600_000).toISOString().replace('T', ' ').slice(0, 19);
      const collected = { ftime: local(start + 5), context: '【苏州北桥公司】 已揽收', statusCode: '1' };
      await push(start + 6, [collected]);
      // 11 h after the last push: due for a poll by the in-transit schedule, but pushes are still trusted.
      await app.cycle(at(start + 17));
      expect(queries(no)).toBe(0);
      // 13 h of silence: polled.
      await app.cycle(at(start + 19));
      expect(queries(no)).toBe(1);
      // Pushes resume: polling stops again.
      await push(start + 20, [collected, { ftime: local(start + 19.5), context: '【苏州转运中心】 已发出 下一站 【无锡转运中心】', statusCode: '1002' }]);
      await app.cycle(at(start + 23.5));
      await app.cycle(at(start + 28));
      expect(queries(no)).toBe(1);
      const metrics = await app.deps.metrics.registry.getSingleMetricAsString('parcelwatch_push_fallback_polls_total');
      expect(metrics).toMatch(/provider="kuaidi100",why="silent"\} [1-9]/);

      // Uncollected, 50 h after payment (deadline in 22 h): polled whatever the pushes say.
      const late = 'YT000000LATE1';
      app.clock.set(at(start + 30));
      await addOrder('YTO', late, 50);
      await app.cycle(at(start + 30));
      expect((await sub(late)).state).toBe('subscribed');
      const first = queries(late);
      expect(first).toBe(1);
      app.clock.set(at(start + 30.2));
      const res = await postForm(`${hooks.base}/hooks/kuaidi100`, k100Form(k100Param(late, [{ ftime: local(start + 30), context: '您的订单已下单，等待揽收', statusCode: '101' }])));
      expect(res.status).toBe(200);
      // Due again after the per-number floor (60 min): polled although a push just came.
      await app.cycle(at(start + 31.5));
      expect(queries(late)).toBe(first + 1);
    } finally {
      await hooks.close();
    }
  });

  it('a push is not a poll: the per-number floor and cap, the poll counters and the planned poll are left alone', async () => {
    const no = 'YT0000NOTPOLL';
    const start = 60;
    const row = async () =>
      (await app.db.sql`select s.last_polled_at, s.recent_polls, s.poll_count, s.last_pushed_at, s.last_answer_at, c.next_poll_at
                        from shipments s join shipment_schedule c on c.shipment_id = s.id where s.tracking_no = ${no}`)[0]!;
    // Uncollected 50 h after payment: polled whatever the pushes say (deadline watch), Kuaidi100 floor 60 min.
    app.clock.set(at(start));
    await addOrder('YTO', no, 50);
    await app.cycle(at(start));
    expect(queries(no)).toBe(1);
    const polled = await row();
    expect(polled).toMatchObject({ last_polled_at: new Date(at(start)), poll_count: 1, last_pushed_at: null, last_answer_at: new Date(at(start)) });
    expect(polled.recent_polls).toHaveLength(1);
    expect(polled.next_poll_at).not.toBeNull();

    const hooks = await startHooks(app.deps);
    try {
      app.clock.set(at(start + 0.2));
      const local = new Date(new Date(at(start + 0.1)).getTime() + 8 * 3_600_000).toISOString().replace('T', ' ').slice(0, 19);
      const res = await postForm(`${hooks.base}/hooks/kuaidi100`, k100Form(k100Param(no, [{ ftime: local, context: '您的订单已下单，等待揽收', statusCode: '101' }])));
      expect(res.status).toBe(200);
    } finally {
      await hooks.close();
    }
    const pushed = await row();
    // The answer time and the push time move; the query counters (which the 48/24 h cap and the floor read) and the planned poll do not.
    expect(pushed).toMatchObject({ last_polled_at: polled.last_polled_at, poll_count: 1, last_pushed_at: new Date(at(start + 0.2)), last_answer_at: new Date(at(start + 0.2)) });
    expect(pushed.recent_polls).toEqual(polled.recent_polls);
    expect(pushed.next_poll_at).toEqual(polled.next_poll_at);

    // 63 min after the poll, 51 after the push: the floor counts from the poll, so the number is queried.
    await app.cycle(at(start + 1.05));
    expect(queries(no)).toBe(2);
    const again = await row();
    expect(again).toMatchObject({ last_polled_at: new Date(at(start + 1.05)), poll_count: 2, last_pushed_at: new Date(at(start + 0.2)), last_answer_at: new Date(at(start + 1.05)) });
  });
});
