import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptedProvider, type ScriptedEvent } from './helpers/scripted-provider.js';
import { createDeps } from '../worker/deps.js';
import { createLogger } from '../worker/logger.js';
import { runOnce } from '../worker/run-once.js';
import { fixedClock } from '../domain/clock.js';
import { startDaemon, type Daemon } from '../worker/daemon.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { executeJob } from '../worker/runtime.js';
import { detectExceptions } from '../jobs/detect-exceptions.js';

/** Everything is paid at T0 (00:00 Shanghai on 11.11); instants are hours after it. */
const T0 = Date.parse('2026-11-11T00:00:00+08:00');
const at = (h: number) => new Date(T0 + h * 3_600_000);
const iso = (h: number) => at(h).toISOString();

const order = (id: string, shipments: { trackingNo: string; markedH: number }[], amount = 100) => ({
  orderId: id,
  platform: 'taobao',
  paidAt: iso(0),
  amount,
  customer: { name: '王芳', phone: '13800138000', handle: 'wf' },
  shipments: shipments.map((s) => ({ carrier: 'ZTO', trackingNo: s.trackingNo, markedShippedAt: iso(s.markedH) })),
});

const SCRIPT = new Map<string, ScriptedEvent[]>([
  ['PWA00000001', [{ h: 88, status: 'collected', text: '【杭州】快件已揽收', hub: '杭州' }]],
  ['PWB00000001', []],
  [
    'PWC00000001',
    [
      { h: 10, status: 'collected', text: '【杭州】快件已揽收', hub: '杭州' },
      { h: 20, status: 'in_transit', text: '快件已到达【杭州转运中心】', hub: '杭州转运中心' },
      // an older scan reported late: the parcel did not move, so tracking_stalled stays open
      { h: 15, status: 'in_transit', text: '快件离开【杭州】发往【杭州转运中心】', hub: '杭州', visibleH: 72 },
      { h: 90, status: 'arrived_at_hub', text: '快件已到达【上海转运中心】', hub: '上海转运中心' },
      { h: 100, status: 'delivered', text: '快件已签收，签收人：本人', hub: '上海浦东' },
    ],
  ],
  [
    'PWD00000001',
    [
      { h: 5, status: 'collected', text: '【杭州】快件已揽收', hub: '杭州' },
      { h: 30, status: 'rejected', text: '收件人拒签，快件将退回', hub: '上海浦东' },
    ],
  ],
  [
    'PWE00000001',
    [
      { h: 5, status: 'collected', text: '【杭州】快件已揽收', hub: '杭州' },
      { h: 30, status: 'out_for_delivery', text: '快件派送中，派送员：李四', hub: '上海浦东' },
      { h: 60, status: 'delivered', text: '快件已签收', hub: '上海浦东' },
    ],
  ],
  [
    'PWF00000001',
    [
      { h: 5, status: 'collected', text: '【杭州】快件已揽收', hub: '杭州' },
      { h: 20, status: 'at_pickup_point', text: '快件已存放至【菜鸟驿站】，请凭取件码取件', hub: '菜鸟驿站' },
      { h: 85, status: 'delivered', text: '已取件签收', hub: '菜鸟驿站' },
    ],
  ],
  [
    'PWG00000001',
    [
      { h: 5, status: 'collected', text: '【杭州】快件已揽收', hub: '杭州' },
      { h: 40, status: 'delivered', text: '快件已签收', hub: '上海' },
      // an older scan the carrier only reports after the signature
      { h: 30, status: 'in_transit', text: '快件已到达【上海转运中心】', hub: '上海转运中心', visibleH: 50 },
    ],
  ],
]);

type Row = [order: string, trackingNo: string | null, type: string, severity: string];

async function openSet(app: TestApp): Promise<Row[]> {
  const rows = await app.deps.sql`
    select o.external_id, s.tracking_no, e.type, e.severity
    from exceptions e join orders o on o.id = e.order_id left join shipments s on s.id = e.shipment_id
    where e.status = 'open' order by o.external_id, e.type`;
  return rows.map((r) => [r.external_id, r.tracking_no, r.type, r.severity]);
}

/** Make every unfinished shipment due for a poll (the poll policy is tested elsewhere). */
async function pollEverything(app: TestApp) {
  await app.deps.sql`update shipment_schedule c set next_poll_at = '1970-01-01' from shipments s where s.id = c.shipment_id and s.status <> 'delivered'`;
}

