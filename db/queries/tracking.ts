import type { Sql } from '../client.js';
import type { Status } from '../../domain/status.js';
import type { ShipmentTrackState } from '../../domain/fold-events.js';
import { storableJsonText } from '../json-param.js';
import { storableText } from '../../ingest/text.js';

export interface ShipmentPollRow extends ShipmentTrackState {
  id: number;
  orderId: number;
  externalOrderId: string;
  platform: string;
  orderType: string;
  paidAt: Date;
  promisedShipBy: Date | null;
  phone: string | null;
  carrier: string;
  trackingNo: string;
  markedShippedAt: Date | null;
  lastPolledAt: Date | null;
  /** Last answer from the carrier about this parcel: a poll reply or a push (domain/facts.ts carrierAsked). */
  lastAnswerAt: Date | null;
  recentPolls: Date[];
  providerFlags: string[];
  chased: boolean;
}

/** Shipments of one poll job with what polling and ingestion need, in one round trip. */
export async function loadShipmentsForPoll(sql: Sql, ids: number[]): Promise<ShipmentPollRow[]> {
  const rows = await sql`
    select ${sql.unsafe(POLL_ROW_COLUMNS)}
    from shipments s join orders o on o.id = s.order_id
    where s.id = any(${sql.array(ids)}::bigint[])`;
  return rows.map(toPollRow);
}

/**
 * Every shipment holding one of these tracking numbers (a number may exist under two carriers), with what
 * ingestion needs, in id order: the push path's one read per batch (which shipment a pushed number is, and
 * its state to fold onto).
 */
export async function loadShipmentsByTrackingNo(sql: Sql, trackingNos: string[]): Promise<ShipmentPollRow[]> {
  if (trackingNos.length === 0) return [];
  const rows = await sql`
    select ${sql.unsafe(POLL_ROW_COLUMNS)}
    from shipments s join orders o on o.id = s.order_id
    where s.tracking_no = any(${sql.array([...new Set(trackingNos)])}::text[])
    order by s.id`;
  return rows.map(toPollRow);
}

const POLL_ROW_COLUMNS = `
  s.id, s.order_id, o.external_id, o.platform, o.type as order_type, o.paid_at, o.promised_ship_by,
  o.customer_phone, s.carrier, s.tracking_no, s.status, s.status_since, s.collected_at, s.delivered_at,
  s.last_event_at, s.last_event_text, s.last_hub, s.marked_shipped_at, s.last_polled_at, s.last_answer_at, s.recent_polls,
  s.provider_flags,
  exists (select 1 from chases c where c.shipment_id = s.id and c.status = 'active') as chased`;

function toPollRow(r: Record<string, any>): ShipmentPollRow {
  return {
    id: Number(r.id),
    orderId: Number(r.order_id),
    externalOrderId: r.external_id,
    platform: r.platform,
    orderType: r.order_type,
    paidAt: r.paid_at,
    promisedShipBy: r.promised_ship_by,
    phone: r.customer_phone,
    carrier: r.carrier,
    trackingNo: r.tracking_no,
    status: r.status,
    statusSince: r.status_since,
    collectedAt: r.collected_at,
    deliveredAt: r.delivered_at,
    lastEventAt: r.last_event_at,
    lastEventText: r.last_event_text,
    lastHub: r.last_hub,
    markedShippedAt: r.marked_shipped_at,
    lastPolledAt: r.last_polled_at,
    lastAnswerAt: r.last_answer_at,
    recentPolls: (r.recent_polls ?? []).map((d: string | Date) => new Date(d)),
    providerFlags: r.provider_flags ?? [],
    chased: r.chased,
  };
}

export interface EventRow {
  shipmentId: number;
  eventKey: string;
  occurredAt: Date;
  status: Status;
  hub: string | null;
  location: string | null;
  text: string;
  provider: string;
  providerCode: string | null;
  rule: string | null;
  raw: unknown;
}

export interface InsertedEvent {
  shipmentId: number;
  eventKey: string;
  occurredAt: Date;
  status: Status;
  hub: string | null;
  text: string;
}

/**
 * Idempotent event insert: one statement; the unique (shipment_id, event_key) index drops everything already
 * stored, and RETURNING names exactly the new events (their keys: the rest is what we sent).
 *
 * Arrays per column, not one JSON document: json_to_recordset saved client CPU (no second escaping of the
 * raw objects) but cost Postgres more, and on two shared cores the push benchmark was slower with it.
 */
