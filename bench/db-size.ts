/**
 * How large a database a season makes, with and without the default retention (README "Retention and
 * database size"). Re-run: `npx tsx bench/db-size.ts [parcels=10000]` (DATABASE_ADMIN_URL, default the
 * local postgres). It works in a scratch database `pw_dbsize` that it drops at the end.
 *
 * Method: a season of N parcels finished evenly over 90 days before SEASON_END, each with the bench
 * generator's Kuaidi100 timeline (6–10 events, raw JSON = the provider's event object as ingest stores
 * it); ~15 % with an exception (2 history rows) and a done outreach task (2 agent deliveries), ~5 %
 * chased (3 customer messages), 0.5 % a quarantined reply, a few alerts. Sizes are
 * pg_total_relation_size (heap + indexes + TOAST) after VACUUM FULL, so they show the live data, per
 * table, then scaled linearly to 1 M parcels. Measured three times: at season end with no retention, at
 * season end after the retention job with the default ages, and 120 days later (every parcel's events past
 * retention.eventsDays), after the job again. Use 10,000 parcels or more: in small samples the minimum size of
 * every index dominates.
 */
import postgres from 'postgres';
import { fixedClock } from '../domain/clock.js';
import { applyRetention } from '../jobs/retention.js';
import { createDeps } from '../worker/deps.js';
import { createLogger } from '../worker/logger.js';
import { DATA_TABLES, benchConfig, createBenchDb, dropBenchDb } from './context.js';
import { BENCH_NOW, rng, timeline } from './generate.js';

const DAY = 86_400_000;
const SEASON_END = new Date('2027-02-01T00:00:00Z');
const TABLES = [...DATA_TABLES, 'shipment_schedule'];

const adminUrl = process.env.DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const N = Number(process.argv[2] ?? 10_000);

