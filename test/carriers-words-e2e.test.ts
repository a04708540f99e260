import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../config/schema.js';
import type { DeepPartial } from '../config/load.js';
import { chasePolicy, registerChases } from '../db/queries/chases.js';
import { showShipments, type ShipmentView } from '../db/queries/shipment-view.js';
import { explainCommand } from '../worker/explain-cli.js';
import { startChannelSink, type ChannelSink } from './fakes/channel-sink.js';
import { startKdniaoFake, type KdniaoFake } from './fakes/kdniao-server.js';
import { startKuaidi100Fake, type FakeReply, type Kuaidi100Fake } from './fakes/kuaidi100-server.js';
import { createTestApp, type TestApp } from './helpers/app.js';

/*
 * Issue 11, "Done when": carriers' real words, end to end. Four parcels polled by the real Kuaidi100 and
 * Kdniao clients against local fakes speaking their wire formats (signatures checked), through
 * run-once cycles (poll → ingest → detection → chaser notices → signed customer webhook):
 *
 * - SF via Kuaidi100 whose newest event is "正在派送途中,请您准备签收": not delivered, so it keeps being
 *   polled and, 72 h after collection, opens undelivered_3d;
 * - YTO via Kuaidi100 with a 疑难 event "快件地址不详，无法派送，请联系寄件方": opens carrier_problem;
 * - ZTO via Kuaidi100 (basic reply, no per-event codes) whose only event is "揽收任务已分配给…": not a
 *   collection, so the 72-hour clock runs into a late_shipment breach;
 * - a chased STO parcel relayed by Kdniao, texts opening with a scan-type tag (【收件】【发件】【到件】【装车】
 *   【派件】): exactly one hub_moved push per real site, none for a tag;
 * - `shipment show` for each of them says which rule decided every event.
 */

const K100 = { customer: 'K100CUSTOMER', key: 'k100-key' };
const KDN = { eBusinessId: '1604210', appKey: 'kdn-app-key' };
const SECRET = 'e2e-customer-secret';
const PHONE = '13800138000';

const NO = { sf: 'SF1400000000001', yto: 'YT6600000000001', zto: 'ZT7700000000001', sto: '773000000000001' };

/** "2026-11-12 08:40:00" in Asia/Shanghai, as the providers write it. */
const at = (local: string) => `${local}:00`;

interface K100Event {
  time: string;
  context: string;
  /** Per-event status name and code (resultv2 ≥ 1); absent in basic replies. */
  status?: string;
  statusCode?: string;
}

/**
 * A Kuaidi100 poll/query.do success body: data newest first, as the API sends it. The reply object is
 * scripted once and its body replaced as the journey goes on (the fake serialises it at answer time).
 */
function k100Body(num: string, com: string, state: string, events: K100Event[]) {
  return {
    message: 'ok',
    nu: num,
    ischeck: '0',
    condition: '00',
    com,
    status: '200',
    state,
    data: [...events]
      .reverse()
      .map((e) => ({ time: e.time, ftime: e.time, context: e.context, ...(e.status ? { status: e.status, statusCode: e.statusCode, areaName: '', location: '' } : {}) })),
  };
}

interface KdnTrace {
  AcceptTime: string;
  AcceptStation: string;
  Action: string;
  Location?: string;
}

/** A Kdniao 8001 success body: Traces oldest first, as the API sends them. */
function kdnBody(num: string, state: string, traces: KdnTrace[]) {
  return { EBusinessID: KDN.eBusinessId, Success: true, LogisticCode: num, ShipperCode: 'STO', State: state, StateEx: state, Location: '北京市', Traces: traces };
}

const order = (id: string, carrier: string, trackingNo: string) => ({
  orderId: id,
  platform: 'taobao',
  paidAt: '2026-11-11T00:05:00+08:00',
  amount: 259,
  customer: { name: '韩梅梅', phone: PHONE, handle: 'hmm' },
  shipments: [{ carrier, trackingNo, markedShippedAt: '2026-11-11T10:00:00+08:00' }],
});