export async function insertEvents(sql: Sql, rows: EventRow[], seenAt: Date): Promise<InsertedEvent[]> {
  if (rows.length === 0) return [];
  const inserted = await sql`
    insert into tracking_events (shipment_id, event_key, occurred_at, status, hub, location, text, provider, provider_code, rule, raw, seen_at)
    select t."shipmentId", t."eventKey", t."occurredAt", t.status, t.hub, t.location, t.text, t.provider, t."providerCode", t.rule, t.raw, ${seenAt}::timestamptz
    from unnest(${sql.array(rows.map((r) => r.shipmentId))}::bigint[],
                ${sql.array(rows.map((r) => r.eventKey))}::text[],
                ${sql.array(rows.map((r) => r.occurredAt.toISOString()))}::timestamptz[],
                ${sql.array(rows.map((r) => r.status))}::text[],
                ${sql.array(rows.map((r) => r.hub) as string[])}::text[],
                ${sql.array(rows.map((r) => r.location) as string[])}::text[],
                ${sql.array(rows.map((r) => r.text))}::text[],
                ${sql.array(rows.map((r) => r.provider))}::text[],
                ${sql.array(rows.map((r) => r.providerCode) as string[])}::text[],
                ${sql.array(rows.map((r) => r.rule) as string[])}::text[],
                ${sql.array(rows.map((r) => (r.raw === undefined ? null : storableJsonText(JSON.stringify(r.raw)))) as string[])}::jsonb[])
      as t("shipmentId", "eventKey", "occurredAt", status, hub, location, text, provider, "providerCode", rule, raw)
    on conflict (shipment_id, event_key) do nothing
    returning shipment_id, event_key`;
  const byKey = new Map<string, EventRow>();
  for (const r of rows) byKey.set(`${r.shipmentId}:${r.eventKey}`, r);
  return inserted.map((i) => {
    const r = byKey.get(`${i.shipment_id}:${i.event_key}`)!;
    return { shipmentId: r.shipmentId, eventKey: r.eventKey, occurredAt: r.occurredAt, status: r.status, hub: r.hub, text: r.text };
  });
}

