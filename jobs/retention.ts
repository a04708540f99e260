import { z } from 'zod';
import type postgres from 'postgres';
import type { Config } from '../config/schema.js';
import type { Sql } from '../db/client.js';
import { TERMINAL_STATUSES } from '../domain/status.js';
import { defineJob, type Deps, type JobContext } from './define-job.js';

const TERMINAL = [...TERMINAL_STATUSES];

/**
 * One pass of the retention job: the rows of one table that one age setting lets go.
 *
 * Every pass walks its *parents* (finished shipments, resolved exceptions, closed tasks, ended chases;
 * for quarantine and alerts the rows themselves) in id order from a cursor, so a run is one walk over
 * each table however much is left, and each batch is a single statement: its own short transaction.
 * The parents are taken FOR NO KEY UPDATE SKIP LOCKED: a second replica running at the same moment
 * takes other parents instead of doing the same work twice (and a foreign-key insert elsewhere, which
 * only needs KEY SHARE, is never blocked). The eligibility test is the same as the deletion test, so a
 * second run finds nothing and removes nothing.
 *
 * Nothing references the rows removed here (tracking_events, exception_history, outreach_deliveries,
 * notifications, poll_quarantine, push_receipts, alerts are leaves of the foreign-key graph); the parents themselves
 * (orders, shipments, exceptions, tasks, chases) are kept, so every parcel stays explainable.
 */
interface Pass {
  /** Summary key (run-once totals, logs). */
  key: string;
  table: string;
  action: 'deleted' | 'raw_cleared';
  days: (c: Config) => number | null;
  /** One batch: the parents after `afterId` (at most `limit`), their rows removed; null lastId = nothing left. */
  batch(sql: Sql, cutoff: Date, afterId: number, limit: number): Promise<{ lastId: number | null; rows: number }>;
}

/**
 * A shipment whose data may go: finished (delivered, returned, cancelled) before the cutoff, and nothing
 * on it or its order still open: no open exception (on the parcel or order-level), no active task, no
 * active chase. A parcel that comes back to life (a late return scan) is judged on the next run.
 */
const finishedShipment = (sql: Sql, cutoff: Date, afterId: number) => sql`
  s.id > ${afterId}
  and s.status in ${sql(TERMINAL)}
  -- Finished before the cutoff by the carrier's clock AND last written by us before it: a parcel first
  -- polled long after its delivery (an imported back-catalogue) keeps its events for the full age.
  and greatest(coalesce(s.delivered_at, s.status_since), s.updated_at) < ${cutoff}
  and not exists (select 1 from exceptions x where x.order_id = s.order_id and x.status = 'open')
  and not exists (select 1 from outreach_tasks t where t.order_id = s.order_id and t.status in ('open', 'claimed'))
  and not exists (select 1 from chases c where c.shipment_id = s.id and c.status = 'active')`;

const summarise = (r: readonly { last_id: string | number | null; n: string | number }[]) => ({
  lastId: r[0]?.last_id == null ? null : Number(r[0].last_id),
  rows: Number(r[0]?.n ?? 0),
});

type Fragment = postgres.PendingQuery<postgres.Row[]>;

/**
 * The shape of every pass: `parents` selects the next `limit` parent ids after `afterId` (locked, in id
 * order) as CTE `p`; `change` removes or thins their rows (it reads `select id from p`) as one statement.
 */
const walk =
  (parents: (sql: Sql, cutoff: Date, afterId: number, limit: number) => Fragment, change: (sql: Sql) => Fragment): Pass['batch'] =>
  async (sql, cutoff, afterId, limit) =>
    summarise(await sql`
      with p as (${parents(sql, cutoff, afterId, limit)}),
      d as (${change(sql)} returning 1)
      select (select max(id) from p) as last_id, (select count(*) from d) as n`);

/** Finished shipments (see finishedShipment) that still have tracking events matching `events`. */
const finishedShipmentsWith = (events: (sql: Sql) => Fragment) => (sql: Sql, cutoff: Date, afterId: number, limit: number) => sql`
  select s.id from shipments s
  where ${finishedShipment(sql, cutoff, afterId)}
    and exists (select 1 from tracking_events e where e.shipment_id = s.id ${events(sql)})
  order by s.id limit ${limit}
  for no key update of s skip locked`;

/** Rows of a log-like table older than the cutoff, unless their parcel is still in flight (no parcel: age only). */
const agedRowsOfFinishedParcels = (table: 'poll_quarantine' | 'push_receipts', at: 'created_at' | 'received_at'): Pass['batch'] =>
  walk(
    (sql, cutoff, afterId, limit) => sql`
      select r.id from ${sql(table)} r
      where r.id > ${afterId} and r.${sql(at)} < ${cutoff}
        and (r.shipment_id is null or not exists (select 1 from shipments s where s.id = r.shipment_id and s.status not in ${sql(TERMINAL)}))
      order by r.id limit ${limit}
      for update of r skip locked`,
    (sql) => sql`delete from ${sql(table)} where id in (select id from p)`,
  );

