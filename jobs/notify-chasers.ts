import { z } from 'zod';
import { carrierName } from '../carriers/carrier-codes.js';
import type { Config } from '../config/schema.js';
import type { SqlOrTx } from '../db/client.js';
import { formatLocal } from '../domain/local-time.js';
import { normalArrival } from '../domain/norms.js';
import { quietUntil } from '../notify/quiet-hours.js';
import { renderTemplate } from '../notify/render.js';
import { messageFollowUp } from './send-customer-message.js';
import { defineJob, type FollowUp } from './define-job.js';

export type NotificationKind = 'hub_moved' | 'out_for_delivery' | 'delivered';

/** Event statuses that put a parcel at a hub: arrival at / departure from a transit centre, reaching the station. */
const HUB_STATUSES = ['in_transit', 'arrived_at_hub', 'at_pickup_point'];
/** Statuses after which the parcel will not reach the customer: the chase ends silently. */
const RETURN_STATUSES = ['returning', 'returned', 'cancelled'];

interface Candidate {
  chaseId: number;
  kind: NotificationKind | 'returned';
  hub: string | null;
  occurredAt: Date;
  contact: string;
  channel: string;
  orderId: string;
  customerName: string | null;
  carrier: string;
  trackingNo: string;
  status: string;
  /** p50 transit hours of the parcel's norm, for {normalArrival} (null: the flat normalTransitDays). */
  normP50Hours?: number | null;
}

/**
 * What the events stored since each active chase's registration call for, one row per dedupe key:
 * the first event at each hub that is neither the baseline nor the hub last notified, the first
 * out-for-delivery, the first delivered, and whether the parcel is going back. "Since" is storage order
 * (event id above the chase's registered_after_event_id watermark), not a comparison of clocks: a chase
 * registered through the API at wall time hears of events a replay stores at an earlier `--now`, and
 * replicas' clock skew cannot hide an event. A late scan with an old carrier timestamp still counts,
 * and history the provider re-sends is not new (the event row already exists with its first id).
 */
async function candidates(sql: SqlOrTx, shipmentIds: number[], minSamples: number): Promise<Candidate[]> {
  const rows = await sql`
    with c as (
      select c.id, c.shipment_id, c.contact, c.channel, c.baseline_hub, c.last_notified_hub, c.registered_after_event_id,
             s.carrier, s.tracking_no, o.external_id, o.customer_name, n.p50_hours as norm_p50_hours
      from chases c join shipments s on s.id = c.shipment_id join orders o on o.id = s.order_id
      left join lateral parcelwatch_route(s.id) r on true
      left join lateral parcelwatch_norm(s.carrier, r.origin, r.destination, ${minSamples}::int) n on true
      where c.status = 'active' and c.shipment_id = any(${sql.array(shipmentIds)}::bigint[])
    ),
    ev as (
      select c.*, e.status as ev_status, e.hub, e.occurred_at, e.id as event_id,
             case when e.status = any(${sql.array(HUB_STATUSES)}::text[]) then 'hub_moved'
                  when e.status = 'out_for_delivery' then 'out_for_delivery'
                  when e.status = 'delivered' then 'delivered'
                  when e.status = any(${sql.array(RETURN_STATUSES)}::text[]) then 'returned' end as kind
      from c join tracking_events e on e.shipment_id = c.shipment_id and e.id > c.registered_after_event_id
    )
    select distinct on (id, kind, case when kind = 'hub_moved' then hub end)
           id, kind, hub, occurred_at, contact, channel, external_id, customer_name, carrier, tracking_no, ev_status, norm_p50_hours
    from ev
    where kind is not null
      and (kind <> 'hub_moved' or (hub is not null and hub is distinct from baseline_hub and hub is distinct from last_notified_hub
           -- the collecting outlet is where the journey starts, not a "next hub" (its departure scan is no move)
           and not exists (select 1 from tracking_events x where x.shipment_id = ev.shipment_id and x.status = 'collected' and x.hub = ev.hub)))
    order by id, kind, case when kind = 'hub_moved' then hub end, occurred_at, event_id`;
  return rows.map((r) => ({
    chaseId: Number(r.id),
    kind: r.kind,
    hub: r.hub,
    occurredAt: r.occurred_at,
    contact: r.contact,
    channel: r.channel,
    orderId: r.external_id,
    customerName: r.customer_name,
    carrier: r.carrier,
    trackingNo: r.tracking_no,
    status: r.ev_status,
    normP50Hours: r.norm_p50_hours === null ? null : Number(r.norm_p50_hours),
  }));
}

export function dedupeKey(kind: NotificationKind, chaseId: number, hub: string | null): string {
  if (kind === 'hub_moved') return `hub:${chaseId}:${hub}`;
  if (kind === 'out_for_delivery') return `ofd:${chaseId}`;
  return `delivered:${chaseId}`;
}

