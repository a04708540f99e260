import type { Sql } from '../client.js';

/**
 * Explaining a parcel to an ops person: every stored event with the rule or provider code that decided its
 * status, the folded state, the parcel's exceptions and when it is next polled and judged. Read-only; used by
 * `parcelwatch shipment show` and `GET /api/shipments/:trackingNo`.
 */

export interface EventView {
  occurredAt: string;
  text: string;
  providerCode: string | null;
  status: string;
  /** Text rule id or provider code that decided `status`; null for events stored before rules were recorded. */
  rule: string | null;
  hub: string | null;
  location: string | null;
  provider: string;
  /** When parcelwatch stored the event. */
  seenAt: string;
}

export interface ExceptionView {
  id: number;
  /** The order the exception belongs to; order-level exceptions (no parcel) of the parcel's orders are listed too. */
  orderId: string;
  parcelLevel: boolean;
  type: string;
  severity: string;
  status: string;
  openedAt: string;
  resolvedAt: string | null;
  resolution: string | null;
  deadlineAt: string | null;
}

export interface ShipmentView {
  trackingNo: string;
  carrier: string;
  /** Every order this parcel serves (the marketplace order ids). */
  orderIds: string[];
  status: string;
  statusSince: string | null;
  markedShippedAt: string | null;
  collectedAt: string | null;
  deliveredAt: string | null;
  lastHub: string | null;
  lastEventAt: string | null;
  lastPolledAt: string | null;
  pollErrorKind: string | null;
  pollError: string | null;
  providerFlags: string[];
  /** null: polling has stopped (terminal, or given up). While pollFailures > 0 it is the backoff's end. */
  nextPollAt: string | null;
  /**
   * Consecutive poll jobs of this parcel that failed for good (README "Reliability"); 0 once any poll answer
   * is written. Above 0 the parcel is polled alone, and each failure alone doubles its wait (floor ×
   * 2^(failures − 1), at most 24 h) until nextPollAt.
   */
  pollFailures: number;
  nextCheckAt: string | null;
  /** Push subscription (README "Push ingestion"); null before the subscribe planner has looked at it. */
  subscription: { state: string; provider: string | null; lastPushAt: string | null; abortReason: string | null; nextAttemptAt: string | null; lastReplyCode: string | null } | null;
  /** In time order (oldest first); at most EVENTS_MAX, the newest. */
  events: EventView[];
  /** Open ones, then the RECENT_RESOLVED most recently resolved. */
  exceptions: ExceptionView[];
}