async function step(app: TestApp, h: number) {
  await pollEverything(app);
  const s = await app.cycle(iso(h));
  expect(s.failures).toEqual([]);
  return s;
}

describe('detection timeline through run-once', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp({}, iso(0));
    app.deps.providers.set('sandbox', scriptedProvider(SCRIPT));
    await app.addOrders([
      order('A', []),
      order('B', [{ trackingNo: 'PWB00000001', markedH: 2 }], 200),
      order('C', [{ trackingNo: 'PWC00000001', markedH: 8 }]),
      order('D', [{ trackingNo: 'PWD00000001', markedH: 4 }]),
      order('E', [{ trackingNo: 'PWE00000001', markedH: 4 }]),
      order('F', [{ trackingNo: 'PWF00000001', markedH: 4 }]),
      order('G', [{ trackingNo: 'PWG00000001', markedH: 4 }]),
    ]);
  });
  afterAll(() => app?.close());

  // The expected open set after each instant, and what each step opened/escalated/resolved.
  const B_FAKE_W: Row = ['B', 'PWB00000001', 'fake_shipment_risk', 'warning'];
  const B_FAKE_C: Row = ['B', 'PWB00000001', 'fake_shipment_risk', 'critical'];
  const D_PROB: Row = ['D', 'PWD00000001', 'carrier_problem', 'critical'];
  const timeline: { h: number; open: Row[]; opened: number; escalated: number; resolved: number }[] = [
    { h: 1, open: [], opened: 0, escalated: 0, resolved: 0 },
    { h: 25.99, open: [], opened: 0, escalated: 0, resolved: 0 },
    { h: 26, open: [B_FAKE_W], opened: 1, escalated: 0, resolved: 0 },
    { h: 30, open: [B_FAKE_W, D_PROB], opened: 1, escalated: 0, resolved: 0 },
    { h: 47.99, open: [B_FAKE_W, D_PROB], opened: 0, escalated: 0, resolved: 0 },
    {
      h: 48,
      open: [['A', null, 'late_shipment', 'warning'], ['B', 'PWB00000001', 'fake_shipment_risk', 'warning'], ['B', 'PWB00000001', 'late_shipment', 'warning'], D_PROB],
      opened: 2,
      escalated: 0,
      resolved: 0,
    },
    {
      h: 50,
      open: [['A', null, 'late_shipment', 'warning'], B_FAKE_C, ['B', 'PWB00000001', 'late_shipment', 'warning'], D_PROB],
      opened: 0,
      escalated: 1,
      resolved: 0,
    },
    {
      h: 54,
      open: [['A', null, 'late_shipment', 'warning'], B_FAKE_C, ['B', 'PWB00000001', 'late_shipment', 'warning'], D_PROB, ['E', 'PWE00000001', 'delivery_overdue', 'warning']],
      opened: 1,
      escalated: 0,
      resolved: 0,
    },
    {
      h: 60,
      open: [['A', null, 'late_shipment', 'critical'], B_FAKE_C, ['B', 'PWB00000001', 'late_shipment', 'critical'], D_PROB],
      opened: 0,
      escalated: 2,
      resolved: 1,
    },
    {
      h: 68,
      open: [
        ['A', null, 'late_shipment', 'critical'],
        B_FAKE_C,
        ['B', 'PWB00000001', 'late_shipment', 'critical'],
        ['C', 'PWC00000001', 'tracking_stalled', 'warning'],
        D_PROB,
        ['F', 'PWF00000001', 'pickup_overdue', 'warning'],
      ],
      opened: 2,
      escalated: 0,
      resolved: 0,
    },
    {
      h: 72,
      open: [
        ['A', null, 'late_shipment', 'breach'],
        B_FAKE_C,
        ['B', 'PWB00000001', 'late_shipment', 'breach'],
        ['C', 'PWC00000001', 'tracking_stalled', 'warning'],
        D_PROB,
        ['F', 'PWF00000001', 'pickup_overdue', 'warning'],
      ],
      opened: 0,
      escalated: 2,
      resolved: 0,
    },
    {
      h: 77,
      open: [
        ['A', null, 'late_shipment', 'breach'],
        B_FAKE_C,
        ['B', 'PWB00000001', 'late_shipment', 'breach'],
        ['C', 'PWC00000001', 'tracking_stalled', 'warning'],
        D_PROB,
        ['D', 'PWD00000001', 'undelivered_3d', 'warning'],
        ['F', 'PWF00000001', 'pickup_overdue', 'warning'],
        ['F', 'PWF00000001', 'undelivered_3d', 'warning'],
      ],
      opened: 2,
      escalated: 0,
      resolved: 0,
    },
  ];

  it('opens, escalates and resolves exactly the expected exceptions at each instant', async () => {
    for (const t of timeline) {
      const s = await step(app, t.h);
      expect(await openSet(app), `open at ${t.h} h`).toEqual(t.open);
      expect([s.totals.exceptionsOpened ?? 0, s.totals.exceptionsEscalated ?? 0, s.totals.exceptionsResolved ?? 0], `counts at ${t.h} h`).toEqual([
        t.opened,
        t.escalated,
        t.resolved,
      ]);
    }
    // The out-of-order scan of G (older than its signature) never un-delivered it.
    const [g] = await app.deps.sql`select status, delivered_at from shipments where tracking_no = 'PWG00000001'`;
    expect(g!.status).toBe('delivered');
    expect(g!.delivered_at.toISOString()).toBe(iso(40));
    const [c] = await app.deps.sql`select status, last_event_at, last_hub, collected_at, (select count(*)::int from tracking_events t where t.shipment_id = s.id) n
                                   from shipments s where tracking_no = 'PWC00000001'`;
    expect(c).toMatchObject({ status: 'in_transit', last_hub: '杭州转运中心', n: 3 });
    expect(c!.last_event_at.toISOString()).toBe(iso(20));
    expect(c!.collected_at.toISOString()).toBe(iso(10));
  });

  it('E: delivery_overdue resolved within the poll that saw the signature', async () => {
    const [e] = await app.deps.sql`
      select e.resolution, e.resolved_at from exceptions e join shipments s on s.id = e.shipment_id
      where s.tracking_no = 'PWE00000001' and e.type = 'delivery_overdue'`;
    expect(e!.resolved_at.toISOString()).toBe(iso(60));
    expect(e!.resolution).toBe('delivered');
  });

  it('a shipment registered on a late order: the order-level exception resolves, the shipment-level one continues', async () => {
    app.clock.set(iso(80));
    await app.addOrders([order('A', [{ trackingNo: 'PWA00000001', markedH: 79 }])]);
    const s = await step(app, 80);
    expect(s.totals['resolved.late_shipment']).toBe(1);
    expect(s.totals['opened.late_shipment']).toBe(1);
    const a = await app.deps.sql`
      select s.tracking_no, e.severity, e.status, e.resolution, e.penalty_yuan, e.deadline_at from exceptions e join orders o on o.id = e.order_id
      left join shipments s on s.id = e.shipment_id where o.external_id = 'A' order by e.id`;
    expect(a.map((r) => [r.tracking_no, r.severity, r.status])).toEqual([
      [null, 'breach', 'resolved'],
      ['PWA00000001', 'breach', 'open'],
    ]);
    expect(a[0]!.resolution).toMatch(/shipment registered/);
    expect(Number(a[1]!.penalty_yuan)).toBe(5);
    expect(a[1]!.deadline_at.toISOString()).toBe(iso(72));
  });

  it('continues: undelivered after 3 days, collection resolves late_shipment with the reason, tracking moves, deliveries resolve everything', async () => {
    let s = await step(app, 82);
    expect(s.totals['opened.undelivered_3d']).toBe(1); // C (collected at 10 h)
    s = await step(app, 85);
    // F signed: pickup_overdue and undelivered_3d both resolve within this one poll
    expect(s.totals['resolved.pickup_overdue']).toBe(1);
    expect(s.totals['resolved.undelivered_3d']).toBe(1);
    s = await step(app, 88);
    expect(s.totals['resolved.late_shipment']).toBe(1);
    const [a1] = await app.deps.sql`
      select e.resolution, e.resolved_at from exceptions e join shipments s on s.id = e.shipment_id where s.tracking_no = 'PWA00000001'`;
    expect(a1!.resolved_at.toISOString()).toBe(iso(88));
    expect(a1!.resolution).toBe(`collected by carrier at ${iso(88)}, late: 16 h after the ship deadline ${iso(72)}`);
    s = await step(app, 90);
    expect(s.totals['resolved.tracking_stalled']).toBe(1);
    const [c1] = await app.deps.sql`
      select e.resolution from exceptions e join shipments s on s.id = e.shipment_id where s.tracking_no = 'PWC00000001' and e.type = 'tracking_stalled'`;
    expect(c1!.resolution).toBe('tracking moved');
    s = await step(app, 100);
    expect(s.totals['resolved.undelivered_3d']).toBe(1);
    await step(app, 110);
    expect(await openSet(app)).toEqual([B_FAKE_C, ['B', 'PWB00000001', 'late_shipment', 'breach'], D_PROB, ['D', 'PWD00000001', 'undelivered_3d', 'warning']]);
    // every type was raised at some point
    const types = await app.deps.sql`select distinct type from exceptions order by type`;
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

  it('records each escalation with its time in exception_history', async () => {
    const hist = async (orderId: string, trackingNo: string | null) =>
      (
        await app.deps.sql`
          select h.action, h.from_severity, h.to_severity, h.at, h.note from exception_history h
          join exceptions e on e.id = h.exception_id join orders o on o.id = e.order_id left join shipments s on s.id = e.shipment_id
          where o.external_id = ${orderId} and e.type = 'late_shipment' and s.tracking_no is not distinct from ${trackingNo}
          order by h.at, h.id`
      ).map((r) => [r.action, r.from_severity, r.to_severity, r.at.toISOString()]);
    expect(await hist('B', 'PWB00000001')).toEqual([
      ['opened', null, 'warning', iso(48)],
      ['escalated', 'warning', 'critical', iso(60)],
      ['escalated', 'critical', 'breach', iso(72)],
    ]);
    expect(await hist('A', null)).toEqual([
      ['opened', null, 'warning', iso(48)],
      ['escalated', 'warning', 'critical', iso(60)],
      ['escalated', 'critical', 'breach', iso(72)],
      ['resolved', null, null, iso(80)],
    ]);
    const [esc] = await app.deps.sql`
      select e.escalated_at from exceptions e join shipments s on s.id = e.shipment_id where s.tracking_no = 'PWB00000001' and e.type = 'late_shipment'`;
    expect(esc!.escalated_at.toISOString()).toBe(iso(72));
  });

  it('the same instant twice writes nothing, and the repeat sweep reads nothing', async () => {
    const counts = async () =>
      (
        await app.deps.sql`select (select count(*) from exceptions)::int e, (select count(*) from exception_history)::int h,
                                  (select count(*) from tracking_events)::int t, (select count(*) from outreach_tasks)::int o`
      )[0];
    const before = await counts();
    const s = await app.cycle(iso(110));
    expect(s.failures).toEqual([]);
    expect(await counts()).toEqual(before);
    expect(s.totals.evaluated ?? 0).toBe(0);
    expect(s.totals.exceptionsOpened ?? 0).toBe(0);
    const now = at(110);
    const [due] = await app.deps.sql`
      select (select count(*) from shipment_schedule where next_check_at <= ${now})::int s, (select count(*) from orders where next_check_at <= ${now})::int o`;
    expect(due).toEqual({ s: 0, o: 0 });
  });

  describe('GET /api/exceptions', () => {
    let daemon: Daemon;
    let base: string;
    beforeAll(async () => {
      daemon = await startDaemon({ config: app.config, clock: fixedClock(iso(110)), log: createLogger('silent', { pretty: false }), role: 'api', migrate: false });
      base = `http://127.0.0.1:${daemon.http!.port}`;
    });
    afterAll(() => daemon?.stop());
    const get = async (q: string) => {
      const res = await fetch(`${base}/api/exceptions${q}`);
      expect(res.status, res.status === 200 ? q : `${q}: ${await res.clone().text()}`).toBe(200);
      return (await res.json()) as { items: any[]; nextCursor: string | null };
    };

    it('carries the contract fields; order-level items have a null trackingNo', async () => {
      const { items } = await get('?type=late_shipment');
      const a = items.find((i) => i.orderId === 'A' && i.trackingNo === null)!;
      expect(a).toMatchObject({
        orderId: 'A',
        trackingNo: null,
        carrier: null,
        type: 'late_shipment',
        severity: 'breach',
        status: 'resolved',
        openedAt: iso(48),
        penaltyYuan: 5,
      });
      expect(typeof a.id).toBe('number');
      expect(a.details).toMatchObject({ basis: 'paid_at+72h', penaltyPoints: 3 });
      const b = items.find((i) => i.trackingNo === 'PWB00000001')!;
      expect(b).toMatchObject({ orderId: 'B', carrier: 'ZTO', severity: 'breach', status: 'open', penaltyYuan: 10 });
    });

    it('filters by status, type, severity, carrier and since', async () => {
      const open = await get('?status=open');
      expect(open.items.map((i) => [i.orderId, i.type]).sort()).toEqual(
        [
          ['B', 'fake_shipment_risk'],
          ['B', 'late_shipment'],
          ['D', 'carrier_problem'],
          ['D', 'undelivered_3d'],
        ].sort(),
      );
      expect((await get('?status=resolved')).items.every((i) => i.status === 'resolved')).toBe(true);
      expect((await get('?status=resolved')).items).toHaveLength(7);
      expect((await get('?severity=critical&status=open')).items.map((i) => i.type).sort()).toEqual(['carrier_problem', 'fake_shipment_risk']);
      expect((await get('?carrier=ZTO')).items).toHaveLength(10);
      expect((await get('?carrier=SF')).items).toHaveLength(0);
      const since = await get(`?since=${encodeURIComponent(iso(77))}`);
      expect(since.items.map((i) => [i.orderId, i.type]).sort()).toEqual(
        [
          ['A', 'late_shipment'],
          ['C', 'undelivered_3d'],
          ['D', 'undelivered_3d'],
          ['F', 'undelivered_3d'],
        ].sort(),
      );
      const bad = await fetch(`${base}/api/exceptions?type=nope`);
      expect(bad.status).toBe(400);
    });

    it('pages with limit and nextCursor without gaps or repeats', async () => {
      const all = (await get('?limit=1000')).items.map((i) => i.id);
      expect(all).toHaveLength(11);
      const seen: number[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: { items: any[]; nextCursor: string | null } = await get(`?limit=4${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.items.length).toBeLessThanOrEqual(4);
        seen.push(...page.items.map((i) => i.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(3);
      expect(seen).toEqual(all);
    });

    it('every sort orders the whole list (not a page) and pages it without gaps or repeats', async () => {
      const SEV = ['info', 'warning', 'critical', 'breach'];
      const inOrder: Record<string, (a: any, b: any) => boolean> = {
        newest: (a, b) => a.id > b.id,
        oldest: (a, b) => a.id < b.id,
        severity: (a, b) => SEV.indexOf(a.severity) > SEV.indexOf(b.severity) || (a.severity === b.severity && a.id > b.id),
        penalty: (a, b) => (a.penaltyYuan ?? -1) > (b.penaltyYuan ?? -1) || ((a.penaltyYuan ?? -1) === (b.penaltyYuan ?? -1) && a.id > b.id),
        deadline: (a, b) => {
          const x = a.deadlineAt ? Date.parse(a.deadlineAt) : Infinity;
          const y = b.deadlineAt ? Date.parse(b.deadlineAt) : Infinity;
          return x < y || (x === y && a.id < b.id);
        },
      };
      const everything = (await get('?limit=1000')).items;
      // The fixture must make each sort differ from id order somewhere, or this test could pass on id order alone.
      expect(new Set(everything.map((i: any) => i.severity)).size).toBeGreaterThan(1);
      expect(everything.some((i: any) => i.penaltyYuan !== null)).toBe(true);
      expect(everything.some((i: any) => i.deadlineAt !== null)).toBe(true);
      for (const [sort, before] of Object.entries(inOrder)) {
        const whole = (await get(`?limit=1000&sort=${sort}`)).items;
        expect(whole.map((i: any) => i.id).sort(), sort).toEqual(everything.map((i: any) => i.id).sort());
        for (let i = 1; i < whole.length; i++) expect(before(whole[i - 1], whole[i]), `${sort} at ${i}`).toBe(true);
        const seen: number[] = [];
        let cursor: string | null = null;
        do {
          const page: { items: any[]; nextCursor: string | null } = await get(`?limit=3&sort=${sort}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
          seen.push(...page.items.map((i) => i.id));
          cursor = page.nextCursor;
        } while (cursor);
        expect(seen, sort).toEqual(whole.map((i: any) => i.id));
      }
      // A cursor belongs to its sort; a forged one is the caller's mistake, never a 500.
      const penaltyCursor = (await get('?limit=2&sort=penalty')).nextCursor as string;
      for (const q of [`sort=newest&cursor=${penaltyCursor}`, `sort=deadline&cursor=${penaltyCursor}`, 'sort=severity&cursor=abc', 'sort=penalty&cursor=WyJ4IiwxXQ']) {
        const res = await fetch(`${base}/api/exceptions?${q}`);
        expect(res.status, q).toBe(400);
      }
    });
  });
});