/** Quiet hours hold a message until they end; otherwise it waits the coalescing window so a burst of moves sends only the latest. */
export function sendAfter(now: Date, config: Config): Date {
  const quiet = quietUntil(now, config.chases.quietHours, config.timezone);
  if (quiet) return quiet;
  return new Date(now.getTime() + config.chases.coalesceSeconds * 1000);
}

export function renderCustomerMessage(config: Config, c: Pick<Candidate, 'hub' | 'occurredAt' | 'carrier' | 'trackingNo' | 'orderId' | 'customerName' | 'status' | 'normP50Hours'>, kind: NotificationKind): string {
  const t = config.chases.templates;
  const template = kind === 'hub_moved' ? t.hubMoved : kind === 'out_for_delivery' ? t.outForDelivery : t.delivered;
  return renderTemplate(template, {
    customerName: c.customerName,
    orderId: c.orderId,
    carrierName: carrierName(c.carrier),
    trackingNo: c.trackingNo,
    hub: c.hub,
    time: formatLocal(c.occurredAt, config.timezone),
    status: c.status,
    normalArrival: normalArrival(c.normP50Hours == null ? null : { p50Hours: c.normP50Hours }, config),
  });
}

export interface NotifySummary {
  notificationsQueued: number;
  chasesEnded: number;
}

/**
 * Turn new tracking events of chased shipments into notification rows, set-wise. The unique dedupe key
 * (ON CONFLICT DO NOTHING) is what makes a retried poll, a replayed cycle or two racing workers create
 * each message once; only rows this call inserted get a send job.
 */
export async function notifyChasers(
  deps: { sql: SqlOrTx; config: Config; clock: { now(): Date } },
  shipmentIds: number[],
): Promise<{ summary: NotifySummary; followUps: FollowUp[] }> {
  const { sql, config } = deps;
  const now = deps.clock.now();
  const found = await candidates(sql, shipmentIds, config.norms.minSamples);
  const after = sendAfter(now, config);
  const rows = found
    .filter((c): c is Candidate & { kind: NotificationKind } => c.kind !== 'returned' && (c.kind !== 'delivered' || config.chases.sendDelivered))
    .map((c) => ({
      chaseId: c.chaseId,
      key: dedupeKey(c.kind, c.chaseId, c.hub),
      kind: c.kind,
      hub: c.hub,
      occurredAt: c.occurredAt,
      contact: c.contact,
      channel: c.channel,
      message: renderCustomerMessage(config, c, c.kind),
    }));
  const inserted = rows.length
    ? await sql`
        insert into notifications (chase_id, dedupe_key, kind, hub, occurred_at, contact, channel, message, send_after, created_at)
        select u.chase_id, u.key, u.kind, nullif(u.hub, ''), u.occurred_at, u.contact, u.channel, u.message, ${after}::timestamptz, ${now}::timestamptz
        from unnest(${sql.array(rows.map((r) => r.chaseId))}::bigint[], ${sql.array(rows.map((r) => r.key))}::text[],
                    ${sql.array(rows.map((r) => r.kind))}::text[], ${sql.array(rows.map((r) => r.hub ?? ''))}::text[],
                    ${sql.array(rows.map((r) => r.occurredAt.toISOString()))}::timestamptz[], ${sql.array(rows.map((r) => r.contact))}::text[],
                    ${sql.array(rows.map((r) => r.channel))}::text[], ${sql.array(rows.map((r) => r.message))}::text[])
             as u(chase_id, key, kind, hub, occurred_at, contact, channel, message)
        on conflict (dedupe_key) do nothing
        returning id`
    : [];
  // Delivered or going back: nothing more will move. Ended after the rows above, so the final message is kept.
  const ending = new Map<number, string>();
  for (const c of found) {
    if (c.kind === 'delivered') ending.set(c.chaseId, 'delivered');
    else if (c.kind === 'returned' && !ending.has(c.chaseId)) ending.set(c.chaseId, c.status === 'cancelled' ? 'cancelled' : 'returned');
  }
  let ended = 0;
  if (ending.size) {
    const r = await sql`
      update chases c set status = 'ended', end_reason = u.reason, ended_at = ${now}
      from unnest(${sql.array([...ending.keys()])}::bigint[], ${sql.array([...ending.values()])}::text[]) as u(id, reason)
      where c.id = u.id and c.status = 'active'
      returning c.id`;
    ended = r.length;
  }
  const delayMs = Math.max(0, after.getTime() - now.getTime());
  const followUps: FollowUp[] = inserted.map((r) => messageFollowUp(Number(r.id), 0, delayMs));
  return { summary: { notificationsQueued: inserted.length, chasesEnded: ended }, followUps };
}

export const notifyChasersJob = defineJob({
  name: 'notify-chasers',
  queue: 'notifications',
  payload: z.object({ shipmentIds: z.array(z.number().int().positive()).min(1) }),
  attempts: () => 5,
  async handle({ shipmentIds }, deps, ctx) {
    const { summary, followUps } = await notifyChasers(deps, shipmentIds);
    await ctx.enqueue(followUps);
    return { summary: { ...summary } };
  },
});