async function seed(sql: postgres.Sql): Promise<void> {
  const r = rng(2026);
  const CHUNK = 500;
  for (let start = 0; start < N; start += CHUNK) {
    const idx = Array.from({ length: Math.min(CHUNK, N - start) }, (_, k) => start + k);
    const finishedAt = (i: number) => new Date(SEASON_END.getTime() - ((N - i) / N) * 90 * DAY);
    const orders = await sql`
      insert into orders ${sql(idx.map((i) => ({ platform: 'taobao', external_id: `S${i}`, paid_at: new Date(finishedAt(i).getTime() - 4 * DAY), amount: 88, customer_name: '王先生', customer_phone: `1390000${String(i % 10000).padStart(4, '0')}` })))}
      returning id`;
    const shipments = await sql`
      insert into shipments ${sql(idx.map((i, k) => ({ order_id: orders[k]!.id, carrier: 'ZTO', tracking_no: `7800${String(i).padStart(9, '0')}`, status: 'delivered', delivered_at: finishedAt(i), status_since: finishedAt(i), last_event_at: finishedAt(i), last_event_text: '快件已签收，签收人：本人', last_hub: '苏州转运中心', marked_shipped_at: new Date(finishedAt(i).getTime() - 3 * DAY), collected_at: new Date(finishedAt(i).getTime() - 3 * DAY) })))}
      returning id, order_id`;
    const events: Record<string, unknown>[] = [];
    idx.forEach((i, k) => {
      const tl = timeline(i);
      const shift = finishedAt(i).getTime() - tl[tl.length - 1]!.at.getTime();
      tl.forEach((e, j) => {
        const at = new Date(e.at.getTime() + shift);
        const wall = new Date(at.getTime() + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
        // What ingest stores as raw for Kuaidi100: the provider's own event object.
        const raw = { time: wall, ftime: wall, context: e.context, location: e.location, areaName: e.location, status: '在途', statusCode: e.statusCode };
        events.push({ shipment_id: shipments[k]!.id, event_key: `${i}-${j}-${e.statusCode}-${at.getTime().toString(36)}`, occurred_at: at, status: j === tl.length - 1 ? 'delivered' : 'in_transit', hub: e.context.includes('转运中心') ? '转运中心' : null, location: e.location, text: e.context, provider: 'kuaidi100', provider_code: e.statusCode, raw, seen_at: at });
      });
    });
    await sql`insert into tracking_events ${sql(events)}`;
    for (const [k, i] of idx.entries()) {
      const s = shipments[k]!;
      const done = finishedAt(i);
      if (r() < 0.15) {
        const [x] = await sql`
          insert into exceptions (order_id, shipment_id, type, severity, status, opened_at, resolved_at, resolution, details, updated_at)
          values (${s.order_id}, ${s.id}, 'tracking_stalled', 'warning', 'resolved', ${new Date(done.getTime() - 2 * DAY)}, ${done}, 'delivered', ${sql.json({ lastEventAt: done.toISOString(), hours: 52 })}, ${done}) returning id`;
        await sql`insert into exception_history (exception_id, action, to_severity, note, at) values (${x!.id}, 'opened', 'warning', '物流超过48小时未更新', ${new Date(done.getTime() - 2 * DAY)}), (${x!.id}, 'resolved', null, 'delivered', ${done})`;
        const [t] = await sql`
          insert into outreach_tasks (order_id, status, type, severity, priority, reason, script, due_by, agent, outcome, snapshot, created_at, updated_at, completed_at)
          values (${s.order_id}, 'done', 'tracking_stalled', 'warning', 2, '物流自 11-20 未更新（中通 780000000123，苏州转运中心）', '您好，这里是店铺客服，您的快递在苏州转运中心停留较久，我们已联系快递核实，请您放心。', ${done}, 'agent01', 'reassured',
            ${sql.json({ trackingNo: `7800${i}`, carrier: 'ZTO', lastEvent: '快件已到达【苏州转运中心】', exceptions: [{ type: 'tracking_stalled', severity: 'warning' }] })}, ${new Date(done.getTime() - 2 * DAY)}, ${done}, ${done}) returning id`;
        await sql`
          insert into outreach_deliveries (task_id, channel, event, version, status, attempts, created_at, sent_at)
          values (${t!.id}, 'webhook', 'outreach.created', 1, 'sent', 1, ${new Date(done.getTime() - 2 * DAY)}, ${new Date(done.getTime() - 2 * DAY)}),
                 (${t!.id}, 'webhook', 'outreach.cancelled', 2, 'sent', 1, ${done}, ${done})`;
      }
      if (r() < 0.05) {
        const [c] = await sql`
          insert into chases (shipment_id, contact, channel, status, end_reason, registered_at, registered_after_event_id, ended_at)
          values (${s.id}, '13900001234', 'webhook', 'ended', 'delivered', ${new Date(done.getTime() - 2 * DAY)}, 0, ${done}) returning id`;
        for (const [j, kind] of ['hub_moved', 'out_for_delivery', 'delivered'].entries())
          await sql`
            insert into notifications (chase_id, dedupe_key, kind, hub, contact, channel, message, status, attempts, send_after, created_at, sent_at)
            values (${c!.id}, ${`${c!.id}:${kind}`}, ${kind}, '苏州转运中心', '13900001234', 'webhook', '您好，您的快递已经中转到下一站了（苏州转运中心），相信很快就可以收到了。中通快递 780000000123', 'sent', 1,
              ${new Date(done.getTime() - (2 - j) * DAY)}, ${new Date(done.getTime() - (2 - j) * DAY)}, ${new Date(done.getTime() - (2 - j) * DAY)})`;
      }
      if (r() < 0.005)
        await sql`insert into poll_quarantine (shipment_id, provider, error_kind, error, raw, created_at) values (${s.id}, 'kuaidi100', 'malformed', 'data[3] has no parseable ftime', ${'{"message":"ok","state":"0","data":[' + '{"context":"…"},'.repeat(8) + ']}'}, ${new Date(done.getTime() - DAY)})`;
    }
  }
  for (let a = 0; a < Math.ceil(N / 2000); a++)
    await sql`insert into alerts (key, message, count, first_at, last_at, resolved_at) values (${`provider-transient:${a}`}, 'kuaidi100: 5 consecutive transient failures', 5, ${new Date(SEASON_END.getTime() - a * DAY)}, ${new Date(SEASON_END.getTime() - a * DAY)}, ${new Date(SEASON_END.getTime() - a * DAY)})`;
}

async function sizes(sql: postgres.Sql): Promise<Record<string, number>> {
  await sql.unsafe(`vacuum full analyze ${TABLES.join(', ')}`);
  const rows = await sql`select c.relname, pg_total_relation_size(c.oid)::bigint as bytes from pg_class c where c.relname in ${sql(TABLES)} and c.relkind = 'r'`;
  return Object.fromEntries(TABLES.map((t) => [t, Number(rows.find((r) => r.relname === t)?.bytes ?? 0)]));
}

const mb = (bytes: number) => (bytes / 1_048_576).toFixed(1);
const gb = (bytes: number) => (bytes / 1_073_741_824).toFixed(2);

async function main(): Promise<void> {
  const url = await createBenchDb(adminUrl, 'pw_dbsize');
  const clock = fixedClock(SEASON_END);
  const config = benchConfig(url, process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', 'pw-dbsize');
  const { deps, db } = await createDeps(config, clock, createLogger('silent', { pretty: false }));
  try {
    const t0 = performance.now();
    await seed(deps.sql as unknown as postgres.Sql);
    const [{ events }] = (await deps.sql`select count(*)::int as events from tracking_events`) as unknown as [{ events: number }];
    const seeded = Math.round(performance.now() - t0);
    const none = await sizes(deps.sql as unknown as postgres.Sql);
    const atEnd = await applyRetention(deps, {});
    const retained = await sizes(deps.sql as unknown as postgres.Sql);
    clock.set(new Date(SEASON_END.getTime() + 120 * DAY));
    const later = await applyRetention(deps, {});
    const steady = await sizes(deps.sql as unknown as postgres.Sql);
    const scale = 1_000_000 / N;
    const total = (s: Record<string, number>) => Object.values(s).reduce((a, b) => a + b, 0);
    console.log(`parcels ${N}, events ${events} (${(events / N).toFixed(1)}/parcel), seeded in ${seeded} ms; bench epoch ${BENCH_NOW.toISOString()}`);
    console.log(`retention at season end: ${JSON.stringify(atEnd.summary)}; 120 days later: ${JSON.stringify(later.summary)}`);
    console.log(`| table | no retention, MiB (${N}) | → 1 M parcels, GiB | default retention at season end, MiB | → 1 M, GiB | 120 days after season end, MiB | → 1 M, GiB |`);
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    for (const t of [...TABLES, 'total']) {
      const pick = (s: Record<string, number>) => (t === 'total' ? total(s) : s[t]!);
      console.log(`| ${t} | ${mb(pick(none))} | ${gb(pick(none) * scale)} | ${mb(pick(retained))} | ${gb(pick(retained) * scale)} | ${mb(pick(steady))} | ${gb(pick(steady) * scale)} |`);
    }
  } finally {
    await db.close();
    await dropBenchDb(adminUrl, 'pw_dbsize');
  }
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
