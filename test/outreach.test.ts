import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../domain/clock.js';
import { dingtalkSign } from '../notify/agents/index.js';
import { startDaemon, type Daemon } from '../worker/daemon.js';
import { createDeps } from '../worker/deps.js';
import { createLogger } from '../worker/logger.js';
import { runOnce } from '../worker/run-once.js';
import { syncOutreach } from '../jobs/sync-outreach.js';
import { escalateExceptions } from '../db/queries/exceptions.js';
import { startChannelSink, type ChannelSink, type SinkRequest } from './fakes/channel-sink.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { scriptedProvider as scripted, type ScriptedEvent } from './helpers/scripted-provider.js';

const T0 = Date.parse('2026-11-11T00:00:00+08:00');
const at = (h: number) => new Date(T0 + h * 3_600_000);
const iso = (h: number) => at(h).toISOString();
const SECRET = 'whsec-outreach';
const DING_SECRET = 'SEC-ding-outreach';
const silent = createLogger('silent', { pretty: false });

type Ev = ScriptedEvent;

/** Reports every scripted event that has happened by the poll's clock instant. */
const scriptedProvider = (script: Record<string, Ev[]>) => scripted(new Map(Object.entries(script)));

const collected: Ev = { h: 5, status: 'collected', text: '【杭州】快件已揽收', hub: '杭州' };
const SCRIPT: Record<string, Ev[]> = {
  PWB00000001: [],
  PWC00000001: [
    { h: 10, status: 'collected', text: '【杭州】快件已揽收', hub: '杭州' },
    { h: 20, status: 'in_transit', text: '快件已到达【杭州转运中心】', hub: '杭州转运中心' },
  ],
  PWD00000001: [collected, { h: 30, status: 'rejected', text: '收件人拒签，快件将退回', hub: '上海浦东' }],
  PWE00000001: [
    collected,
    { h: 30, status: 'out_for_delivery', text: '快件派送中', hub: '上海浦东' },
    { h: 60, status: 'delivered', text: '快件已签收', hub: '上海浦东' },
  ],
  PWF00000001: [collected, { h: 20, status: 'at_pickup_point', text: '快件已存放至【菜鸟驿站】', hub: '菜鸟驿站' }],
  PWH00000001: [
    collected,
    { h: 29, status: 'in_transit', text: '快件离开【杭州转运中心】', hub: '杭州转运中心' },
    { h: 53, status: 'arrived_at_hub', text: '快件已到达【成都转运中心】', hub: '成都转运中心' },
    { h: 76, status: 'in_transit', text: '快件离开【成都转运中心】', hub: '成都转运中心' },
  ],
  PWP00000001: [
    collected,
    { h: 20, status: 'at_pickup_point', text: '快件已存放至【丰巢快递柜】', hub: '丰巢快递柜' },
    { h: 80, status: 'delivered', text: '已取件签收', hub: '丰巢快递柜' },
  ],
  PWP00000002: [
    collected,
    { h: 29, status: 'in_transit', text: '快件离开【杭州转运中心】', hub: '杭州转运中心' },
    { h: 53, status: 'arrived_at_hub', text: '快件已到达【上海转运中心】', hub: '上海转运中心' },
    { h: 70, status: 'rejected', text: '收件人拒收', hub: '上海浦东' },
  ],
};

const order = (id: string, shipments: { trackingNo: string; markedH: number }[], name = '王芳') => ({
  orderId: id,
  platform: 'taobao',
  paidAt: iso(0),
  amount: 100,
  customer: { name, phone: '13800138000', handle: 'wf' },
  shipments: shipments.map((s) => ({ carrier: 'ZTO', trackingNo: s.trackingNo, markedShippedAt: iso(s.markedH) })),
});

const ORDERS = [
  order('A', []),
  order('B', [{ trackingNo: 'PWB00000001', markedH: 2 }]),
  order('C', [{ trackingNo: 'PWC00000001', markedH: 8 }]),
  order('D', [{ trackingNo: 'PWD00000001', markedH: 4 }]),
  order('E', [{ trackingNo: 'PWE00000001', markedH: 4 }]),
  order('F', [{ trackingNo: 'PWF00000001', markedH: 4 }]),
  order('H', [{ trackingNo: 'PWH00000001', markedH: 4 }]),
  order('P', [
    { trackingNo: 'PWP00000001', markedH: 4 },
    { trackingNo: 'PWP00000002', markedH: 4 },
  ]),
];

