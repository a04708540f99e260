import type { SqlOrTx as Sql } from '../client.js';
import type { SubjectFacts, Verdict } from '../../domain/facts.js';
import { DatabaseLock } from '../locks.js';

export interface OpenException {
  id: number;
  orderId: number;
  shipmentId: number | null;
  type: string;
  severity: string;
}

/** A subject row as the detection sweep reads it, with its lock held until the batch commits. */
type Row = Record<string, unknown>;

function toFacts(r: Row): SubjectFacts {
  return {
    orderId: Number(r.order_id),
    shipmentId: r.shipment_id === null ? null : Number(r.shipment_id),
    platform: r.platform as SubjectFacts['platform'],
    orderType: r.order_type as SubjectFacts['orderType'],
    paidAt: r.paid_at as Date,
    promisedShipBy: (r.promised_ship_by as Date | null) ?? null,
    amount: Number(r.amount),
    carrier: (r.carrier as string | null) ?? null,
    trackingNo: (r.tracking_no as string | null) ?? null,
    markedShippedAt: (r.marked_shipped_at as Date | null) ?? null,
    collectedAt: (r.collected_at as Date | null) ?? null,
    deliveredAt: (r.delivered_at as Date | null) ?? null,
    lastEventAt: (r.last_event_at as Date | null) ?? null,
    lastEventText: (r.last_event_text as string | null) ?? null,
    lastHub: (r.last_hub as string | null) ?? null,
    status: (r.status as SubjectFacts['status']) ?? 'pending',
    statusSince: (r.status_since as Date | null) ?? null,
    providerFlags: (r.provider_flags as string[] | null) ?? [],
    // The carrier answered: a poll reply or a push (either one is an answer about this parcel).
    lastQueriedAt: (r.last_answer_at as Date | null) ?? null,
  };
}

/** A claimed shipment subject and the version (xmin) of its schedule row when it was read. */
export type ClaimedShipment = SubjectFacts & { scheduleVersion: string };

/**
 * Claim up to `limit` shipments due for detection (or the given ids). Claims are transaction-scoped
 * advisory locks on the shipment id (DatabaseLock.DetectClaim), not row locks on shipment_schedule: the
 * schedule row also carries next_poll_at, and plan-polls (FOR UPDATE SKIP LOCKED on the same rows) planned
 * none of a sweep's parcels while the sweep held their rows for its whole batch (0 of 2,650 at one tick,
 * issue 13). Two sweeps (replicas, concurrent batches, a triggered run) still never judge one parcel at once.
 *
 * The candidates are read first (a bounded, ordered set) and locked one by one until `limit` are held; the
 * facts are then read in a statement of their own (fresh snapshot, still due?). A change made after that
 * (a poll saying "judge now", an order update) is not overwritten: the schedule row's version (xmin) is
 * read with the facts and setNextCheck writes only rows still at it. Must run inside a transaction.
 */
export async function claimShipmentSubjects(tx: Sql, now: Date, limit: number, ids?: number[]): Promise<ClaimedShipment[]> {
  const candidates = ids
    ? tx`select c.shipment_id from shipment_schedule c where c.shipment_id = any(${tx.array(ids)}::bigint[]) order by c.shipment_id`
    : // Room for the batches of other sweeps in flight (jobs.detectExceptions.concurrency, replicas) ahead of this one.
      tx`select c.shipment_id from shipment_schedule c where c.next_check_at <= ${now} order by c.next_check_at, c.shipment_id limit ${limit * 8}`;
  const claimed = await tx`
    with cand as materialized (${candidates})
    select shipment_id from cand
    where pg_try_advisory_xact_lock(${DatabaseLock.DetectClaim}::int, (shipment_id % 2147483647)::int)
    limit ${limit}`;
  if (claimed.length === 0) return [];
  // A second statement, so a second snapshot: it sees whatever the claim's previous holder committed (a sweep
  // that judged the parcel just now), and a parcel judged meanwhile is no longer due.
  const rows = await tx`
    select s.id as shipment_id, s.order_id, o.platform, o.type as order_type, o.paid_at, o.promised_ship_by, o.amount,
           s.carrier, s.tracking_no, s.marked_shipped_at, s.collected_at, s.delivered_at, s.last_event_at,
           s.last_event_text, s.last_hub, s.status, s.status_since, s.provider_flags, s.last_answer_at, c.xmin::text as version
    from shipment_schedule c join shipments s on s.id = c.shipment_id join orders o on o.id = s.order_id
    where c.shipment_id = any(${tx.array(claimed.map((r) => r.shipment_id as string))}::bigint[])
      ${ids ? tx`` : tx`and c.next_check_at <= ${now}`}
    order by c.next_check_at, c.shipment_id`;
  return rows.map((r) => ({ ...toFacts(r), scheduleVersion: r.version as string }));
}