describe('unknown is not "no scan" (issue 13): a fresh book', () => {
  it('never-polled parcels are not judged on carrier facts; the first answer (no scan) makes them due and judged', async () => {
    const app = await createTestApp({}, iso(60));
    try {
      app.deps.providers.set('sandbox', scriptedProvider(new Map([['PWN00000001', []], ['PWN00000002', [{ h: 3, status: 'collected', text: '【杭州】快件已揽收', hub: '杭州' }, { h: 59, status: 'in_transit', text: '快件已到达【上海转运中心】', hub: '上海转运中心' }]]])));
      // Imported 60 h after payment, marked shipped at 2 h: had the carrier said "no scan", both would be late
      // and fake-shipment critical. Nobody has asked it yet.
      await app.addOrders([order('N1', [{ trackingNo: 'PWN00000001', markedH: 2 }]), order('N2', [{ trackingNo: 'PWN00000002', markedH: 2 }])]);
      const sweep = await executeJob(detectExceptions, {}, app.deps, { jobId: 'fresh', attempt: 1, enqueue: async () => {} });
      expect(sweep.summary!.evaluated).toBeGreaterThan(0);
      expect(await openSet(app)).toEqual([]);
      // The cycle polls them (N1: no scan, N2: collected at 3 h, moving) and judges on what the carrier said.
      await step(app, 60.1);
      expect(await openSet(app)).toEqual([
        ['N1', 'PWN00000001', 'fake_shipment_risk', 'critical'],
        ['N1', 'PWN00000001', 'late_shipment', 'critical'],
      ]);
    } finally {
      await app.close();
    }
  });
});

