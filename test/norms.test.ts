import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normsForShipments } from '../db/queries/norms.js';
import { importNormSeeds } from '../ingest/import-norms.js';
import { refreshNorms } from '../jobs/refresh-norms.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { at, scriptedProvider, type ScriptedEvent } from './helpers/scripted-provider.js';

/** percentile_cont as Postgres defines it (linear interpolation between the closest ranks), computed here by hand. */
function pct(values: number[], p: number): number {
  const v = [...values].sort((a, b) => a - b);
  const pos = p * (v.length - 1);
  const lo = Math.floor(pos);
  return v[lo]! + (pos - lo) * ((v[Math.min(lo + 1, v.length - 1)] ?? v[lo]!) - v[lo]!);
}

interface Parcel {
  carrier: string;
  origin: string | null;
  destination: string | null;
  hours: number;
}

/** A delivered history written straight to Postgres: order, shipment (collected, delivered) and its events with locations. */
async function addHistory(app: TestApp, parcels: Parcel[], tag: string, collectedH = 0): Promise<void> {
  const sql = app.deps.sql;
  for (const [i, p] of parcels.entries()) {
    const [o] = await sql`insert into orders (platform, external_id, paid_at) values ('taobao', ${`${tag}-${i}`}, ${at(collectedH - 10)}) returning id`;
    const collected = at(collectedH);
    const delivered = at(collectedH + p.hours);
    const [s] = await sql`
      insert into shipments (order_id, carrier, tracking_no, collected_at, delivered_at, status)
      values (${o!.id}, ${p.carrier}, ${`${tag}${i}`}, ${collected}, ${delivered}, 'delivered') returning id`;
    await sql`
      insert into tracking_events (shipment_id, event_key, occurred_at, status, location, text, provider, seen_at) values
        (${s!.id}, 'c', ${collected}, 'collected', ${p.origin === null ? null : `浙江省${p.origin}余杭区`}, '已揽收', 'sandbox', ${collected}),
        (${s!.id}, 'd', ${delivered}, 'delivered', ${p.destination === null ? null : `${p.destination.replace('市', '')},${p.destination}`}, '已签收', 'sandbox', ${delivered})`;
  }
}

const route = (carrier: string, origin: string | null, destination: string | null, hours: number[]): Parcel[] =>
  hours.map((h) => ({ carrier, origin, destination, hours: h }));