/**
 * Claim orders due for an order-level check (or exactly `ids`). An order that has shipments (its own or a
 * merged parcel it shares, order_shipments) yields no subject: its order-level exceptions resolve, because each
 * shipment is judged on its own from then on.
 */
export async function claimOrderSubjects(tx: Sql, now: Date, limit: number, ids?: number[]): Promise<{ facts: SubjectFacts | null; orderId: number }[]> {
  const rows = await tx`
    select o.id as order_id, null::bigint as shipment_id, o.platform, o.type as order_type, o.paid_at, o.promised_ship_by, o.amount,
           exists (select 1 from order_shipments l where l.order_id = o.id) as has_shipments
    from orders o
    where ${ids ? tx`o.id = any(${tx.array(ids)}::bigint[])` : tx`o.next_check_at <= ${now}`}
    order by o.next_check_at
    limit ${limit}
    for update of o skip locked`;
  return rows.map((r) => ({ orderId: Number(r.order_id), facts: r.has_shipments ? null : toFacts(r) }));
}

/**
 * One lock order for every transaction that writes exceptions: ORDERS first (ascending id), THEN exception
 * rows (ascending id). sync-outreach locks its page's orders `FOR UPDATE` and then their open exceptions.
 * The shipment sweep used to lock the exceptions first (loadOpenExceptions) and reach the order only when it
 * inserted a new exception (the foreign key's `FOR KEY SHARE` on orders): exceptions → order against sync's
 * order → exceptions, a deadlock (seen once, issue 13). So the sweep takes that same key-share lock on its
 * subjects' orders up front, before any exception lock: it then waits for a sync page holding one of them
 * (short: no HTTP inside) while holding no exception, and sync's SKIP LOCKED passes over orders it holds.
 * KEY SHARE is the weakest row lock, the one the insert takes anyway: two sweeps never wait on each other.
 */
export async function lockSubjectOrders(tx: Sql, orderIds: number[]): Promise<void> {
  if (orderIds.length === 0) return;
  const ids = [...new Set(orderIds)].sort((a, b) => a - b);
  await tx`select id from orders where id = any(${tx.array(ids)}::bigint[]) order by id for key share`;
}

/**
 * The open exceptions of the claimed subjects, locked in id order (after their orders: lockSubjectOrders). Every transaction that writes several
 * exception rows (this sweep, sync-outreach) takes their locks in ascending id order up front, so two of
 * them can wait on each other but never deadlock.
 */
export async function loadOpenExceptions(tx: Sql, opts: { shipmentIds?: number[]; orderLevelOf?: number[] }): Promise<OpenException[]> {
  // By shipment: one index probe per parcel (shipment_id only) for the ids, then the rows by primary key in
  // id order, and "still open" checked here on the locked, current row. Asked directly (shipment_id = any(…)
  // and status = 'open'), the planner, trusting statistics from when the table was small, read every open
  // exception through a status index for each batch: a first sweep opening 150,000 exceptions slowed down
  // batch after batch. Nothing here offers it a status condition to do that with.
  const rows = opts.shipmentIds
    ? (
        await tx`select id, order_id, shipment_id, type, severity, status from exceptions
                 where id = any(array(
                   select x.id from unnest(${tx.array(opts.shipmentIds)}::bigint[]) as t(shipment_id)
                   -- offset 0: not flattened into a join, so it stays a probe per parcel whatever the estimates
                   cross join lateral (select id from exceptions x where x.shipment_id = t.shipment_id offset 0) x))
                 order by id for update`
      ).filter((r) => r.status === 'open')
    : await tx`select id, order_id, shipment_id, type, severity from exceptions
               where status = 'open' and shipment_id is null and order_id = any(${tx.array(opts.orderLevelOf ?? [])}::bigint[])
               order by id for update`;
  return rows.map((r) => ({
    id: Number(r.id),
    orderId: Number(r.order_id),
    shipmentId: r.shipment_id === null ? null : Number(r.shipment_id),
    type: r.type,
    severity: r.severity,
  }));
}

export interface NewException {
  facts: SubjectFacts;
  verdict: Verdict;
}