describe('two processes at once', () => {
  it('never open a duplicate or record an opening twice', async () => {
    const app = await createTestApp({}, iso(0));
    const log = createLogger('silent', { pretty: false });
    const others = await Promise.all([0, 1].map(() => createDeps(app.config, fixedClock(iso(0)), log)));
    try {
      const provider = scriptedProvider(SCRIPT);
      app.deps.providers.set('sandbox', provider);
      for (const o of others) o.deps.providers.set('sandbox', provider);
      await app.addOrders([
        order('A', []),
        order('B', [{ trackingNo: 'PWB00000001', markedH: 2 }], 200),
        order('C', [{ trackingNo: 'PWC00000001', markedH: 8 }]),
        order('D', [{ trackingNo: 'PWD00000001', markedH: 4 }]),
        order('F', [{ trackingNo: 'PWF00000001', markedH: 4 }]),
      ]);
      for (const h of [26, 30, 48, 60, 68, 72, 77, 85]) {
        await pollEverything(app);
        const clocks = others.map((o) => o.deps.clock as ReturnType<typeof fixedClock>);
        for (const c of clocks) c.set(iso(h));
        const results = await Promise.all(others.map((o) => runOnce(o.deps)));
        for (const r of results) expect(r.failures).toEqual([]);
      }
      const dupes = await app.deps.sql`
        select order_id, coalesce(shipment_id, 0) as s, type, count(*)::int n from exceptions where status = 'open'
        group by 1, 2, 3 having count(*) > 1`;
      expect(dupes).toEqual([]);
      const opened = await app.deps.sql`
        select e.id, count(h.id) filter (where h.action = 'opened')::int n from exceptions e left join exception_history h on h.exception_id = e.id group by e.id`;
      expect(opened.length).toBeGreaterThan(0);
      for (const r of opened) expect(r.n).toBe(1);
      expect(await openSet(app)).toEqual([
        ['A', null, 'late_shipment', 'breach'],
        ['B', 'PWB00000001', 'fake_shipment_risk', 'critical'],
        ['B', 'PWB00000001', 'late_shipment', 'breach'],
        ['C', 'PWC00000001', 'tracking_stalled', 'warning'],
        ['C', 'PWC00000001', 'undelivered_3d', 'warning'],
        ['D', 'PWD00000001', 'carrier_problem', 'critical'],
        ['D', 'PWD00000001', 'undelivered_3d', 'warning'],
      ]);
      // one history row per real escalation: A went warning → critical → breach once
      const [esc] = await app.deps.sql`
        select count(*)::int n from exception_history h join exceptions e on e.id = h.exception_id
        where e.shipment_id is null and h.action = 'escalated'`;
      expect(esc!.n).toBe(2);
    } finally {
      for (const o of others) await o.db.close();
      await app.close();
    }
  });
});
