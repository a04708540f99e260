import type { Sql } from '../client.js';
import { jsonParam } from '../json-param.js';

/** A shipment a push may be about. */
export interface PushTarget {
  id: number;
  carrier: string;
  trackingNo: string;
}

/**
 * The provider corrected the carrier (Kuaidi100 autoCheck / comNew): the subscription is moved first, so
 * the shipments_subscription_moved trigger sees it already names the new carrier and does not subscribe
 * again (the provider keeps pushing under the new code). A correction that would clash with a shipment
 * already known under the new carrier is not applied. Returns the ids corrected.
 */
export async function correctCarriers(sql: Sql, corrections: { id: number; carrier: string }[], now: Date): Promise<number[]> {
  if (corrections.length === 0) return [];
  const ids = sql.array(corrections.map((c) => c.id));
  const carriers = sql.array(corrections.map((c) => c.carrier));
  return sql.begin(async (tx) => {
    await tx`
      update shipment_subscriptions x set carrier = c.carrier, tracking_no = s.tracking_no, updated_at = ${now}
      from unnest(${ids}::bigint[], ${carriers}::text[]) as c(id, carrier) join shipments s on s.id = c.id
      where x.shipment_id = c.id`;
    const rows = await tx`
      update shipments s set carrier = c.carrier, updated_at = ${now}
      from unnest(${ids}::bigint[], ${carriers}::text[]) as c(id, carrier)
      where s.id = c.id and s.carrier <> c.carrier
        and not exists (select 1 from shipments o where o.carrier = c.carrier and o.tracking_no = s.tracking_no)
      returning s.id`;
    return rows.map((r) => Number(r.id));
  });
}

export interface PushRecord {
  shipmentId: number;
  trackingNo: string;
  kind: string;
  subscription: 'active' | 'aborted' | 'stopped';
  message: string | null;
  newEvents: number;
  raw: string;
}

export interface OrphanRecord {
  trackingNo: string;
  carrier: string | null;
  raw: string;
}

/**
 * After the events of a batch of pushes are stored: one statement writes a receipt per push item, moves
 * each subscription (last push, aborted → one re-subscription after `abortResubscribeMinutes`, stopped),
 * and counts the pushes for numbers we do not track. An `active` push only ever moves last_push_at forward
 * (pushes from two receivers may commit in any order).
 */
export async function recordPushes(
  sql: Sql,
  provider: string,
  pushes: PushRecord[],
  orphans: OrphanRecord[],
  now: Date,
  abortResubscribeMinutes: number,
): Promise<void> {
  if (pushes.length === 0 && orphans.length === 0) return;
  // One row per shipment for the subscription update (the last item of a shipment in the batch wins).
  const bySub = new Map<number, PushRecord>();
  for (const p of pushes) bySub.set(p.shipmentId, p);
  const subs = [...bySub.values()].sort((a, b) => a.shipmentId - b.shipmentId);
  // Orphans likewise once per number (a repeated number in one batch would hit the same row twice).
  const orphanBy = new Map<string, OrphanRecord>();
  for (const o of orphans) orphanBy.set(o.trackingNo, o);
  const orph = [...orphanBy.values()];
  const counts = new Map<string, number>();
  for (const o of orphans) counts.set(o.trackingNo, (counts.get(o.trackingNo) ?? 0) + 1);
  await sql`
    with receipts as (
      insert into push_receipts (provider, tracking_no, shipment_id, kind, new_events, raw, received_at)
      select ${provider}, t."trackingNo", t."shipmentId", t.kind, t."newEvents", t.raw, ${now}::timestamptz
      -- One JSON document, not an array per column: the raw pushes are written once (db/json-param.ts).
      from json_to_recordset(${jsonParam(pushes)}::text::json) as t("trackingNo" text, "shipmentId" bigint, kind text, "newEvents" int, raw text)
    ), subs as (
      update shipment_subscriptions x set
        provider = ${provider},
        last_push_at = greatest(x.last_push_at, ${now}::timestamptz),
        pushes = x.pushes + 1,
        state = case
          when u.sub = 'aborted' then 'aborted'
          when u.sub = 'stopped' then 'stopped'
          when x.state in ('pending', 'aborted', 'failed') then 'subscribed'
          else x.state end,
        abort_reason = case when u.sub = 'aborted' then u.message else x.abort_reason end,
        aborted_at = case when u.sub = 'aborted' then ${now}::timestamptz else x.aborted_at end,
        -- Abort: subscribe again once, after the pause Kuaidi100 asks for; a second abort stays aborted (polled).
        next_attempt_at = case
          when u.sub = 'aborted' and not x.resubscribed_after_abort
            then ${now}::timestamptz + ${abortResubscribeMinutes} * interval '1 minute'
          when u.sub = 'aborted' or u.sub = 'stopped' then null
          when x.state in ('pending', 'aborted', 'failed') then null
          else x.next_attempt_at end,
        updated_at = ${now}::timestamptz
      from unnest(${sql.array(subs.map((p) => p.shipmentId))}::bigint[], ${sql.array(subs.map((p) => p.subscription))}::text[],
                  ${sql.array(subs.map((p) => p.message) as string[])}::text[]) as u(id, sub, message)
      where x.shipment_id = u.id and x.state <> 'poll_only'
    )
    insert into push_orphans (provider, tracking_no, carrier, count, first_at, last_at, raw)
    select ${provider}, o.tracking_no, o.carrier, o.n, ${now}::timestamptz, ${now}::timestamptz, o.raw
    from unnest(${sql.array(orph.map((o) => o.trackingNo))}::text[], ${sql.array(orph.map((o) => o.carrier) as string[])}::text[],
                ${sql.array(orph.map((o) => counts.get(o.trackingNo)!))}::int[], ${sql.array(orph.map((o) => o.raw))}::text[]) as o(tracking_no, carrier, n, raw)
    on conflict (provider, tracking_no) do update set
      count = push_orphans.count + excluded.count, last_at = excluded.last_at, raw = excluded.raw, carrier = coalesce(excluded.carrier, push_orphans.carrier)`;
}
