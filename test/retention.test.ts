import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../config/schema.js';
import type { Sql } from '../db/client.js';
import type { Deps } from '../jobs/define-job.js';
import { retention } from '../jobs/retention.js';
import { createLogger } from '../worker/logger.js';
import { createTestApp, type TestApp } from './helpers/app.js';

/*
 * Retention on real Postgres: the data of finished work older than its age goes, everything young or
 * still in flight stays, a second run removes nothing, and each age setting moves the result.
 */

const NOW = '2027-06-01T12:00:00+08:00';
const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.parse(NOW) - days * DAY);
const silent = createLogger('silent', { pretty: false });

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp(undefined, NOW);
});
afterAll(async () => {
  await app.close();
});

/**
 * A small book, each parcel with 3 events carrying raw JSON:
 * - old: delivered 200 days ago, with a resolved exception (history), a done task (deliveries), an
 *   ended chase (notifications) and a quarantined reply; everything of it is past every default age;
 * - young: delivered 5 days ago, the same set of rows, all recent;
 * - flight: still in transit, events and a quarantined reply 200 days old;
 * - openException / activeTask / activeChase: delivered 200 days ago but with something still open.
 * Plus alerts: resolved 200 days ago, resolved 5 days ago, open since 200 days.
 */
async function seed(sql: Sql): Promise<Record<string, number>> {
  await sql`truncate orders, alerts, poll_quarantine, push_receipts restart identity cascade`;
  const ids: Record<string, number> = {};
  const parcel = async (name: string, status: string, finishedDaysAgo: number | null, eventsDaysAgo: number) => {
    const [o] = await sql`insert into orders (platform, external_id, paid_at) values ('taobao', ${name}, ${ago(eventsDaysAgo + 3)}) returning id`;
    const finished = finishedDaysAgo === null ? null : ago(finishedDaysAgo);
    const [s] = await sql`
      insert into shipments (order_id, carrier, tracking_no, status, status_since, delivered_at, updated_at)
      values (${o!.id}, 'SF', ${`SF${name}`}, ${status}, ${finished ?? ago(eventsDaysAgo)}, ${status === 'delivered' ? finished : null}, ${finished ?? ago(eventsDaysAgo)})
      returning id`;
    for (let i = 0; i < 3; i++) {
      const at = new Date(ago(eventsDaysAgo).getTime() + i * 3_600_000);
      await sql`
        insert into tracking_events (shipment_id, event_key, occurred_at, status, text, provider, raw, seen_at)
        values (${s!.id}, ${`${name}-${i}`}, ${at}, 'in_transit', ${`到达 ${i}`}, 'kuaidi100', ${sql.json({ context: `到达 ${i}`, ftime: at.toISOString() })}, ${at})`;
    }
    ids[name] = Number(s!.id);
    return { orderId: Number(o!.id), shipmentId: Number(s!.id) };
  };
  const settledWork = async (name: string, p: { orderId: number; shipmentId: number }, days: number) => {
    const [x] = await sql`
      insert into exceptions (order_id, shipment_id, type, severity, status, opened_at, resolved_at, updated_at)
      values (${p.orderId}, ${p.shipmentId}, 'tracking_stalled', 'warning', 'resolved', ${ago(days + 2)}, ${ago(days)}, ${ago(days)}) returning id`;
    await sql`insert into exception_history (exception_id, action, at) values (${x!.id}, 'opened', ${ago(days + 2)}), (${x!.id}, 'resolved', ${ago(days)})`;
    const [t] = await sql`
      insert into outreach_tasks (order_id, status, type, severity, priority, reason, script, due_by, created_at, updated_at, completed_at)
      values (${p.orderId}, 'done', 'tracking_stalled', 'warning', 2, 'r', 's', ${ago(days + 1)}, ${ago(days + 2)}, ${ago(days)}, ${ago(days)}) returning id`;
    await sql`
      insert into outreach_deliveries (task_id, channel, event, version, status, created_at, sent_at)
      values (${t!.id}, 'webhook', 'outreach.created', 1, 'sent', ${ago(days + 2)}, ${ago(days + 2)}),
             (${t!.id}, 'webhook', 'outreach.updated', 2, 'failed', ${ago(days)}, null)`;
    const [c] = await sql`
      insert into chases (shipment_id, contact, channel, status, registered_at, registered_after_event_id, ended_at, end_reason)
      values (${p.shipmentId}, '13800000000', 'webhook', 'ended', ${ago(days + 3)}, 0, ${ago(days)}, 'delivered') returning id`;
    await sql`
      insert into notifications (chase_id, dedupe_key, kind, contact, channel, message, status, send_after, created_at, sent_at)
      values (${c!.id}, ${`${name}-hub`}, 'hub_moved', '13800000000', 'webhook', 'm', 'sent', ${ago(days + 2)}, ${ago(days + 2)}, ${ago(days + 2)}),
             (${c!.id}, ${`${name}-done`}, 'delivered', '13800000000', 'webhook', 'm', 'superseded', ${ago(days)}, ${ago(days)}, null)`;
    await sql`insert into poll_quarantine (shipment_id, provider, error_kind, error, raw, created_at) values (${p.shipmentId}, 'kuaidi100', 'malformed', 'bad', '{', ${ago(days + 2)})`;
    await sql`insert into push_receipts (provider, tracking_no, shipment_id, kind, new_events, raw, received_at) values ('kuaidi100', ${`SF${name}`}, ${p.shipmentId}, 'polling', 3, '{}', ${ago(days + 1)})`;
  };

  await settledWork('old', await parcel('old', 'delivered', 200, 201), 200);
  await settledWork('young', await parcel('young', 'delivered', 5, 6), 5);
  const flight = await parcel('flight', 'in_transit', null, 200);
  await sql`insert into poll_quarantine (shipment_id, provider, error_kind, error, raw, created_at) values (${flight.shipmentId}, 'kuaidi100', 'malformed', 'bad', '{', ${ago(200)})`;
  await sql`insert into push_receipts (provider, tracking_no, shipment_id, kind, new_events, raw, received_at) values ('kuaidi100', 'SFflight', ${flight.shipmentId}, 'polling', 3, '{}', ${ago(200)})`;

  const openEx = await parcel('openException', 'delivered', 200, 201);
  const [ox] = await sql`
    insert into exceptions (order_id, shipment_id, type, severity, status, opened_at, updated_at)
    values (${openEx.orderId}, null, 'late_shipment', 'warning', 'open', ${ago(202)}, ${ago(202)}) returning id`;
  await sql`insert into exception_history (exception_id, action, at) values (${ox!.id}, 'opened', ${ago(202)})`;

  const task = await parcel('activeTask', 'returned', 200, 201);
  const [at] = await sql`
    insert into outreach_tasks (order_id, status, type, severity, priority, reason, script, due_by, created_at, updated_at)
    values (${task.orderId}, 'claimed', 'carrier_problem', 'critical', 1, 'r', 's', ${ago(199)}, ${ago(200)}, ${ago(200)}) returning id`;
  await sql`insert into outreach_deliveries (task_id, channel, event, version, status, created_at, sent_at) values (${at!.id}, 'webhook', 'outreach.created', 1, 'sent', ${ago(200)}, ${ago(200)})`;

  const chase = await parcel('activeChase', 'delivered', 200, 201);
  const [ac] = await sql`
    insert into chases (shipment_id, contact, channel, status, registered_at, registered_after_event_id)
    values (${chase.shipmentId}, '13900000000', 'webhook', 'active', ${ago(201)}, 0) returning id`;
  await sql`
    insert into notifications (chase_id, dedupe_key, kind, contact, channel, message, status, send_after, created_at, sent_at)
    values (${ac!.id}, 'activeChase-hub', 'hub_moved', '13900000000', 'webhook', 'm', 'sent', ${ago(201)}, ${ago(201)}, ${ago(201)})`;

  await sql`
    insert into alerts (key, message, first_at, last_at, resolved_at)
    values ('old', 'm', ${ago(201)}, ${ago(200)}, ${ago(200)}), ('young', 'm', ${ago(6)}, ${ago(5)}, ${ago(5)}), ('open', 'm', ${ago(200)}, ${ago(200)}, null)`;
  return ids;
}