describe('learned transit norms', () => {
  let app: TestApp;
  const hzBj = [10, 20, 30, 40, 50];
  const hzGz = [24, 48];
  const yto = [30, 60];
  const sfUnlocated = [12];
  beforeAll(async () => {
    app = await createTestApp({ norms: { minSamples: 5 } });
    await addHistory(app, [
      ...route('ZTO', '杭州市', '北京市', hzBj),
      ...route('ZTO', '杭州市', '广州市', hzGz),
      ...route('YTO', '上海市', '成都市', yto),
      ...route('SF', null, null, sfUnlocated),
    ], 'H');
  });
  afterAll(() => app.close());

  const norms = async () =>
    Object.fromEntries(
      (await app.deps.sql`select * from transit_norms where source = 'learned'`).map((r) => [
        `${r.carrier} ${r.origin}>${r.destination}`,
        { p50: r.p50_hours, p90: r.p90_hours, n: r.samples },
      ]),
    );

  it('samples every delivered parcel once and computes p50/p90 per route, per carrier and overall', async () => {
    const first = await refreshNorms(app.deps);
    expect(first.sampled).toBe(10);
    const n = await norms();
    const zto = [...hzBj, ...hzGz];
    const all = [...zto, ...yto, ...sfUnlocated];
    const close = (x: { p50: number; p90: number; n: number }, values: number[]) => {
      expect(x.n).toBe(values.length);
      expect(x.p50).toBeCloseTo(pct(values, 0.5), 6);
      expect(x.p90).toBeCloseTo(pct(values, 0.9), 6);
    };
    close(n['ZTO 杭州市>北京市']!, hzBj);
    close(n['ZTO 杭州市>广州市']!, hzGz);
    close(n['ZTO *>*']!, zto);
    close(n['YTO 上海市>成都市']!, yto);
    close(n['SF *>*']!, sfUnlocated);
    close(n['* *>*']!, all);
    // the unlocated SF parcel made no route of its own
    expect(Object.keys(n).filter((k) => k.startsWith('SF '))).toEqual(['SF *>*']);
    // nothing left pending: a second run samples nothing and touches nothing
    expect(await refreshNorms(app.deps)).toEqual({ sampled: 0, normsUpdated: 0 });
  });

  it('recomputes only the routes a new delivery touched (plus its carrier and the global norm)', async () => {
    const before = await app.deps.sql`select carrier, origin, destination, updated_at from transit_norms where source = 'learned'`;
    app.clock.set(at(500));
    await addHistory(app, route('ZTO', '杭州市', '广州市', [36]), 'I', 200);
    const r = await refreshNorms(app.deps);
    expect(r).toEqual({ sampled: 1, normsUpdated: 3 });
    const after = await app.deps.sql`select carrier, origin, destination, updated_at from transit_norms where source = 'learned'`;
    const moved = after.filter((a) => a.updated_at.getTime() === at(500).getTime()).map((a) => `${a.carrier} ${a.origin}>${a.destination}`);
    expect(moved.sort()).toEqual(['* *>*', 'ZTO *>*', 'ZTO 杭州市>广州市']);
    expect(after).toHaveLength(before.length);
    expect((await norms())['ZTO 杭州市>广州市']).toMatchObject({ n: 3, p50: pct([...hzGz, 36], 0.5) });
  });

  it('falls back from route to carrier to global below norms.minSamples, and a seed stands in at its level', async () => {
    // in transit: a parcel whose events name the destination end (out for delivery in 北京), one whose do not
    const sql = app.deps.sql;
    const mk = async (tag: string, carrier: string, events: { status: string; location: string }[]) => {
      const [o] = await sql`insert into orders (platform, external_id, paid_at) values ('taobao', ${tag}, ${at(0)}) returning id`;
      const [s] = await sql`insert into shipments (order_id, carrier, tracking_no, collected_at, status) values (${o!.id}, ${carrier}, ${tag}, ${at(1)}, 'in_transit') returning id`;
      for (const [i, e] of events.entries()) {
        await sql`insert into tracking_events (shipment_id, event_key, occurred_at, status, location, text, provider, seen_at)
                  values (${s!.id}, ${String(i)}, ${at(1 + i)}, ${e.status}, ${e.location}, 'x', 'sandbox', ${at(1 + i)})`;
      }
      return Number(s!.id);
    };
    const toBj = await mk('T1', 'ZTO', [{ status: 'collected', location: '浙江省杭州市' }, { status: 'out_for_delivery', location: '北京市朝阳区' }]);
    const toGz = await mk('T2', 'ZTO', [{ status: 'collected', location: '浙江省杭州市' }, { status: 'out_for_delivery', location: '广东省广州市' }]);
    const unknownDest = await mk('T3', 'ZTO', [{ status: 'collected', location: '浙江省杭州市' }]);
    const yto = await mk('T4', 'YTO', [{ status: 'collected', location: '上海市' }, { status: 'out_for_delivery', location: '四川省成都市' }]);
    const got = await normsForShipments(sql, [toBj, toGz, unknownDest, yto], app.config.norms.minSamples);
    expect(got.get(toBj)).toMatchObject({ level: 'route', origin: '杭州市', destination: '北京市', samples: 5, source: 'learned' });
    expect(got.get(toGz)).toMatchObject({ level: 'carrier', carrier: 'ZTO', samples: 8, routeOrigin: '杭州市', routeDestination: '广州市' });
    expect(got.get(unknownDest)).toMatchObject({ level: 'carrier', carrier: 'ZTO', routeDestination: null });
    expect(got.get(yto)).toMatchObject({ level: 'global', carrier: '*', samples: 11 });

    // a seed for YTO carrier-wide and one for the ZTO 杭州→广州 route: each stands in at its level
    const dir = mkdtempSync(join(tmpdir(), 'norms-'));
    const file = join(dir, 'seed.csv');
    writeFileSync(
      file,
      '\ufeffcarrier,origin,destination,p50Hours,p90Hours,samples\n圆通,,,40,70,300\nZTO,杭州市,广州市,30,50,\nXX,,,10,20,1\nSF,杭州市,,10,20,1\nZTO,,,50,40,1\n',
    );
    const s = await importNormSeeds({ sql, clock: app.clock, file });
    expect(s).toMatchObject({ rows: 5, upserted: 2, rejectedRows: 3 });
    const report = readFileSync(s.errorReport!, 'utf8');
    expect(report).toMatch(/^4,XX,.*unknown carrier/m);
    expect(report).toMatch(/^5,SF,.*needs both origin and destination/m);
    expect(report).toMatch(/^6,ZTO,.*p90Hours is below p50Hours/m);
    // idempotent: the same file again changes nothing
    expect((await importNormSeeds({ sql, clock: app.clock, file })).upserted).toBe(0);

    const seeded = await normsForShipments(sql, [toGz, yto, toBj], app.config.norms.minSamples);
    expect(seeded.get(toGz)).toMatchObject({ level: 'route', source: 'seed', p50Hours: 30, p90Hours: 50 });
    expect(seeded.get(yto)).toMatchObject({ level: 'carrier', source: 'seed', carrier: 'YTO', p90Hours: 70 });
    // a learned route norm with enough samples still wins over everything above it
    expect(seeded.get(toBj)).toMatchObject({ level: 'route', source: 'learned' });
  });
});