function channelOverrides(sink: ChannelSink) {
  return {
    outreach: {
      channels: {
        webhook: { enabled: true, url: `${sink.url}/hook`, secret: SECRET },
        wecom: { enabled: true, url: `${sink.url}/wecom/send?key=robot-key` },
        dingtalk: { enabled: true, url: `${sink.url}/dingtalk/send?access_token=robot-token`, secret: DING_SECRET },
      },
    },
  };
}

async function pollEverything(app: TestApp) {
  await app.deps.sql`update shipment_schedule c set next_poll_at = '1970-01-01' from shipments s where s.id = c.shipment_id and s.status <> 'delivered'`;
}

interface TaskRow {
  id: number;
  status: string;
  type: string;
  severity: string;
  priority: number;
  due_by: Date;
  version: number;
  script: string;
  reason: string;
  cancel_reason: string | null;
  overdue_at: Date | null;
}

async function tasksOf(app: TestApp, orderId: string): Promise<TaskRow[]> {
  const rows = await app.deps.sql`
    select t.* from outreach_tasks t join orders o on o.id = t.order_id where o.external_id = ${orderId} order by t.id`;
  return rows.map((r) => ({ ...r, id: Number(r.id) })) as unknown as TaskRow[];
}

async function deliveries(app: TestApp, taskId: number) {
  return app.deps.sql`select channel, event, version, status, attempts from outreach_deliveries where task_id = ${taskId} order by id`;
}

const path = (r: SinkRequest) => r.url.split('?')[0]!;
const webhookEvents = (sink: ChannelSink, taskId: number) =>
  sink.requests.filter((r) => path(r) === '/hook' && r.json?.task?.id === taskId).map((r) => r.json.event as string);