/** What is left, per shipment name where it belongs to one. */
async function left(sql: Sql, ids: Record<string, number>) {
  const byShipment = async (q: Promise<readonly { shipment_id: string | number; n: number }[]>) => {
    const rows = await q;
    return Object.fromEntries(Object.entries(ids).map(([name, id]) => [name, rows.find((r) => Number(r.shipment_id) === id)?.n ?? 0]));
  };
  return {
    events: await byShipment(sql`select shipment_id, count(*)::int as n from tracking_events group by 1`),
    raw: await byShipment(sql`select shipment_id, count(*)::int as n from tracking_events where raw is not null group by 1`),
    history: await byShipment(sql`
      select coalesce(x.shipment_id, s.id) as shipment_id, count(*)::int as n from exception_history h
      join exceptions x on x.id = h.exception_id join shipments s on s.order_id = x.order_id group by 1`),
    deliveries: await byShipment(sql`
      select s.id as shipment_id, count(*)::int as n from outreach_deliveries d
      join outreach_tasks t on t.id = d.task_id join shipments s on s.order_id = t.order_id group by 1`),
    notifications: await byShipment(sql`select c.shipment_id, count(*)::int as n from notifications n join chases c on c.id = n.chase_id group by 1`),
    quarantine: await byShipment(sql`select shipment_id, count(*)::int as n from poll_quarantine group by 1`),
    pushReceipts: await byShipment(sql`select shipment_id, count(*)::int as n from push_receipts group by 1`),
    alerts: (await sql`select key from alerts order by key`).map((r) => r.key as string),
  };
}