describe('carriers’ real words, end to end', () => {
  let app: TestApp;
  let k100: Kuaidi100Fake;
  let kdn: KdniaoFake;
  let sink: ChannelSink;
  const replies: Record<keyof typeof NO, FakeReply> = { sf: { json: {} }, yto: { json: {} }, zto: { json: {} }, sto: { json: {} } };

  const sf: K100Event[] = [];
  const yto: K100Event[] = [];
  const zto: K100Event[] = [];
  const sto: KdnTrace[] = [];
  let sfState = '1';
  let ytoState = '1';
  let stoState = '1';
  let sfPollsWhenOutForDelivery = 0;

  /** Answer the whole history so far, as real providers do on every query. */
  function publish() {
    replies.sf.json = k100Body(NO.sf, 'shunfeng', sfState, sf);
    replies.yto.json = k100Body(NO.yto, 'yuantong', ytoState, yto);
    replies.zto.json = k100Body(NO.zto, 'zhongtong', '1', zto);
    replies.sto.json = kdnBody(NO.sto, stoState, sto);
  }

  async function cycle(local: string) {
    publish();
    const s = await app.cycle(`${local.replace(' ', 'T')}:00+08:00`);
    expect(s.failures, `cycle at ${local}`).toEqual([]);
    return s;
  }

  const view = async (trackingNo: string): Promise<ShipmentView> => {
    const [v] = await showShipments(app.deps.sql, trackingNo);
    expect(v, trackingNo).toBeDefined();
    return v!;
  };
  const polls = (fake: { requests: { numbers: string[] }[] }, num: string) => fake.requests.filter((r) => r.numbers.includes(num)).length;
  const pushes = () => sink.requests.filter((r) => r.url === '/customer').map((r) => r.json as { event: string; hub: string | null; trackingNo: string });
  const openTypes = (v: ShipmentView) => v.exceptions.filter((x) => x.status === 'open').map((x) => x.type);

  beforeAll(async () => {
    k100 = await startKuaidi100Fake(K100);
    kdn = await startKdniaoFake(KDN);
    sink = await startChannelSink();
    app = await createTestApp(
      {
        providers: {
          routes: { STO: 'kdniao', default: 'kuaidi100' },
          kuaidi100: { enabled: true, baseUrl: k100.url, customer: K100.customer, key: K100.key, qps: 50 },
          kdniao: { enabled: true, baseUrl: kdn.url, eBusinessId: KDN.eBusinessId, appKey: KDN.appKey, requestType: '8001', qps: 50 },
        },
        chases: { channels: { webhook: { enabled: true, url: `${sink.url}/customer`, secret: SECRET, timeoutMs: 2000 } } },
      } as DeepPartial<Config>,
      '2026-11-11T12:00:00+08:00',
    );
    for (const k of Object.keys(NO) as (keyof typeof NO)[]) (k === 'sto' ? kdn : k100).script(NO[k], replies[k]);
    await app.addOrders([order('E2E-SF', 'SF', NO.sf), order('E2E-YTO', 'YTO', NO.yto), order('E2E-ZTO', 'ZTO', NO.zto), order('E2E-STO', 'STO', NO.sto)]);
    // The customer chases the STO parcel before its first scan is known.
    const chase = await registerChases(app.deps.sql, { trackingNo: NO.sto }, chasePolicy(app.config), app.clock.now());
    expect(chase.created).toBe(1);

    // Day 1: collections (and, for ZTO, only a courier assigned to collect).
    sf.push({ time: at('2026-11-11 15:00'), context: '顺丰速运 已收取快件', status: '揽收', statusCode: '1' });
    yto.push({ time: at('2026-11-11 16:00'), context: '【江苏省苏州市北桥公司】 已揽收', status: '揽收', statusCode: '1' });
    zto.push({ time: at('2026-11-11 09:30'), context: '揽收任务已分配给李四，联系电话：13900000000' });
    sto.push({ AcceptTime: at('2026-11-11 18:00'), AcceptStation: '【收件】【浙江杭州萧山公司】已收件', Action: '1', Location: '杭州市' });
    await cycle('2026-11-11 20:00');

    // Day 2 morning: SF out for delivery ("please get ready to sign": not a signature), YTO 疑难, STO reaches its first centre.
    sf.push({ time: at('2026-11-12 02:00'), context: '快件到达 【深圳宝安集散中心】', status: '在途', statusCode: '0' });
    sf.push({ time: at('2026-11-12 08:40'), context: '快件交给张三，正在派送途中,请您准备签收（联系电话：13800000001）', status: '派件', statusCode: '5' });
    sfState = '5';
    yto.push({ time: at('2026-11-12 08:00'), context: '快件地址不详，无法派送，请联系寄件方', status: '疑难', statusCode: '2' });
    ytoState = '2';
    sto.push({ AcceptTime: at('2026-11-11 23:00'), AcceptStation: '【发件】【浙江杭州萧山公司】已发往【杭州转运中心】', Action: '2', Location: '杭州市' });
    sto.push({ AcceptTime: at('2026-11-12 03:00'), AcceptStation: '【到件】快件已到达【杭州转运中心】', Action: '2', Location: '杭州市' });
    stoState = '2';
    await cycle('2026-11-12 09:00');
    sfPollsWhenOutForDelivery = polls(k100, NO.sf);

    // Day 2 afternoon: the STO parcel is loaded at the same centre, then reaches Beijing.
    sto.push({ AcceptTime: at('2026-11-12 05:00'), AcceptStation: '【装车】【杭州转运中心】已装车，发往【北京转运中心】', Action: '2', Location: '杭州市' });
    sto.push({ AcceptTime: at('2026-11-12 14:00'), AcceptStation: '【到件】快件已到达【北京转运中心】', Action: '2', Location: '北京市' });
    await cycle('2026-11-12 15:00');

    // Day 3: the STO parcel leaves the centre for the outlet, arrives, then goes out for delivery.
    sto.push({ AcceptTime: at('2026-11-12 16:00'), AcceptStation: '【发件】快件已从【北京转运中心】发出，发往【北京朝阳望京网点】', Action: '2', Location: '北京市' });
    sto.push({ AcceptTime: at('2026-11-13 07:00'), AcceptStation: '【到件】快件已到达【北京朝阳望京网点】', Action: '2', Location: '北京市' });
    await cycle('2026-11-13 10:00');
    sto.push({ AcceptTime: at('2026-11-13 14:00'), AcceptStation: '【派件】【北京朝阳望京网点】的派件员【王五】（电话：13800000002）正在派件', Action: '202', Location: '北京市' });
    stoState = '202';
    await cycle('2026-11-13 15:00');

    // Past the ZTO order's 72 h ship deadline (paid 11-11 00:05), then past 72 h since the SF collection.
    await cycle('2026-11-14 01:00');
    await cycle('2026-11-14 19:00');
  }, 300_000);

  afterAll(async () => {
    await app?.close();
    await Promise.all([k100?.close(), kdn?.close(), sink?.close()]);
  });

  it('"请您准备签收" is not a signature: the parcel keeps being polled and opens undelivered_3d', async () => {
    const v = await view(NO.sf);
    expect(v.status).not.toBe('delivered');
    expect(v.deliveredAt).toBeNull();
    expect(v.events.at(-1)).toMatchObject({ status: 'out_for_delivery' });
    expect(v.nextPollAt).not.toBeNull();
    // Polled at every cycle after the out-for-delivery event arrived, the last one included …
    expect(polls(k100, NO.sf) - sfPollsWhenOutForDelivery).toBe(5);
    expect(v.lastPolledAt).toBe('2026-11-14T11:00:00.000Z');
    // … and 72 h after collection (11-11 15:00) the parcel is flagged undelivered.
    expect(openTypes(v)).toContain('undelivered_3d');
  });

  it('a 疑难 "无法派送" event opens carrier_problem', async () => {
    const v = await view(NO.yto);
    expect(v.events.at(-1)).toMatchObject({ text: '快件地址不详，无法派送，请联系寄件方', status: 'problem' });
    expect(v.status).toBe('problem');
    expect(openTypes(v)).toContain('carrier_problem');
  });

  it('"揽收任务已分配给…" is not a collection: the 72-hour clock runs into a late_shipment breach', async () => {
    const v = await view(NO.zto);
    expect(v.collectedAt).toBeNull();
    expect(v.events).toHaveLength(1);
    expect(v.events[0]!.status).not.toBe('collected');
    const late = v.exceptions.find((x) => x.type === 'late_shipment' && x.status === 'open');
    expect(late, JSON.stringify(v.exceptions)).toBeDefined();
    expect(late!.severity).toBe('breach');
    expect(late!.deadlineAt).toBe('2026-11-13T16:05:00.000Z');
  });

  it('a chased STO parcel relayed by Kdniao: one hub_moved push per real site, none for a scan-type tag', async () => {
    const sent = pushes().filter((p) => p.trackingNo === NO.sto);
    const hubs = sent.filter((p) => p.event === 'customer.hub_moved').map((p) => p.hub);
    expect(hubs).toEqual(['杭州转运中心', '北京转运中心', '北京朝阳望京网点']);
    expect(sent.filter((p) => p.event === 'customer.out_for_delivery')).toHaveLength(1);
    const v = await view(NO.sto);
    const TAGS = ['收件', '发件', '到件', '派件', '装车', '王五'];
    for (const e of v.events) expect(TAGS, `hub of ${e.text}`).not.toContain(e.hub);
    expect(v.events.map((e) => e.hub)).toEqual([
      '浙江杭州萧山公司',
      '浙江杭州萧山公司',
      '杭州转运中心',
      '杭州转运中心',
      '北京转运中心',
      '北京转运中心',
      '北京朝阳望京网点',
      '北京朝阳望京网点',
    ]);
    expect(v.status).toBe('out_for_delivery');
    // Every notification was signed.
    for (const r of sink.requests.filter((q) => q.url === '/customer')) expect(sink.verify(r, SECRET)).toBe(true);
  });

  it('shipment show explains every parcel above: each event with the rule or code that decided it', async () => {
    for (const [key, num] of Object.entries(NO)) {
      const v = await view(num);
      for (const e of v.events) expect(e.rule ?? '', `${key}: rule of "${e.text}" (${e.status})`).toMatch(/\S/);
      let out = '';
      const code = await explainCommand(app.config, 'shipment', ['show', num], app.clock, { out: (t) => void (out += t), err: (t) => void (out += t) });
      expect(code).toBe(0);
      expect(out).toContain(`${num}  ${v.carrier}`);
      const rows = out.split('\n').filter((l) => /^2026-11-1\d \d\d:\d\d {2}/.test(l));
      expect(rows).toHaveLength(v.events.length);
      for (const [i, row] of rows.entries()) {
        expect(row).toContain(v.events[i]!.status);
        expect(row).not.toMatch(/\(not recorded\)|\(no rule matched\)/);
      }
      for (const t of openTypes(v)) expect(out).toMatch(new RegExp(`\\n${t} +\\w+ +open `));
    }
  });
});