describe('outreach through run-once, channels on a local sink', () => {
  let sink: ChannelSink;
  let app: TestApp;
  let daemon: Daemon;
  let base: string;
  let failedDelivery = 0;

  beforeAll(async () => {
    sink = await startChannelSink();
    app = await createTestApp(channelOverrides(sink), iso(0));
    app.deps.providers.set('sandbox', scriptedProvider(SCRIPT));
    await app.addOrders(ORDERS);
    // The agent API shares the app's clock, so its timestamps follow the timeline.
    daemon = await startDaemon({ config: app.config, clock: app.clock, log: silent, role: 'api', migrate: false });
    base = `http://127.0.0.1:${daemon.http!.port}`;
  });
  afterAll(async () => {
    await daemon?.stop();
    await app?.close();
    await sink?.close();
  });

  const step = async (h: number, expectedFailures = 0) => {
    await pollEverything(app);
    const s = await app.cycle(iso(h));
    expect(s.failures, `failures at ${h} h`).toHaveLength(expectedFailures);
    return s;
  };
  const post = (p: string, body: unknown) =>
    fetch(`${base}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  const checkScript = (t: TaskRow, mustContain: string[]) => {
    expect(t.script).toMatch(/^王芳您好，我是店铺客服。/);
    expect(t.script).not.toMatch(/\{\w+\}|—|null|undefined|NaN/);
    expect(t.reason).not.toMatch(/\{\w+\}|—|null|undefined|NaN/);
    for (const m of mustContain) expect(t.script).toContain(m);
  };

  it('26 h: fake shipment risk creates a task, delivered to all three channels, signed and in each format', async () => {
    const s = await step(26);
    expect(s.totals.tasksCreated).toBe(1);
    expect(s.totals.delivered).toBe(3);
    const [b] = await tasksOf(app, 'B');
    expect(b).toMatchObject({ status: 'open', type: 'fake_shipment_risk', severity: 'warning', priority: 150, version: 1 });
    expect(b!.due_by.toISOString()).toBe(iso(34));
    checkScript(b!, ['中通快递', 'PWB00000001', '通常 3 天左右送达']);
    expect((await deliveries(app, b!.id)).map((d) => [d.channel, d.event, d.status])).toEqual([
      ['webhook', 'outreach.created', 'sent'],
      ['wecom', 'outreach.created', 'sent'],
      ['dingtalk', 'outreach.created', 'sent'],
    ]);
    const hook = sink.requests.find((r) => path(r) === '/hook')!;
    expect(sink.verify(hook, SECRET)).toBe(true);
    expect(sink.verify(hook, 'wrong')).toBe(false);
    expect(hook.headers['idempotency-key']).toMatch(/^pw-outreach-\d+$/);
    expect(hook.json.event).toBe('outreach.created');
    expect(hook.json.task).toMatchObject({
      id: b!.id,
      orderId: 'B',
      type: 'fake_shipment_risk',
      priority: 150,
      dueBy: iso(34),
      status: 'open',
      agent: null,
      script: b!.script,
      customer: { name: '王芳', phone: '13800138000', handle: 'wf' },
      carrier: 'ZTO',
      trackingNo: 'PWB00000001',
    });
    expect(hook.json.task.exceptions).toEqual([expect.objectContaining({ type: 'fake_shipment_risk', severity: 'warning', trackingNo: 'PWB00000001' })]);
    const wecom = sink.requests.find((r) => path(r) === '/wecom/send')!;
    expect(wecom.query.get('key')).toBe('robot-key');
    expect(wecom.json.msgtype).toBe('markdown');
    expect(wecom.json.markdown.content).toContain('PWB00000001');
    // Group chats get the phone masked by default (outreach.channels.*.showPhone); the signed webhook carries it in full.
    expect(wecom.json.markdown.content).toContain('138****8000');
    expect(wecom.json.markdown.content).not.toContain('13800138000');
    const ding = sink.requests.find((r) => path(r) === '/dingtalk/send')!;
    expect(ding.query.get('access_token')).toBe('robot-token');
    const ts = Number(ding.query.get('timestamp'));
    // Transport time: DingTalk checks the signed timestamp against its wall clock, not the replayed instant.
    expect(Math.abs(ts - Date.now())).toBeLessThan(600_000);
    expect(ding.query.get('sign')).toBe(decodeURIComponent(dingtalkSign(DING_SECRET, ts)));
    expect(ding.json.msgtype).toBe('markdown');
    expect(ding.json.markdown.title).toBeTruthy();
    expect(ding.json.markdown.text).toContain('PWB00000001');
  });

  it('30 h: a carrier problem (拒签) comes first; two agents claim at once: one wins, the other gets 409 with the state', async () => {
    await step(30);
    const [d] = await tasksOf(app, 'D');
    expect(d).toMatchObject({ type: 'carrier_problem', severity: 'critical', priority: 260 });
    expect(d!.due_by.toISOString()).toBe(iso(32));
    checkScript(d!, ['收件人拒签，快件将退回', 'PWD00000001']);

    const list = await (await fetch(`${base}/api/outreach?status=open`)).json() as any;
    expect(list.items.map((t: any) => t.orderId)).toEqual(['D', 'B']);
    expect(list.items[0]).toMatchObject({ id: d!.id, type: 'carrier_problem', priority: 260, dueBy: iso(32), status: 'open', agent: null, script: d!.script });
    expect(list.items[0].customer).toMatchObject({ phone: '13800138000' });
    expect(list.items[0].exceptions).toEqual([{ id: expect.any(Number), type: 'carrier_problem', severity: 'critical', trackingNo: 'PWD00000001', status: 'open' }]);
    expect(list.nextCursor).toBeNull();

    const [r1, r2] = await Promise.all([post(`/api/outreach/${d!.id}/claim`, { agent: 'alice' }), post(`/api/outreach/${d!.id}/claim`, { agent: 'bob' })]);
    expect([r1.status, r2.status].sort()).toEqual([200, 409]);
    const [win, lose] = r1.status === 200 ? [await r1.json() as any, await r2.json() as any] : [await r2.json() as any, await r1.json() as any];
    expect(win.status).toBe('claimed');
    expect(lose.task).toMatchObject({ id: d!.id, status: 'claimed', agent: win.agent });

    // release → open again (agents are told); a second release is invalid
    const rel = await post(`/api/outreach/${d!.id}/release`, {});
    expect(rel.status).toBe(200);
    expect(await rel.json() as any).toMatchObject({ status: 'open', agent: null });
    const rel2 = await post(`/api/outreach/${d!.id}/release`, {});
    expect(rel2.status).toBe(409);
    expect((await rel2.json() as any).task.status).toBe('open');

    expect((await post(`/api/outreach/${d!.id}/claim`, { agent: 'alice' })).status).toBe(200);
    const done = await post(`/api/outreach/${d!.id}/complete`, { outcome: 'called: reship agreed', note: '客户同意补发', compensationYuan: 10 });
    expect(done.status).toBe(200);
    expect(await done.json() as any).toMatchObject({ status: 'done', agent: 'alice', outcome: 'called: reship agreed', compensationYuan: 10, notes: '客户同意补发' });
    for (const [action, body] of [
      ['complete', { outcome: 'again' }],
      ['claim', { agent: 'bob' }],
      ['release', {}],
    ] as const) {
      const r = await post(`/api/outreach/${d!.id}/${action}`, body);
      expect(r.status, action).toBe(409);
      expect((await r.json() as any).task).toMatchObject({ status: 'done', agent: 'alice' });
    }
    expect((await post(`/api/outreach/999999/claim`, { agent: 'bob' })).status).toBe(404);
  });

  it('48 h: a second exception on an order joins its task; late shipment creates one; overdue tasks are re-notified once', async () => {
    const s = await step(48);
    expect(s.totals.tasksCreated).toBe(1); // A
    expect(s.totals.tasksOverdue).toBe(1); // B (due 34 h); D is done
    const [a] = await tasksOf(app, 'A');
    expect(a).toMatchObject({ type: 'late_shipment', severity: 'warning', priority: 160 });
    checkScript(a!, ['订单 A', '5 元补偿']);
    expect(a!.reason).toContain('预计赔付 5 元');
    const bTasks = await tasksOf(app, 'B');
    expect(bTasks).toHaveLength(1);
    expect(bTasks[0]).toMatchObject({ type: 'late_shipment', severity: 'warning', priority: 170 });
    expect(bTasks[0]!.due_by.toISOString()).toBe(iso(34)); // never pushed out
    expect(bTasks[0]!.overdue_at!.toISOString()).toBe(iso(48));
    expect(webhookEvents(sink, bTasks[0]!.id)).toEqual(['outreach.created', 'outreach.updated', 'outreach.overdue']);
    // the release at 30 h was recorded by the API process; the cycle delivered it
    const [d] = await tasksOf(app, 'D');
    expect(webhookEvents(sink, d!.id)).toEqual(['outreach.created', 'outreach.updated']);
  });

  it('54 h: a channel failure loses nothing: the delivery stays pending and goes out on the next cycle', async () => {
    const before = sink.requests.length;
    sink.failNext(1, 503);
    const s = await step(54, 1);
    expect(s.failures[0]!.job).toBe('deliver-outreach');
    const [e] = await tasksOf(app, 'E');
    expect(e).toMatchObject({ type: 'delivery_overdue', severity: 'warning' });
    checkScript(e!, ['PWE00000001', '派送中']);
    const failed = sink.requests[before]!;
    const notSent = await app.deps.sql`select id, task_id, channel, event, status, attempts, last_error from outreach_deliveries where status <> 'sent'`;
    expect(notSent).toHaveLength(1);
    expect(notSent[0]).toMatchObject({ channel: 'webhook', status: 'pending', attempts: 1, last_error: 'webhook: HTTP 503' });
    expect(failed.json.event).toBe(notSent[0]!.event);
    expect(failed.json.task.id).toBe(Number(notSent[0]!.task_id));
    failedDelivery = Number(notSent[0]!.id);
    // E's own deliveries went out
    expect((await deliveries(app, e!.id)).map((r) => r.status)).toEqual(['sent', 'sent', 'sent']);
  });

  it('60 h: the pending delivery recovers; a resolved parcel cancels its task; an escalation updates the one task', async () => {
    const s = await step(60);
    const [e] = await tasksOf(app, 'E');
    expect(e!.status).toBe('cancelled');
    expect(e!.cancel_reason).toMatch(/resolved before contact: delivered/);
    const rows = await deliveries(app, e!.id);
    expect(rows.map((r) => [r.event, r.status])).toEqual([
      ['outreach.created', 'sent'],
      ['outreach.created', 'sent'],
      ['outreach.created', 'sent'],
      ['outreach.cancelled', 'sent'],
      ['outreach.cancelled', 'sent'],
      ['outreach.cancelled', 'sent'],
    ]);
    const [recovered] = await app.deps.sql`select status, attempts, last_error, sent_at from outreach_deliveries where id = ${failedDelivery}`;
    expect(recovered).toMatchObject({ status: 'sent', attempts: 2, last_error: null });
    expect(recovered!.sent_at.toISOString()).toBe(iso(60));
    expect(webhookEvents(sink, e!.id)).toEqual(['outreach.created', 'outreach.cancelled']);
    expect(s.totals.tasksCancelled).toBe(1);

    const aTasks = await tasksOf(app, 'A');
    expect(aTasks).toHaveLength(1);
    expect(aTasks[0]).toMatchObject({ type: 'late_shipment', severity: 'critical', priority: 260 });
    expect(aTasks[0]!.overdue_at!.toISOString()).toBe(iso(60)); // due at 56 h
    expect(webhookEvents(sink, aTasks[0]!.id).sort()).toEqual(['outreach.created', 'outreach.overdue', 'outreach.updated']);
  });

  it('68–70 h: pickup, stalled; another parcel of the same order raises its task and pulls its due time in', async () => {
    await step(68);
    const [f] = await tasksOf(app, 'F');
    expect(f).toMatchObject({ type: 'pickup_overdue', severity: 'warning' });
    checkScript(f!, ['菜鸟驿站', 'PWF00000001']);
    const [c] = await tasksOf(app, 'C');
    expect(c).toMatchObject({ type: 'tracking_stalled', severity: 'warning' });
    checkScript(c!, ['杭州转运中心', 'PWC00000001', '2026-11-11 20:00']);
    const [p] = await tasksOf(app, 'P');
    expect(p).toMatchObject({ type: 'pickup_overdue', priority: 130 });
    expect(p!.due_by.toISOString()).toBe(iso(76));

    await step(70);
    const pTasks = await tasksOf(app, 'P');
    expect(pTasks).toHaveLength(1);
    expect(pTasks[0]).toMatchObject({ id: p!.id, type: 'carrier_problem', severity: 'critical', priority: 270 });
    expect(pTasks[0]!.due_by.toISOString()).toBe(iso(72));
    expect(pTasks[0]!.reason).toContain('PWP00000001');
    expect(pTasks[0]!.reason).toContain('PWP00000002');
    checkScript(pTasks[0]!, ['收件人拒收', 'PWP00000002']);
    expect(webhookEvents(sink, p!.id)).toEqual(['outreach.created', 'outreach.updated']);
    const updated = sink.requests.filter((r) => path(r) === '/hook' && r.json.task.id === p!.id).at(-1)!;
    expect(updated.json.task.exceptions.map((x: any) => [x.type, x.trackingNo])).toEqual([
      ['pickup_overdue', 'PWP00000001'],
      ['carrier_problem', 'PWP00000002'],
    ]);
  });

  it('77 h: undelivered after 3 days; a done task plus a new exception gives a new task, history kept', async () => {
    await step(77);
    const [h] = await tasksOf(app, 'H');
    expect(h).toMatchObject({ type: 'undelivered_3d', severity: 'warning' });
    checkScript(h!, ['成都转运中心', 'PWH00000001', '10 元']);
    const dTasks = await tasksOf(app, 'D');
    expect(dTasks.map((t) => [t.status, t.type])).toEqual([
      ['done', 'carrier_problem'],
      ['open', 'undelivered_3d'],
    ]);
    const hist = await (await fetch(`${base}/api/outreach?type=carrier_problem`)).json() as any;
    const old = hist.items.find((t: any) => t.id === dTasks[0]!.id);
    expect(old.exceptions.map((x: any) => x.type)).toEqual(['carrier_problem']);
  });

  it('the same instant again creates, updates and sends nothing; every delivery ended sent', async () => {
    const counts = async () =>
      (await app.deps.sql`select (select count(*) from outreach_tasks)::int t, (select count(*) from outreach_deliveries)::int d,
                                 (select max(version) from outreach_tasks)::int v`)[0];
    const before = await counts();
    const sent = sink.requests.length;
    const s = await app.cycle(iso(77));
    expect(s.failures).toEqual([]);
    expect(await counts()).toEqual(before);
    expect(sink.requests.length).toBe(sent);
    const [active] = await app.deps.sql`
      select count(*)::int n, count(distinct order_id)::int o from outreach_tasks where status in ('open', 'claimed')`;
    expect(active!.n).toBe(active!.o);
    const notSent = await app.deps.sql`select * from outreach_deliveries where status <> 'sent'`;
    expect(notSent).toEqual([]);
    for (const r of sink.requests.filter((q) => path(q) === '/hook')) expect(sink.verify(r, SECRET)).toBe(true);
    const types = await app.deps.sql`select distinct type from exceptions where outreach_task_id is not null order by type`;
    expect(types.map((r) => r.type)).toEqual([
      'carrier_problem',
      'delivery_overdue',
      'fake_shipment_risk',
      'late_shipment',
      'pickup_overdue',
      'tracking_stalled',
      'undelivered_3d',
    ]);
  });

  it('80 h: when only some exceptions of a task resolve, its reason and priority follow what is still open', async () => {
    const [before] = await tasksOf(app, 'P');
    expect(before!.reason).toContain('PWP00000001');
    const s = await step(80);
    expect(s.totals['resolved.pickup_overdue']).toBe(1);
    const pTasks = await tasksOf(app, 'P');
    expect(pTasks).toHaveLength(1);
    expect(pTasks[0]).toMatchObject({ id: before!.id, status: 'open', type: 'carrier_problem', severity: 'critical', priority: 270 });
    expect(pTasks[0]!.reason).not.toContain('PWP00000001');
    expect(pTasks[0]!.reason).toContain('PWP00000002');
    expect(pTasks[0]!.version).toBe(before!.version + 1);
    expect(webhookEvents(sink, before!.id).at(-1)).toBe('outreach.updated');
    const last = sink.requests.filter((r) => path(r) === '/hook' && r.json.task.id === before!.id).at(-1)!;
    expect(last.json.task.exceptions.filter((x: any) => x.status === 'open').map((x: any) => [x.type, x.trackingNo])).toEqual([
      ['carrier_problem', 'PWP00000002'],
      ['undelivered_3d', 'PWP00000002'],
    ]);
    // overdue tasks were re-notified exactly once (one delivery per channel), however many cycles followed
    const overdue = await app.deps.sql`
      select t.id, count(d.id)::int n from outreach_tasks t left join outreach_deliveries d on d.task_id = t.id and d.event = 'outreach.overdue'
      where t.overdue_at is not null group by t.id`;
    expect(overdue.length).toBeGreaterThanOrEqual(2);
    for (const r of overdue) expect(r.n).toBe(3);
  });

  it('GET /api/outreach orders by priority then due time and pages', async () => {
    const all = await (await fetch(`${base}/api/outreach?status=open&limit=500`)).json() as any;
    const items = all.items as any[];
    expect(items.length).toBeGreaterThan(4);
    for (let i = 1; i < items.length; i++) {
      const [p, q] = [items[i - 1], items[i]];
      expect(p.priority > q.priority || (p.priority === q.priority && p.dueBy <= q.dueBy)).toBe(true);
    }
    for (const t of items) {
      expect(Object.keys(t)).toEqual(expect.arrayContaining(['id', 'orderId', 'exceptions', 'type', 'priority', 'dueBy', 'status', 'agent', 'script', 'customer']));
    }
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await (await fetch(`${base}/api/outreach?status=open&limit=2${cursor ? `&cursor=${cursor}` : ''}`)).json() as any;
      seen.push(...page.items.map((t: any) => t.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(items.map((t) => t.id));
    const overdue = items.filter((t) => t.overdue).map((t) => t.orderId);
    expect(overdue).toContain('A');
  });
});

describe('outreach with two workers at once', () => {
  it('one task per order and each event sent once per channel', async () => {
    const sink = await startChannelSink();
    const app = await createTestApp(channelOverrides(sink), iso(0));
    const workers = await Promise.all([0, 1].map(() => createDeps(app.config, fixedClock(iso(0)), silent)));
    try {
      const provider = scriptedProvider(SCRIPT);
      for (const w of workers) w.deps.providers.set('sandbox', provider);
      await app.addOrders(ORDERS);
      for (const h of [26, 30, 48, 54, 60, 68, 70]) {
        await pollEverything(app);
        for (const w of workers) (w.deps.clock as ReturnType<typeof fixedClock>).set(iso(h));
        const results = await Promise.all(workers.map((w) => runOnce(w.deps)));
        for (const r of results) expect(r.failures).toEqual([]);
      }
      const perOrder = await app.deps.sql`
        select o.external_id, count(*)::int n, count(*) filter (where t.status in ('open', 'claimed'))::int active
        from outreach_tasks t join orders o on o.id = t.order_id group by 1 order by 1`;
      expect(perOrder.map((r) => [r.external_id, r.n, r.active])).toEqual([
        ['A', 1, 1],
        ['B', 1, 1],
        ['C', 1, 1],
        ['D', 1, 1],
        ['E', 1, 0],
        ['F', 1, 1],
        ['P', 1, 1],
      ]);
      const keys = sink.requests.filter((r) => path(r) === '/hook').map((r) => r.headers['idempotency-key']);
      expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
      const [rows] = await app.deps.sql`select count(*)::int n, count(*) filter (where status = 'sent')::int sent from outreach_deliveries`;
      expect(rows!.sent).toBe(rows!.n);
      expect(sink.requests).toHaveLength(rows!.n);
    } finally {
      for (const w of workers) await w.db.close();
      await app.close();
      await sink.close();
    }
  });
});

describe('a channel that keeps failing', () => {
  it('is retried on each cycle, ends failed after the configured attempts, and the cycles carry on', async () => {
    const sink = await startChannelSink();
    const app = await createTestApp(
      { outreach: { channels: { webhook: { enabled: true, url: `${sink.url}/hook`, secret: SECRET } }, delivery: { attempts: 3 } } },
      iso(0),
    );
    try {
      app.deps.providers.set('sandbox', scriptedProvider(SCRIPT));
      await app.addOrders([order('B', [{ trackingNo: 'PWB00000001', markedH: 2 }])]);
      sink.failNext(100, 502);
      const runs = [];
      for (const h of [26, 26.5, 27, 27.5]) runs.push(await app.cycle(iso(h)));
      expect(runs.map((r) => r.failures.length)).toEqual([1, 1, 1, 0]);
      expect(runs.map((r) => r.totals.tasksCreated ?? 0)).toEqual([1, 0, 0, 0]);
      const rows = await app.deps.sql`select status, attempts, last_error from outreach_deliveries`;
      expect(rows).toEqual([{ status: 'failed', attempts: 3, last_error: 'webhook: HTTP 502' }]);
      expect(sink.requests).toHaveLength(3);
      for (const r of sink.requests) expect(r.headers['idempotency-key']).toBe(sink.requests[0]!.headers['idempotency-key']);
    } finally {
      await app.close();
      await sink.close();
    }
  });
});

/** An open order-level warning of each type on every order (skipping ones already open), at 10 h. */
async function openOnEveryOrder(app: TestApp, types: string[]) {
  await app.deps.sql`
    insert into exceptions (order_id, shipment_id, type, severity, status, opened_at, details, updated_at)
    select o.id, null, t.type, 'warning', 'open', ${at(10)}, '{}'::jsonb, ${at(10)}
    from orders o cross join unnest(${app.deps.sql.array(types)}::text[]) t(type)
    on conflict do nothing`;
}

describe('sync-outreach in four processes at once', () => {
  it('while exceptions resolve and escalate under it: no deadlock, one active task per order', async () => {
    const app = await createTestApp({}, iso(0));
    const workers = await Promise.all([0, 1, 2, 3].map(() => createDeps(app.config, fixedClock(iso(10)), silent)));
    try {
      const n = 150;
      await app.addOrders(Array.from({ length: n }, (_, i) => order(`S${i}`, [])));
      const openTwo = () => openOnEveryOrder(app, ['late_shipment', 'undelivered_3d']);
      await openTwo();
      await syncOutreach(app.deps, async () => {});
      expect((await app.deps.sql`select count(*)::int n from outreach_tasks where status = 'open'`)[0]!.n).toBe(n);
      // Half the orders' exceptions resolve (their tasks become orphans), the other half escalate; then four
      // replicas sync at once, so the "cancel orphans" pass of one meets the per-order pass of another.
      for (let round = 0; round < 3; round++) {
        await app.deps.sql`
          update exceptions set status = 'resolved', resolved_at = ${at(11 + round)}, resolution = 'delivered', updated_at = ${at(11 + round)}
          where status = 'open' and order_id % 2 = ${round % 2}`;
        await app.deps.sql`
          update exceptions set severity = case severity when 'warning' then 'critical' else 'warning' end, updated_at = ${at(11 + round)}
          where status = 'open'`;
        await openTwo();
        for (const w of workers) (w.deps.clock as ReturnType<typeof fixedClock>).set(iso(11 + round));
        const results = await Promise.allSettled(workers.map((w) => syncOutreach(w.deps, async () => {})));
        expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
        const [c] = await app.deps.sql`
          select count(*) filter (where status in ('open', 'claimed'))::int active, count(distinct order_id) filter (where status in ('open', 'claimed'))::int orders
          from outreach_tasks`;
        expect(c!.active).toBe(c!.orders);
        // every open exception is linked to its order's one active task
        const [unlinked] = await app.deps.sql`
          select count(*)::int n from exceptions e where e.status = 'open'
            and not exists (select 1 from outreach_tasks t where t.id = e.outreach_task_id and t.status in ('open', 'claimed'))`;
        expect(unlinked!.n).toBe(0);
      }
    } finally {
      for (const w of workers) await w.db.close();
      await app.close();
    }
  });
});

describe('agent assignment', () => {
  async function assign(mode: 'round_robin' | 'least_loaded', orders: number, before?: (app: TestApp) => Promise<void>) {
    const app = await createTestApp({ outreach: { assignment: { mode, agents: ['li', 'wang', 'zhao'] } }, jobs: { syncOutreach: { batchSize: 4 } } }, iso(10));
    try {
      await app.addOrders(Array.from({ length: orders }, (_, i) => order(`G${String(i).padStart(2, '0')}`, [])));
      await before?.(app);
      await openOnEveryOrder(app, ['late_shipment']);
      await app.deps.sql`update exceptions e set outreach_task_id = t.id from outreach_tasks t where t.order_id = e.order_id`;
      await syncOutreach(app.deps, async () => {});
      const rows = await app.deps.sql`
        select o.external_id, t.agent from outreach_tasks t join orders o on o.id = t.order_id where t.status = 'open' order by o.id`;
      return rows.map((r) => r.agent as string);
    } finally {
      await app.close();
    }
  }

  it('round robin deals new tasks in roster order across pages, oldest assignment first', async () => {
    // batchSize 4: the seven tasks span two pages; the second page continues where the first stopped.
    expect(await assign('round_robin', 7)).toEqual(['li', 'wang', 'zhao', 'li', 'wang', 'zhao', 'li']);
  });

  it('least loaded fills the agent with the fewest active tasks first', async () => {
    const agents = await assign('least_loaded', 8, async (app) => {
      // li already holds three open tasks, wang one, zhao none
      const [first] = await app.deps.sql`select min(id)::int as id from orders`;
      await app.deps.sql`
        insert into outreach_tasks (order_id, status, type, severity, priority, reason, script, due_by, agent, created_at, updated_at)
        select id, 'open', 'late_shipment', 'warning', 100, 'r', 's', ${at(12)}, case when id < ${first!.id} + 3 then 'li' else 'wang' end, ${at(9)}, ${at(9)}
        from orders where id < ${first!.id} + 4`;
    });
    // existing: li ×3, wang ×1 (orders 0–3) keep their agents; the four new ones go to the least loaded,
    // ties in roster order: zhao (0), wang (1 = zhao's 1), zhao (1 < wang's 2), wang (2 = zhao's 2)
    expect(agents).toEqual(['li', 'li', 'li', 'wang', 'zhao', 'wang', 'zhao', 'wang']);
  });
});

describe('what sync-outreach revisits', () => {
  it('a change at the very instant of the last sync is seen; a replay at that instant writes nothing', async () => {
    const app = await createTestApp({}, iso(10));
    try {
      await app.addOrders([order('R1', []), order('R2', [])]);
      await openOnEveryOrder(app, ['late_shipment']);
      const none = async () => {};
      expect((await syncOutreach(app.deps, none)).tasksCreated).toBe(2);
      // detection escalates R1's exception at the same instant the tasks were just made
      const [e] = await app.deps.sql`select e.id from exceptions e join orders o on o.id = e.order_id where o.external_id = 'R1'`;
      await escalateExceptions(app.deps.sql, [{ id: Number(e!.id), from: 'warning', verdict: { type: 'late_shipment', severity: 'breach', deadlineAt: null, penaltyYuan: 5, details: {} } }], at(10));
      const again = await syncOutreach(app.deps, none);
      expect(again).toMatchObject({ tasksCreated: 0, tasksUpdated: 1, tasksCancelled: 0 });
      expect((await tasksOf(app, 'R1'))[0]).toMatchObject({ severity: 'breach', version: 2 });
      const [{ mark }] = (await app.deps.sql`select txid_current()::text::bigint as mark`) as unknown as [{ mark: number }];
      expect(await syncOutreach(app.deps, none)).toMatchObject({ tasksCreated: 0, tasksUpdated: 0, tasksCancelled: 0 });
      const [w] = await app.deps.sql`
        select count(*)::int n from outreach_tasks where xmin::text::bigint > ${mark}`;
      expect(w!.n).toBe(0);
    } finally {
      await app.close();
    }
  });
});
