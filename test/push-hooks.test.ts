import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../worker/logger.js';
import { createDeps } from '../worker/deps.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { fixture } from './helpers/provider.js';
import { EBID, k100Form, k100Param, kdniaoForm, postForm, pushConfig, st17Sign, startHooks } from './helpers/push.js';

const NOW = '2021-12-16T08:00:00+08:00';
const FIXTURE_NO = 'YT6186594166532';
const ACK = { result: true, returnCode: '200', message: '成功' };

const order = (id: string, carrier: string, trackingNo: string) => ({
  orderId: id,
  platform: 'taobao',
  paidAt: '2021-12-15T08:00:00+08:00',
  amount: 99,
  customer: { name: '李雷', phone: '13800138000', handle: 'll' },
  shipments: [{ carrier, trackingNo, markedShippedAt: '2021-12-15T12:00:00+08:00' }],
});

describe('push receivers', () => {
  let app: TestApp;
  let hooks: Awaited<ReturnType<typeof startHooks>>;
  const k100 = () => `${hooks.base}/hooks/kuaidi100`;

  beforeAll(async () => {
    app = await createTestApp(pushConfig({ push: { bodyLimitBytes: 16_384 } }), NOW);
    await app.addOrders([
      order('P1', 'YTO', FIXTURE_NO),
      order('P2', 'YTO', 'YT2000000000002'),
      order('P3', 'YTO', 'YT3000000000003'),
      order('P4', 'ZTO', '75100000000004'),
      order('P5', 'YTO', 'YT5000000000005'),
      order('P6', 'STO', '773000000000006'),
      order('P7', 'EMS', '1234567890'),
    ]);
    hooks = await startHooks(app.deps);
  });
  afterAll(async () => {
    await hooks.close();
    await app.close();
  });

  const sql = () => app.db.sql;
  const eventsOf = async (no: string) =>
    (await sql()`select e.text, e.status from tracking_events e join shipments s on s.id = e.shipment_id where s.tracking_no = ${no} order by e.occurred_at`).map((r) => r.text as string);
  const shipment = async (no: string) => (await sql()`select s.*, x.state as sub_state, x.last_push_at, x.abort_reason, x.next_attempt_at, x.carrier as sub_carrier from shipments s join shipment_subscriptions x on x.shipment_id = s.id where s.tracking_no = ${no}`)[0]!;
  const counts = async () => (await sql()`select (select count(*)::int from tracking_events) as events, (select count(*)::int from push_receipts) as receipts, (select count(*)::int from push_orphans) as orphans`)[0]!;

  it('stores a signed Kuaidi100 push, acknowledges only then, and hands detection to BullMQ', async () => {
    const param = readFileSync(new URL('./fixtures/kuaidi100-push-param.json', import.meta.url), 'utf8');
    const res = await postForm(k100(), k100Form(param));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(ACK);
    expect(await eventsOf(FIXTURE_NO)).toHaveLength(4);
    const s = await shipment(FIXTURE_NO);
    expect(s.collected_at).toEqual(new Date('2021-12-15T17:10:09+08:00'));
    expect(s.last_event_text).toContain('无锡转运中心');
    expect(s.sub_state).toBe('subscribed');
    expect(s.last_push_at).toEqual(new Date(NOW));
    const [receipt] = await sql()`select kind, new_events, raw from push_receipts where tracking_no = ${FIXTURE_NO}`;
    expect(receipt).toMatchObject({ kind: 'polling', new_events: 4 });
    expect(receipt!.raw).toBe(param);
    const metrics = await (await fetch(`${hooks.base}/metrics`)).text();
    expect(metrics).toMatch(/parcelwatch_pushes_received_total\{provider="kuaidi100"\} 1/);
    expect(metrics).toMatch(/parcelwatch_push_to_stored_seconds_count\{provider="kuaidi100"\} 1/);
    const detect = await hooks.runtime.queue('detection').getJobs(['waiting', 'delayed', 'prioritized']);
    expect(detect.map((j) => j.data)).toContainEqual({ shipmentIds: [Number(s.id)] });
  });

  it('a duplicate push is acknowledged and adds nothing', async () => {
    const before = await counts();
    const param = readFileSync(new URL('./fixtures/kuaidi100-push-param.json', import.meta.url), 'utf8');
    const res = await postForm(k100(), k100Form(param));
    expect(await res.json()).toEqual(ACK);
    const after = await counts();
    expect(after.events).toBe(before.events);
    expect(after.receipts).toBe(before.receipts + 1);
    const [last] = await sql()`select new_events from push_receipts order by id desc limit 1`;
    expect(last!.new_events).toBe(0);
  });

  it.each([
    ['unsigned', (p: unknown) => k100Form(p, { sign: null }), 401],
    ['badly signed', (p: unknown) => k100Form(p, { salt: 'not-the-salt' }), 401],
    ['signed garbage', () => k100Form('{"status":"polling","lastResult":'), 400],
    ['signed but not a push', () => k100Form({ hello: 'world' }), 400],
    ['without param', () => new URLSearchParams({ sign: 'X' }).toString(), 400],
  ])('refuses a push %s with a 4xx and a failure body, storing nothing', async (_name, body, status) => {
    const before = await counts();
    const res = await postForm(k100(), body(k100Param('YT2000000000002', [{ ftime: '2021-12-15 18:00:00', context: '【苏州】已揽收' }])));
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ result: false });
    expect(await counts()).toEqual(before);
    expect(await eventsOf('YT2000000000002')).toEqual([]);
  });

  it('refuses an oversized push (413) and a non-form body (415)', async () => {
    const before = await counts();
    const big = k100Param('YT2000000000002', [{ ftime: '2021-12-15 18:00:00', context: '【苏州】已揽收'.repeat(3000) }]);
    expect((await postForm(k100(), k100Form(big))).status).toBe(413);
    const json = await fetch(k100(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(415);
    expect(await counts()).toEqual(before);
    const metrics = await (await fetch(`${hooks.base}/metrics`)).text();
    expect(metrics).toMatch(/parcelwatch_pushes_rejected_total\{provider="kuaidi100",reason="too_large"\} 1/);
    expect(metrics).toMatch(/parcelwatch_pushes_rejected_total\{provider="kuaidi100",reason="bad_signature"\} 1/);
  });

  it('acknowledges a push for an unknown number and records it as orphaned, counted', async () => {
    const body = k100Form(k100Param('YT9999999999999', [{ ftime: '2021-12-15 18:00:00', context: '【苏州】已揽收' }]));
    for (let i = 0; i < 3; i++) expect(await (await postForm(k100(), body)).json()).toEqual(ACK);
    const [orphan] = await sql()`select provider, carrier, count from push_orphans where tracking_no = 'YT9999999999999'`;
    expect(orphan).toEqual({ provider: 'kuaidi100', carrier: 'YTO', count: 3 });
  });

  it('a push re-sending the full history adds only what is new; an older push arriving later never moves the status back', async () => {
    const no = 'YT3000000000003';
    const history = [
      { ftime: '2021-12-15 17:00:00', context: '【江苏省苏州市北桥公司】 已揽收', statusCode: '1' },
      { ftime: '2021-12-15 20:00:00', context: '【苏州转运中心】 已发出 下一站 【无锡转运中心】', statusCode: '1002' },
    ];
    const newer = [...history, { ftime: '2021-12-16 07:00:00', context: '【无锡市新区】 快递员 张三 正在派件', statusCode: '5' }];
    expect(await (await postForm(k100(), k100Form(k100Param(no, history)))).json()).toEqual(ACK);
    expect(await (await postForm(k100(), k100Form(k100Param(no, newer)))).json()).toEqual(ACK);
    const [r] = await sql()`select new_events from push_receipts where tracking_no = ${no} order by id desc limit 1`;
    expect(r!.new_events).toBe(1);
    expect((await shipment(no)).status).toBe('out_for_delivery');
    // The first push again (retried by Kuaidi100 after a lost ack): nothing new, status unchanged.
    expect(await (await postForm(k100(), k100Form(k100Param(no, history)))).json()).toEqual(ACK);
    const s = await shipment(no);
    expect(s.status).toBe('out_for_delivery');
    expect(s.last_event_text).toContain('正在派件');
    expect(await eventsOf(no)).toHaveLength(3);
  });

  it('status abort: visible on the shipment, re-subscription planned once after 30 minutes', async () => {
    const no = 'YT5000000000005';
    const param = k100Param(no, [], { status: 'abort', message: '3天查询无记录' });
    expect(await (await postForm(k100(), k100Form(param))).json()).toEqual(ACK);
    const s = await shipment(no);
    expect(s.sub_state).toBe('aborted');
    expect(s.abort_reason).toBe('3天查询无记录');
    expect(s.next_attempt_at).toEqual(new Date(new Date(NOW).getTime() + 30 * 60_000));
    expect(s.provider_flags).toContain('kuaidi100:abort');
    const view = (await (await fetch(`${hooks.base}/api/shipments/${no}`)).json()) as { items: { subscription: Record<string, unknown>; providerFlags: string[] }[] };
    expect(view.items[0]!.subscription).toMatchObject({ state: 'aborted', provider: 'kuaidi100', abortReason: '3天查询无记录' });
    expect(view.items[0]!.providerFlags).toContain('kuaidi100:abort');
    // Once re-subscribed, a second abort stays aborted (the shipment is polled instead).
    await sql()`update shipment_subscriptions set resubscribed_after_abort = true, state = 'subscribed', next_attempt_at = null where shipment_id = ${s.id}`;
    await postForm(k100(), k100Form(param));
    const again = await shipment(no);
    expect(again.sub_state).toBe('aborted');
    expect(again.next_attempt_at).toBeNull();
  });

  it('autoCheck=1 / comNew corrects the carrier without a second subscription', async () => {
    const no = '75100000000004';
    const param = k100Param(no, [{ ftime: '2021-12-15 18:00:00', context: '【苏州】已揽收', statusCode: '1' }], { autoCheck: '1', comOld: 'zhongtong', comNew: 'yuantong' });
    await sql()`update shipment_subscriptions set state = 'subscribed', carrier = 'ZTO', tracking_no = ${no}, next_attempt_at = null where shipment_id = (select id from shipments where tracking_no = ${no})`;
    expect(await (await postForm(k100(), k100Form(param))).json()).toEqual(ACK);
    const s = await shipment(no);
    expect(s.carrier).toBe('YTO');
    expect(s.sub_carrier).toBe('YTO');
    expect(s.sub_state).toBe('subscribed');
    expect(s.next_attempt_at).toBeNull();
    expect(await eventsOf(no)).toHaveLength(1);
  });

  it('Kdniao 101: DataSign verified, every Data[] item on its own, the documented acknowledgement', async () => {
    const good = { EBusinessID: EBID, ShipperCode: 'STO', LogisticCode: '773000000000006', Success: true, State: '2', Traces: [{ AcceptTime: '2021-12-15 18:00:00', AcceptStation: '【杭州】已揽收' }, { AcceptTime: '2021-12-15 23:00:00', AcceptStation: '快件已到达【杭州转运中心】' }] };
    const bad = { ShipperCode: 'STO', LogisticCode: '773000000000006X', Traces: 'nope' };
    const anonymous = { ShipperCode: 'STO', Traces: [] };
    const data = { EBusinessID: EBID, PushTime: '2021-12-16 08:00:00', Count: 3, Data: [good, bad, anonymous] };
    const res = await postForm(`${hooks.base}/hooks/kdniao`, kdniaoForm(data));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ EBusinessID: EBID, Success: true, Reason: '' });
    expect(await eventsOf('773000000000006')).toHaveLength(2);
    // The bad item has no shipment (orphan); the anonymous one is quarantined raw.
    expect((await sql()`select count(*)::int as n from poll_quarantine where provider = 'kdniao' and shipment_id is null`)[0]!.n).toBe(1);
    expect((await sql()`select count(*)::int as n from push_orphans where provider = 'kdniao'`)[0]!.n).toBe(1);
    const before = await counts();
    const wrong = await postForm(`${hooks.base}/hooks/kdniao`, kdniaoForm(data, { appKey: 'other' }));
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ Success: false });
    expect((await postForm(`${hooks.base}/hooks/kdniao`, kdniaoForm(data, { requestType: '107' }))).status).toBe(400);
    expect((await postForm(`${hooks.base}/hooks/kdniao`, kdniaoForm(data, { sign: null }))).status).toBe(401);
    expect(await counts()).toEqual(before);
  });

  it('17TRACK webhook: sign verified, TRACKING_UPDATED stored, TRACKING_STOPPED ends the subscription', async () => {
    const body = JSON.stringify(fixture('seventeentrack-webhook.json'));
    const url = `${hooks.base}/hooks/17track`;
    const post = (b: string, sign?: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(sign ? { sign } : {}) }, body: b });
    expect((await post(body)).status).toBe(401);
    expect((await post(body, st17Sign(body, 'wrong'))).status).toBe(401);
    expect(await eventsOf('1234567890')).toEqual([]);
    const ok = await post(body, st17Sign(body));
    expect(ok.status).toBe(200);
    expect(await eventsOf('1234567890')).toHaveLength(1);
    const stopped = JSON.stringify({ ...JSON.parse(body), event: 'TRACKING_STOPPED' });
    expect((await post(stopped, st17Sign(stopped))).status).toBe(200);
    expect((await shipment('1234567890')).sub_state).toBe('stopped');
    expect(await eventsOf('1234567890')).toHaveLength(1);
    const garbage = 'not json at all';
    expect((await post(garbage, st17Sign(garbage))).status).toBe(400);
  });

  it('unknown hooks and wrong methods are 404; hooks ignore the API token', async () => {
    expect((await fetch(`${hooks.base}/hooks/unknown`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${hooks.base}/hooks/kuaidi100`)).status).toBe(404);
  });

  it('two daemons on one database receiving the same push at once store it once', async () => {
    const no = 'YT2000000000002';
    const other = await createDeps(app.config, app.clock, createLogger('silent', { pretty: false }));
    const second = await startHooks(other.deps);
    try {
      const events = Array.from({ length: 8 }, (_, i) => ({ ftime: `2021-12-15 ${String(10 + i).padStart(2, '0')}:00:00`, context: `【中转站${i}】 已发出 下一站 【站${i + 1}】`, statusCode: '1002' }));
      events[0] = { ftime: '2021-12-15 10:00:00', context: '【苏州北桥公司】 已揽收', statusCode: '1' };
      const body = k100Form(k100Param(no, events));
      const answers = await Promise.all([hooks.base, second.base, hooks.base, second.base].map((b) => postForm(`${b}/hooks/kuaidi100`, body).then((r) => r.json())));
      expect(answers).toEqual([ACK, ACK, ACK, ACK]);
      expect(await eventsOf(no)).toHaveLength(8);
      const s = await shipment(no);
      expect(s.last_event_text).toContain('中转站7');
      expect(s.collected_at).toEqual(new Date('2021-12-15T10:00:00+08:00'));
      const [r] = await sql()`select sum(new_events)::int as n, count(*)::int as c from push_receipts where tracking_no = ${no}`;
      expect(r).toEqual({ n: 8, c: 4 });
    } finally {
      await second.close();
      await other.db.close();
    }
  });
});