export interface ShipmentUpdate extends ShipmentTrackState {
  id: number;
  providerFlags: string[];
  nextPollAt: Date | null;
  polled: boolean;
  pollErrorKind: string | null;
  pollError: string | null;
  /** Facts changed: detection should look at it now. */
  recheck: boolean;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * One statement for the whole batch: the tracked facts on `shipments`, the next poll and (when facts
 * changed) "judge now" on `shipment_schedule`. The schedule update reads the shipments update's output, so
 * each parcel is locked shipments row first, like every other writer of both.
 *
 * `source` push (ingest/tracking.ts IngestSource): last_pushed_at instead of the poll counters, poll
 * error fields and poll_failures (a poll resets it); the next poll stays as planned (a running poll's lease
 * too) unless the parcel needs no more polling (`nextPollAt` null) or had none planned.
 */
export async function applyShipmentUpdates(sql: Sql, updates: ShipmentUpdate[], now: Date, source: 'poll' | 'push' = 'poll'): Promise<void> {
  if (updates.length === 0) return;
  const push = source === 'push';
  await sql`
    with u as (
      select * from unnest(${sql.array(updates.map((u) => u.id))}::bigint[],
                ${sql.array(updates.map((u) => u.status))}::text[],
                ${sql.array(updates.map((u) => iso(u.statusSince)) as string[])}::timestamptz[],
                ${sql.array(updates.map((u) => iso(u.collectedAt)) as string[])}::timestamptz[],
                ${sql.array(updates.map((u) => iso(u.deliveredAt)) as string[])}::timestamptz[],
                ${sql.array(updates.map((u) => iso(u.lastEventAt)) as string[])}::timestamptz[],
                ${sql.array(updates.map((u) => u.lastEventText) as string[])}::text[],
                ${sql.array(updates.map((u) => u.lastHub) as string[])}::text[],
                ${sql.array(updates.map((u) => u.providerFlags.join(',')))}::text[],
                ${sql.array(updates.map((u) => iso(u.nextPollAt)) as string[])}::timestamptz[],
                ${sql.array(updates.map((u) => u.polled))}::boolean[],
                ${sql.array(updates.map((u) => u.pollErrorKind) as string[])}::text[],
                ${sql.array(updates.map((u) => u.pollError) as string[])}::text[],
                ${sql.array(updates.map((u) => u.recheck))}::boolean[])
        as u(id, status, status_since, collected_at, delivered_at, last_event_at, last_event_text, last_hub, flags,
             next_poll_at, polled, err_kind, err, recheck)
    ), facts as (
      update shipments s set
        -- A poll and a push (or two pushes) of one shipment may fold from the same loaded state and commit
        -- in any order; the later commit must not put back what it loaded. So the current status moves only
        -- when this fold is at least as new as what is stored, and the first-scan instants keep the earliest
        -- (written against the target row itself: under concurrency Postgres re-evaluates them on the committed row).
        status = case when s.last_event_at is null or u.last_event_at >= s.last_event_at then u.status else s.status end,
        status_since = case when s.last_event_at is null or u.last_event_at >= s.last_event_at then u.status_since else s.status_since end,
        collected_at = least(s.collected_at, u.collected_at), delivered_at = least(s.delivered_at, u.delivered_at),
        last_event_at = case when s.last_event_at is null or u.last_event_at >= s.last_event_at then u.last_event_at else s.last_event_at end,
        last_event_text = case when s.last_event_at is null or u.last_event_at >= s.last_event_at then u.last_event_text else s.last_event_text end,
        last_hub = case when s.last_event_at is null or u.last_event_at >= s.last_event_at then u.last_hub else s.last_hub end,
        provider_flags = coalesce(string_to_array(nullif(u.flags, ''), ','), '{}'::text[]),
        last_polled_at = case when u.polled and not ${push}::boolean then ${now}::timestamptz else s.last_polled_at end,
        poll_count = s.poll_count + case when u.polled and not ${push}::boolean then 1 else 0 end,
        recent_polls = case when u.polled and not ${push}::boolean
          then array(select p from unnest(s.recent_polls) p where p > ${now}::timestamptz - interval '24 hours') || ${now}::timestamptz
          else s.recent_polls end,
        last_pushed_at = case when ${push}::boolean then greatest(s.last_pushed_at, ${now}::timestamptz) else s.last_pushed_at end,
        last_answer_at = case when u.polled or ${push}::boolean then greatest(s.last_answer_at, ${now}::timestamptz) else s.last_answer_at end,
        poll_error_kind = case when ${push}::boolean then s.poll_error_kind else u.err_kind end,
        poll_error = case when ${push}::boolean then s.poll_error else u.err end,
        poll_error_at = case when ${push}::boolean then s.poll_error_at when u.err_kind is null then null else ${now}::timestamptz end,
        poll_error_count = case when ${push}::boolean then s.poll_error_count when u.err_kind is null then 0 else s.poll_error_count + 1 end,
        updated_at = ${now}::timestamptz
      from u where s.id = u.id
      returning s.id
    )
    update shipment_schedule c set
      next_poll_at = case when ${push}::boolean and u.next_poll_at is not null then coalesce(c.next_poll_at, u.next_poll_at) else u.next_poll_at end,
      next_check_at = case when u.recheck then least(coalesce(c.next_check_at, ${now}::timestamptz), ${now}::timestamptz) else c.next_check_at end,
      -- A poll answer written for the parcel (an error answer too: its job completed) ends its run of failed
      -- poll jobs, so plan-polls batches it again. A push says nothing about whether its poll job can succeed.
      poll_failures = case when ${push}::boolean then c.poll_failures else 0 end
    from facts join u on u.id = facts.id
    where c.shipment_id = facts.id`;
}

export interface QuarantineRow {
  shipmentId: number | null;
  provider: string;
  errorKind: string;
  error: string;
  raw: string | null;
}

/** Store replies we could not understand, raw, in one statement per batch. */
export async function quarantineReplies(sql: Sql, rows: QuarantineRow[], now: Date): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    insert into poll_quarantine (shipment_id, provider, error_kind, error, raw, created_at)
    select t.shipment_id, t.provider, t.error_kind, t.error, t.raw, ${now.toISOString()}::timestamptz
    from unnest(${sql.array(rows.map((r) => r.shipmentId) as number[])}::bigint[], ${sql.array(rows.map((r) => r.provider))}::text[],
                ${sql.array(rows.map((r) => r.errorKind))}::text[], ${sql.array(rows.map((r) => storableText(r.error)))}::text[],
                ${sql.array(rows.map((r) => (r.raw === null ? null : storableText(r.raw))) as string[])}::text[]) as t(shipment_id, provider, error_kind, error, raw)`;
}

/** One open alert per key, counted; ops see it in the log, /metrics and the alerts table. */
export async function raiseAlert(sql: Sql, key: string, message: string, now: Date): Promise<boolean> {
  const [r] = await sql`
    insert into alerts (key, message, first_at, last_at) values (${key}, ${message}, ${now}, ${now})
    on conflict (key) where resolved_at is null do update set count = alerts.count + 1, last_at = excluded.last_at, message = excluded.message
    returning (xmax = 0) as created`;
  return Boolean(r?.created);
}

export interface AlertRow {
  key: string;
  message: string;
  count: number;
  firstAt: Date;
  lastAt: Date;
}

/** Open alerts, most recent first (CLI `parcelwatch alerts`, GET /api/alerts). */
export async function listOpenAlerts(sql: Sql, limit = 1000): Promise<AlertRow[]> {
  const rows = await sql`select key, message, count, first_at, last_at from alerts where resolved_at is null order by last_at desc, id desc limit ${limit}`;
  return rows.map((r) => ({ key: r.key, message: r.message, count: Number(r.count), firstAt: r.first_at, lastAt: r.last_at }));
}