/** A parcel rarely has more than a few dozen events; the cap keeps one odd parcel from loading thousands. */
const EVENTS_MAX = 500;
/** Resolved exceptions shown besides the open ones: enough to see what happened lately. */
const RECENT_RESOLVED = 10;

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** The parcels carrying `trackingNo` (one per carrier), optionally of one carrier only; [] when unknown. */
export async function showShipments(sql: Sql, trackingNo: string, opts: { carrier?: string | undefined } = {}): Promise<ShipmentView[]> {
  const parcels = await sql`
    select s.id, s.carrier, s.tracking_no, s.status, s.status_since, s.marked_shipped_at, s.collected_at, s.delivered_at,
           s.last_hub, s.last_event_at, s.last_polled_at, s.poll_error_kind, s.poll_error, s.provider_flags,
           c.next_poll_at, c.next_check_at, c.poll_failures,
           x.state as sub_state, x.provider as sub_provider, x.last_push_at, x.abort_reason, x.next_attempt_at, x.last_reply_code
    from shipments s left join shipment_schedule c on c.shipment_id = s.id
    left join shipment_subscriptions x on x.shipment_id = s.id
    where s.tracking_no = ${trackingNo} ${opts.carrier ? sql`and s.carrier = ${opts.carrier}` : sql``}
    order by s.carrier, s.id`;
  if (parcels.length === 0) return [];
  const ids = parcels.map((p) => Number(p.id));
  const [orders, events, exceptions] = await Promise.all([
    // Every order the parcel serves: a merged parcel (合并发货) is listed under each of its orders.
    sql`select l.shipment_id, o.id as order_id, o.external_id
        from order_shipments l join orders o on o.id = l.order_id
        where l.shipment_id = any(${sql.array(ids)}::bigint[])
        order by o.external_id`,
    sql`select e.shipment_id, e.occurred_at, e.text, e.provider_code, e.status, e.rule, e.hub, e.location, e.provider, e.seen_at
        from unnest(${sql.array(ids)}::bigint[]) as p(id)
        cross join lateral (
          select e.id, e.shipment_id, e.occurred_at, e.text, e.provider_code, e.status, e.rule, e.hub, e.location, e.provider, e.seen_at
          from tracking_events e where e.shipment_id = p.id order by e.occurred_at desc, e.id desc limit ${EVENTS_MAX}
        ) e
        order by e.shipment_id, e.occurred_at, e.id`,
    // The parcel's own exceptions and the order-level ones of its orders (e.g. late shipment judged before
    // the parcel was known): open ones, and the most recently resolved.
    sql`select * from (
          select x.id, x.shipment_id, x.order_id, o.external_id, x.type, x.severity, x.status, x.opened_at, x.resolved_at,
                 x.resolution, x.deadline_at, p.id as parcel,
                 row_number() over (partition by p.id, x.status = 'open' order by coalesce(x.resolved_at, x.opened_at) desc, x.id desc) as n
          from unnest(${sql.array(ids)}::bigint[]) as p(id)
          join shipments s on s.id = p.id
          join exceptions x on x.shipment_id = p.id or (x.shipment_id is null and x.order_id = s.order_id)
          join orders o on o.id = x.order_id
        ) t
        where status = 'open' or n <= ${RECENT_RESOLVED}
        order by parcel, status <> 'open', opened_at desc, id desc`,
  ]);
  return parcels.map((p) => {
    const id = Number(p.id);
    return {
      trackingNo: p.tracking_no,
      carrier: p.carrier,
      orderIds: orders.filter((o) => Number(o.shipment_id) === id).map((o) => o.external_id as string),
      status: p.status,
      statusSince: iso(p.status_since),
      markedShippedAt: iso(p.marked_shipped_at),
      collectedAt: iso(p.collected_at),
      deliveredAt: iso(p.delivered_at),
      lastHub: p.last_hub,
      lastEventAt: iso(p.last_event_at),
      lastPolledAt: iso(p.last_polled_at),
      pollErrorKind: p.poll_error_kind,
      pollError: p.poll_error,
      providerFlags: p.provider_flags ?? [],
      nextPollAt: iso(p.next_poll_at),
      pollFailures: p.poll_failures ?? 0,
      nextCheckAt: iso(p.next_check_at),
      subscription: p.sub_state
        ? { state: p.sub_state, provider: p.sub_provider, lastPushAt: iso(p.last_push_at), abortReason: p.abort_reason, nextAttemptAt: iso(p.next_attempt_at), lastReplyCode: p.last_reply_code }
        : null,
      events: events
        .filter((e) => Number(e.shipment_id) === id)
        .map((e) => ({
          occurredAt: e.occurred_at.toISOString(),
          text: e.text,
          providerCode: e.provider_code,
          status: e.status,
          rule: e.rule,
          hub: e.hub,
          location: e.location,
          provider: e.provider,
          seenAt: e.seen_at.toISOString(),
        })),
      exceptions: exceptions
        .filter((x) => Number(x.parcel) === id)
        .map((x) => ({
          id: Number(x.id),
          orderId: x.external_id,
          parcelLevel: x.shipment_id !== null,
          type: x.type,
          severity: x.severity,
          status: x.status,
          openedAt: x.opened_at.toISOString(),
          resolvedAt: iso(x.resolved_at),
          resolution: x.resolution,
          deadlineAt: iso(x.deadline_at),
        })),
    };
  });
}

export interface UnclassifiedText {
  text: string;
  /** Events with this text in the window. */
  count: number;
  /** Parcels that carry it. */
  parcels: number;
  carriers: string[];
  providers: string[];
  firstSeenAt: string;
  lastSeenAt: string;
  /** The most recently stored example. */
  example: { trackingNo: string; carrier: string; occurredAt: string };
}

/**
 * Event texts no rule or provider code could classify, stored since `since`, grouped by text, most frequent
 * first: what ops report as missing rules. Reads the partial index on unknown events only.
 */
export async function listUnclassified(sql: Sql, opts: { since: Date; limit: number }): Promise<UnclassifiedText[]> {
  const rows = await sql`
    select e.text, count(*)::int as count, count(distinct e.shipment_id)::int as parcels,
           array_agg(distinct s.carrier order by s.carrier) as carriers,
           array_agg(distinct e.provider order by e.provider) as providers,
           min(e.seen_at) as first_seen_at, max(e.seen_at) as last_seen_at,
           (array_agg(s.tracking_no order by e.seen_at desc, e.id desc))[1] as example_tracking_no,
           (array_agg(s.carrier order by e.seen_at desc, e.id desc))[1] as example_carrier,
           (array_agg(e.occurred_at order by e.seen_at desc, e.id desc))[1] as example_occurred_at
    from tracking_events e join shipments s on s.id = e.shipment_id
    where e.status = 'unknown' and e.seen_at >= ${opts.since}
    group by e.text
    order by count(*) desc, max(e.seen_at) desc, e.text
    limit ${opts.limit}`;
  return rows.map((r) => ({
    text: r.text,
    count: r.count,
    parcels: r.parcels,
    carriers: r.carriers,
    providers: r.providers,
    firstSeenAt: r.first_seen_at.toISOString(),
    lastSeenAt: r.last_seen_at.toISOString(),
    example: { trackingNo: r.example_tracking_no, carrier: r.example_carrier, occurredAt: r.example_occurred_at.toISOString() },
  }));
}