const withRetention = (deps: Deps, r: Partial<Config['retention']>): Deps => ({ ...deps, config: { ...deps.config, retention: { ...deps.config.retention, ...r } } });
const run = (deps: Deps, signal?: AbortSignal) => retention.handle({}, deps, { log: silent, jobId: 'test', attempt: 1, enqueue: async () => {}, signal });

type AgeKey = Exclude<keyof Config['retention'], 'schedule' | 'batchSize'>;
const NOTHING_EXPIRES: Record<AgeKey, null> = {
  rawJsonDays: null,
  eventsDays: null,
  exceptionHistoryDays: null,
  deliveriesDays: null,
  notificationsDays: null,
  quarantineDays: null,
  pushReceiptsDays: null,
  alertsDays: null,
};

let ids: Record<string, number>;
beforeEach(async () => {
  app.clock.set(NOW);
  ids = await seed(app.deps.sql);
});

describe('retention', () => {
  it('removes the old data of finished work with the default ages, keeps young and in-flight data, and a second run removes nothing', async () => {
    const first = await run(app.deps);
    expect(first.summary).toMatchObject({
      rawJsonCleared: 3, // the raw pass runs first; then the old parcel's events go altogether
      eventsDeleted: 3,
      exceptionHistoryDeleted: 2,
      deliveriesDeleted: 2,
      notificationsDeleted: 2,
      quarantineDeleted: 1,
      pushReceiptsDeleted: 1,
      alertsDeleted: 1,
    });
    const after = await left(app.deps.sql, ids);
    const kept = { young: 3, flight: 3, openException: 3, activeTask: 3, activeChase: 3 };
    expect(after.events).toEqual({ old: 0, ...kept });
    expect(after.raw).toEqual({ old: 0, ...kept });
    expect(after.history).toMatchObject({ old: 0, young: 2, openException: 1 });
    expect(after.deliveries).toMatchObject({ old: 0, young: 2, activeTask: 1 });
    expect(after.notifications).toMatchObject({ old: 0, young: 2, activeChase: 1 });
    expect(after.quarantine).toMatchObject({ old: 0, young: 1, flight: 1 });
    expect(after.pushReceipts).toMatchObject({ old: 0, young: 1, flight: 1 });
    expect(after.alerts).toEqual(['open', 'young']);
    // Parents stay: every parcel and its exceptions, tasks and chases can still be explained.
    const [parents] = await app.deps.sql`
      select (select count(*) from shipments)::int as s, (select count(*) from exceptions)::int as x,
             (select count(*) from outreach_tasks)::int as t, (select count(*) from chases)::int as c`;
    expect(parents).toEqual({ s: 6, x: 3, t: 3, c: 3 });

    const again = await run(app.deps);
    const { retentionBatches, ...removed } = again.summary!;
    expect(Object.values(removed).every((n) => n === 0)).toBe(true);
    expect(Object.keys(removed)).toHaveLength(8);
    expect(retentionBatches).toBe(8); // one empty batch per pass
    expect(await left(app.deps.sql, ids)).toEqual(after);
  });

  it('runs in a run-once cycle (last, at the injected clock)', async () => {
    // Nothing due for polling or judging, so the other jobs leave the parcels' events alone (sync-outreach
    // may still settle the seeded open exception and task, which frees those parcels too).
    await app.deps.sql`update shipment_schedule set next_poll_at = null, next_check_at = null`;
    const cycle = await app.cycle(NOW);
    expect(cycle.failures).toEqual([]);
    expect(cycle.jobs['apply-retention']).toBe(1);
    expect(cycle.totals.eventsDeleted).toBeGreaterThanOrEqual(3);
    expect(cycle.totals.alertsDeleted).toBe(1);
    expect((await left(app.deps.sql, ids)).events).toMatchObject({ old: 0, young: 3, flight: 3 });
  });

  it('clears raw JSON before the events themselves go (rawJsonDays < age < eventsDays)', async () => {
    app.clock.set(new Date(Date.parse(NOW) - 100 * DAY)); // the old parcel finished 100 days before this instant
    const r = await run(app.deps);
    expect(r.summary).toMatchObject({ rawJsonCleared: 3, eventsDeleted: 0 });
    const after = await left(app.deps.sql, ids);
    expect(after.events.old).toBe(3);
    expect(after.raw.old).toBe(0);
    expect(after.raw.flight).toBe(3); // in flight: untouched however old its events are
  });

  const perKey: [AgeKey, string, (l: Awaited<ReturnType<typeof left>>) => unknown][] = [
    ['rawJsonDays', 'rawJsonCleared', (l) => [l.raw.old, l.events.old]],
    ['eventsDays', 'eventsDeleted', (l) => [l.raw.old, l.events.old]],
    ['exceptionHistoryDays', 'exceptionHistoryDeleted', (l) => l.history.old],
    ['deliveriesDays', 'deliveriesDeleted', (l) => l.deliveries.old],
    ['notificationsDays', 'notificationsDeleted', (l) => l.notifications.old],
    ['quarantineDays', 'quarantineDeleted', (l) => l.quarantine.old],
    ['pushReceiptsDays', 'pushReceiptsDeleted', (l) => l.pushReceipts.old],
    ['alertsDays', 'alertsDeleted', (l) => l.alerts],
  ];

  it.each(perKey)('%s takes effect: null keeps, an age past the rows keeps, an age under it removes only that kind', async (key, summaryKey, probe) => {
    const before = await left(app.deps.sql, ids);
    const none = await run(withRetention(app.deps, NOTHING_EXPIRES));
    expect(Object.keys(none.summary!)).toEqual(['retentionBatches']);
    const tooYoung = await run(withRetention(app.deps, { ...NOTHING_EXPIRES, [key]: 300 }));
    expect(tooYoung.summary![summaryKey]).toBe(0);
    expect(await left(app.deps.sql, ids)).toEqual(before);

    const r = await run(withRetention(app.deps, { ...NOTHING_EXPIRES, [key]: 100 }));
    expect(r.summary![summaryKey]).toBeGreaterThan(0);
    const after = await left(app.deps.sql, ids);
    expect(probe(after)).not.toEqual(probe(before));
    // Only that kind moved: the rest of the snapshot is what it was.
    const changed = (Object.keys(before) as (keyof typeof before)[]).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
    const expected = { rawJsonDays: ['raw'], eventsDays: ['events', 'raw'], exceptionHistoryDays: ['history'], deliveriesDays: ['deliveries'], notificationsDays: ['notifications'], quarantineDays: ['quarantine'], pushReceiptsDays: ['pushReceipts'], alertsDays: ['alerts'] }[key];
    expect(changed.sort()).toEqual(expected);
  });

  it('batchSize takes effect: one statement per batch, same result', async () => {
    const threeMoreOldParcels = async () => {
      for (const name of ['b1', 'b2', 'b3']) {
        const [o] = await app.deps.sql`insert into orders (platform, external_id, paid_at) values ('taobao', ${name}, ${ago(210)}) returning id`;
        const [s] = await app.deps.sql`
          insert into shipments (order_id, carrier, tracking_no, status, status_since, delivered_at) values (${o!.id}, 'SF', ${name}, 'delivered', ${ago(200)}, ${ago(200)}) returning id`;
        await app.deps.sql`
          insert into tracking_events (shipment_id, event_key, occurred_at, status, text, provider, seen_at) values (${s!.id}, 'k', ${ago(201)}, 'delivered', '签收', 'kdniao', ${ago(201)})`;
      }
    };
    // Four finished parcels old enough, batch of 1: the events pass alone takes 4 batches and a last empty one.
    await threeMoreOldParcels();
    const big = await run(withRetention(app.deps, { ...NOTHING_EXPIRES, eventsDays: 100 }));
    expect(big.summary).toEqual({ retentionBatches: 2, eventsDeleted: 6 });
    ids = await seed(app.deps.sql);
    await threeMoreOldParcels();
    const small = await run(withRetention(app.deps, { ...NOTHING_EXPIRES, eventsDays: 100, batchSize: 1 }));
    expect(small.summary).toEqual({ retentionBatches: 5, eventsDeleted: 6 });
  });

  it('stops between batches on the stop signal, keeps what it did, and the next run carries on', async () => {
    const stopping = new AbortController();
    const deps = withRetention(app.deps, { batchSize: 1 });
    // Stop once the first batch has removed something (the metric is bumped right after each batch).
    const counter = deps.metrics.retentionRows;
    const inc = counter.inc.bind(counter);
    deps.metrics = { ...deps.metrics, retentionRows: Object.assign(Object.create(counter), { inc: (...a: Parameters<typeof inc>) => (inc(...a), stopping.abort()) }) };
    const first = await run(deps, stopping.signal);
    expect(first.summary).toEqual({ retentionBatches: 1, rawJsonCleared: 3 });
    const rest = await run(withRetention(app.deps, { batchSize: 1 }));
    expect(rest.summary).toMatchObject({ rawJsonCleared: 0, eventsDeleted: 3, alertsDeleted: 1 });
  });

  it('two replicas at once remove each row once and fail nothing', async () => {
    const deps = withRetention(app.deps, { batchSize: 1 });
    const [a, b] = await Promise.all([run(deps), run(deps)]);
    const sum = (k: string) => (a.summary![k] ?? 0) + (b.summary![k] ?? 0);
    expect({
      events: sum('eventsDeleted'),
      history: sum('exceptionHistoryDeleted'),
      deliveries: sum('deliveriesDeleted'),
      notifications: sum('notificationsDeleted'),
      quarantine: sum('quarantineDeleted'),
      alerts: sum('alertsDeleted'),
    }).toEqual({ events: 3, history: 2, deliveries: 2, notifications: 2, quarantine: 1, alerts: 1 });
    const metric = await app.deps.metrics.registry.getSingleMetricAsString('parcelwatch_retention_rows_total');
    expect(metric).toMatch(/parcelwatch_retention_rows_total\{table="alerts",action="deleted"\} \d+/);
  });
});