export const RETENTION_PASSES: readonly Pass[] = [
  {
    key: 'rawJsonCleared',
    table: 'tracking_events',
    action: 'raw_cleared',
    days: (c) => c.retention.rawJsonDays,
    batch: walk(
      finishedShipmentsWith((sql) => sql`and e.raw is not null`),
      (sql) => sql`update tracking_events set raw = null where shipment_id in (select id from p) and raw is not null`,
    ),
  },
  {
    key: 'eventsDeleted',
    table: 'tracking_events',
    action: 'deleted',
    days: (c) => c.retention.eventsDays,
    batch: walk(
      finishedShipmentsWith((sql) => sql``),
      (sql) => sql`delete from tracking_events where shipment_id in (select id from p)`,
    ),
  },
  {
    key: 'exceptionHistoryDeleted',
    table: 'exception_history',
    action: 'deleted',
    days: (c) => c.retention.exceptionHistoryDays,
    batch: walk(
      (sql, cutoff, afterId, limit) => sql`
        select x.id from exceptions x
        where x.id > ${afterId} and x.status = 'resolved' and x.resolved_at < ${cutoff}
          and exists (select 1 from exception_history h where h.exception_id = x.id)
        order by x.id limit ${limit}
        for no key update of x skip locked`,
      (sql) => sql`delete from exception_history where exception_id in (select id from p)`,
    ),
  },
  {
    key: 'deliveriesDeleted',
    table: 'outreach_deliveries',
    action: 'deleted',
    days: (c) => c.retention.deliveriesDays,
    // Only settled rows (sent, failed) of tasks closed long ago: a pending or sending row is work in flight.
    batch: walk(
      (sql, cutoff, afterId, limit) => sql`
        select t.id from outreach_tasks t
        where t.id > ${afterId} and t.status in ('done', 'cancelled')
          and coalesce(t.completed_at, t.cancelled_at, t.updated_at) < ${cutoff}
          and exists (select 1 from outreach_deliveries o where o.task_id = t.id and o.status in ('sent', 'failed'))
        order by t.id limit ${limit}
        for no key update of t skip locked`,
      (sql) => sql`delete from outreach_deliveries where task_id in (select id from p) and status in ('sent', 'failed')`,
    ),
  },
  {
    key: 'notificationsDeleted',
    table: 'notifications',
    action: 'deleted',
    days: (c) => c.retention.notificationsDays,
    // An ended chase gets no new message, so its dedupe keys are no longer needed to stop a repeat.
    batch: walk(
      (sql, cutoff, afterId, limit) => sql`
        select c.id from chases c
        where c.id > ${afterId} and c.status = 'ended' and c.ended_at < ${cutoff}
          and exists (select 1 from notifications n where n.chase_id = c.id and n.status in ('sent', 'failed', 'superseded', 'capped'))
        order by c.id limit ${limit}
        for no key update of c skip locked`,
      (sql) => sql`delete from notifications where chase_id in (select id from p) and status in ('sent', 'failed', 'superseded', 'capped')`,
    ),
  },
  {
    key: 'quarantineDeleted',
    table: 'poll_quarantine',
    action: 'deleted',
    days: (c) => c.retention.quarantineDays,
    // A reply quarantined for a parcel still in flight may still explain why it is stuck: kept.
    batch: agedRowsOfFinishedParcels('poll_quarantine', 'created_at'),
  },
  {
    key: 'pushReceiptsDeleted',
    table: 'push_receipts',
    action: 'deleted',
    days: (c) => c.retention.pushReceiptsDays,
    // The audit of accepted pushes; the events they added live in tracking_events.
    batch: agedRowsOfFinishedParcels('push_receipts', 'received_at'),
  },
  {
    key: 'alertsDeleted',
    table: 'alerts',
    action: 'deleted',
    days: (c) => c.retention.alertsDays,
    batch: walk(
      (sql, cutoff, afterId, limit) => sql`
        select a.id from alerts a
        where a.id > ${afterId} and a.resolved_at is not null and a.resolved_at < ${cutoff}
        order by a.id limit ${limit}
        for update of a skip locked`,
      (sql) => sql`delete from alerts where id in (select id from p)`,
    ),
  },
];

/**
 * Run every pass with ages from config at the injected clock's now. Returns rows per pass and whether
 * the stop signal cut the run short (what was done is committed; the next run carries on).
 */
export async function applyRetention(deps: Deps, ctx: Pick<JobContext, 'signal'>): Promise<{ summary: Record<string, number>; stopped: boolean }> {
  const { sql, config, clock, metrics } = deps;
  const now = clock.now().getTime();
  // retentionBatches: statements run (one short transaction each), so the effect of batchSize shows in the summary.
  const summary: Record<string, number> = { retentionBatches: 0 };
  for (const pass of RETENTION_PASSES) {
    const days = pass.days(config);
    if (days === null) continue;
    const cutoff = new Date(now - days * 86_400_000);
    let afterId = 0;
    let total = 0;
    for (;;) {
      if (ctx.signal?.aborted) return { summary, stopped: true };
      const { lastId, rows } = await pass.batch(sql, cutoff, afterId, config.retention.batchSize);
      summary.retentionBatches! += 1;
      if (rows > 0) metrics.retentionRows.inc({ table: pass.table, action: pass.action }, rows);
      total += rows;
      summary[pass.key] = total;
      if (lastId === null) break;
      afterId = lastId;
    }
  }
  return { summary, stopped: false };
}

/** Daily: thin, then delete, the data of finished parcels and settled work, with the ages in `retention.*`. */
export const retention = defineJob({
  name: 'apply-retention',
  queue: 'schedules',
  payload: z.object({ slot: z.string().optional() }),
  schedule: (c) => c.retention.schedule,
  // Last in a run-once cycle: it only removes what every other job has finished with.
  cycleOrder: 90,
  async handle(_payload, deps, ctx) {
    const { summary, stopped } = await applyRetention(deps, ctx);
    ctx.log.info({ ...summary, stopped }, stopped ? 'retention stopped between batches (shutdown); the next run carries on' : 'retention applied');
    return { summary };
  },
});