describe('route_overdue through run-once', () => {
  let app: TestApp;
  // ZTO carrier-wide seed: p50 30 h, p90 40 h; factor 1.2 → warning at 48 h after collection, critical (×2) at 80 h
  const COLLECTED = 10;
  const SCRIPT = new Map<string, ScriptedEvent[]>([
    [
      'PWR00000001',
      [
        { h: COLLECTED, status: 'collected', text: '【杭州】快件已揽收', hub: '杭州', location: '浙江省杭州市' },
        { h: 20, status: 'in_transit', text: '快件已到达【杭州转运中心】', hub: '杭州转运中心', location: '浙江省杭州市' },
        { h: 95, status: 'delivered', text: '快件已签收', hub: '北京朝阳', location: '北京市朝阳区' },
      ],
    ],
  ]);
  beforeAll(async () => {
    app = await createTestApp({ norms: { minSamples: 5 }, rules: { routeOverdue: { factor: 1.2, criticalFactor: 2 } } });
    app.deps.providers.set('sandbox', scriptedProvider(SCRIPT));
    await app.deps.sql`insert into transit_norms (source, carrier, origin, destination, p50_hours, p90_hours, samples, updated_at)
                       values ('seed', 'ZTO', '*', '*', 30, 40, 0, now())`;
    await app.addOrders([
      {
        orderId: 'R1',
        platform: 'taobao',
        paidAt: at(0).toISOString(),
        amount: 100,
        customer: { name: '王芳', phone: '13800138000', handle: 'wf' },
        shipments: [{ carrier: 'ZTO', trackingNo: 'PWR00000001', markedShippedAt: at(5).toISOString() }],
      },
    ]);
  });
  afterAll(() => app.close());

  const routeOverdue = async () =>
    app.deps.sql`select status, severity, details, resolution, opened_at, resolved_at from exceptions where type = 'route_overdue' order by id`;

  it('opens at p90 × factor, escalates at p90 × criticalFactor and resolves on delivery', async () => {
    await app.cycle(at(COLLECTED + 1).toISOString());
    expect(await routeOverdue()).toHaveLength(0);
    // the next check is exactly the warning instant
    const [sched] = await app.deps.sql`select c.next_check_at from shipment_schedule c join shipments s on s.id = c.shipment_id where s.tracking_no = 'PWR00000001'`;
    expect(sched!.next_check_at.getTime()).toBe(at(COLLECTED + 48).getTime());

    await app.cycle(new Date(at(COLLECTED + 48).getTime() - 1000).toISOString());
    expect(await routeOverdue()).toHaveLength(0);

    await app.cycle(at(COLLECTED + 48).toISOString());
    const [opened] = await routeOverdue();
    expect(opened).toMatchObject({ status: 'open', severity: 'warning' });
    expect(opened!.details).toMatchObject({
      thresholdHours: 48,
      hoursSinceCollected: 48,
      norm: { level: 'carrier', source: 'seed', carrier: 'ZTO', p50Hours: 30, p90Hours: 40 },
      route: { origin: '杭州市', destination: null },
    });
    // the agent's script says what is usual on this route (p50 30 h → 2 days), not the flat normalTransitDays
    const [task] = await app.deps.sql`select type, script from outreach_tasks`;
    expect(task).toMatchObject({ type: 'route_overdue' });
    expect(task!.script).toContain('通常 2 天左右送达');

    // replaying the same instant changes nothing
    await app.cycle(at(COLLECTED + 48).toISOString());
    expect(await routeOverdue()).toHaveLength(1);

    await app.cycle(at(COLLECTED + 80).toISOString());
    expect((await routeOverdue())[0]).toMatchObject({ status: 'open', severity: 'critical' });

    await app.cycle(at(96).toISOString());
    const [resolved] = await routeOverdue();
    expect(resolved).toMatchObject({ status: 'resolved', resolution: 'delivered' });
    expect(resolved!.resolved_at.getTime()).toBe(at(96).getTime());
    // and the delivery became a learned sample of its route
    const [sample] = await app.deps.sql`select carrier, origin, destination, hours from transit_samples`;
    expect(sample).toMatchObject({ carrier: 'ZTO', origin: '杭州市', destination: '北京市', hours: 95 - COLLECTED });
  });
});