/** Opens exceptions; the partial unique index turns a concurrent duplicate into a no-op. Returns ids opened. */
export async function openExceptions(tx: Sql, items: NewException[], now: Date): Promise<{ id: number; type: string }[]> {
  if (items.length === 0) return [];
  const rows = await tx`
    with ins as (
      insert into exceptions (order_id, shipment_id, type, severity, status, opened_at, deadline_at, penalty_yuan, details, updated_at)
      select t.order_id, t.shipment_id, t.type, t.severity, 'open', ${now}::timestamptz, t.deadline_at, t.penalty, t.details, ${now}::timestamptz
      from unnest(${tx.array(items.map((i) => i.facts.orderId))}::bigint[],
                  ${tx.array(items.map((i) => i.facts.shipmentId) as number[])}::bigint[],
                  ${tx.array(items.map((i) => i.verdict.type))}::text[],
                  ${tx.array(items.map((i) => i.verdict.severity))}::text[],
                  ${tx.array(items.map((i) => i.verdict.deadlineAt?.toISOString() ?? null) as string[])}::timestamptz[],
                  ${tx.array(items.map((i) => (i.verdict.penaltyYuan === null ? null : String(i.verdict.penaltyYuan))) as string[])}::numeric[],
                  ${tx.array(items.map((i) => JSON.stringify(i.verdict.details)))}::jsonb[])
        as t(order_id, shipment_id, type, severity, deadline_at, penalty, details)
      on conflict (order_id, coalesce(shipment_id, 0), type) where status = 'open' do nothing
      returning id, type, severity
    ), hist as (
      insert into exception_history (exception_id, action, to_severity, at)
      select id, 'opened', severity, ${now}::timestamptz from ins
    )
    select id, type from ins`;
  return rows.map((r) => ({ id: Number(r.id), type: r.type }));
}

export async function escalateExceptions(tx: Sql, items: { id: number; from: string; verdict: Verdict }[], now: Date): Promise<void> {
  if (items.length === 0) return;
  await tx`
    with u as (
      update exceptions e set severity = t.severity, escalated_at = ${now}::timestamptz, details = t.details, change_seq = nextval('exception_change_seq'),
             penalty_yuan = coalesce(t.penalty, e.penalty_yuan), updated_at = ${now}::timestamptz
      from unnest(${tx.array(items.map((i) => i.id))}::bigint[],
                  ${tx.array(items.map((i) => i.verdict.severity))}::text[],
                  ${tx.array(items.map((i) => JSON.stringify(i.verdict.details)))}::jsonb[],
                  ${tx.array(items.map((i) => (i.verdict.penaltyYuan === null ? null : String(i.verdict.penaltyYuan))) as string[])}::numeric[],
                  ${tx.array(items.map((i) => i.from))}::text[])
        as t(id, severity, details, penalty, from_severity)
      where e.id = t.id and e.status = 'open'
      returning e.id, t.from_severity, t.severity
    )
    insert into exception_history (exception_id, action, from_severity, to_severity, at)
    select id, 'escalated', from_severity, severity, ${now}::timestamptz from u`;
}

export async function resolveExceptions(tx: Sql, items: { id: number; reason: string }[], now: Date): Promise<void> {
  if (items.length === 0) return;
  await tx`
    with u as (
      update exceptions e set status = 'resolved', resolved_at = ${now}::timestamptz, resolution = t.reason, updated_at = ${now}::timestamptz,
             change_seq = nextval('exception_change_seq')
      from unnest(${tx.array(items.map((i) => i.id))}::bigint[], ${tx.array(items.map((i) => i.reason))}::text[]) as t(id, reason)
      where e.id = t.id and e.status = 'open'
      returning e.id, t.reason
    )
    insert into exception_history (exception_id, action, note, at)
    select id, 'resolved', reason, ${now}::timestamptz from u`;
}

/**
 * Store each subject's next check. For shipments with a `version` (claimShipmentSubjects), only a row still at
 * that version is written, and a row another transaction holds right now is skipped (never waited for: the
 * sweep holds exception locks, so a wait here could close a cycle). A row left alone keeps its due time, or
 * the "judge now" another writer gave it, and is judged again by the next sweep: at worst a repeated verdict
 * (idempotent), never a change of facts left unjudged until a far-off check.
 */
export async function setNextCheck(tx: Sql, table: 'shipments' | 'orders', items: { id: number; at: Date | null; version?: string }[]): Promise<void> {
  if (items.length === 0) return;
  const ids = tx.array(items.map((i) => i.id));
  const ats = tx.array(items.map((i) => i.at?.toISOString() ?? null) as string[]);
  if (table === 'shipments') {
    const versions = tx.array(items.map((i) => i.version ?? null) as string[]);
    await tx`update shipment_schedule c set next_check_at = t.at
             from unnest(${ids}::bigint[], ${ats}::timestamptz[], ${versions}::text[]) as t(id, at, version)
             where c.shipment_id = t.id and c.next_check_at is distinct from t.at
               and (t.version is null or c.xmin = t.version::xid)
               and c.shipment_id in (select shipment_id from shipment_schedule where shipment_id = any(${ids}::bigint[]) order by shipment_id for update skip locked)`;
  } else {
    await tx`update orders o set next_check_at = t.at from unnest(${ids}::bigint[], ${ats}::timestamptz[]) as t(id, at)
             where o.id = t.id and o.next_check_at is distinct from t.at`;
  }
}
