import type { Sql } from '../client.js';
import type { OrderInput } from '../../ingest/order-input.js';

/**
 * Stands for "never": new shipments (and orders that arrive without one) are due for detection and polling at
 * any replay instant. An order that arrives with its parcels is judged per parcel only, so it gets no order-level
 * check at all: a million-order import must not queue a million order-level sweeps that find nothing.
 */
export const EPOCH = new Date(0);

export interface UpsertOrdersResult {
  /** Orders inserted or changed. */
  changed: number;
  /** Shipments newly added. */
  newShipments: number;
  /** Shipments whose tracking number already belongs to another order. */
  conflicts: { orderId: string; trackingNo: string; carrier: string }[];
}

/**
 * Set-based idempotent upsert of a batch of validated orders and their shipments (unnest, two statements
 * in one transaction). Re-posting the same orders changes nothing; a new shipment on a known order is added.
 */
export async function upsertOrders(sql: Sql, batch: OrderInput[], now: Date): Promise<UpsertOrdersResult> {
  if (batch.length === 0) return { changed: 0, newShipments: 0, conflicts: [] };
  // Last occurrence wins inside one batch: ON CONFLICT cannot touch a row twice in one statement.
  const byKey = new Map<string, OrderInput>();
  for (const o of batch) {
    const key = `${o.platform}\u0000${o.orderId}`;
    const prev = byKey.get(key);
    // CSV exports repeat the order on each parcel's row: keep every parcel.
    byKey.set(key, prev ? { ...o, shipments: [...prev.shipments, ...o.shipments] } : o);
  }
  const orders = [...byKey.values()];
  const shipments = orders.flatMap((o) =>
    o.shipments.map((s) => ({ platform: o.platform, orderId: o.orderId, ...s })),
  );
  const seenShipment = new Map<string, (typeof shipments)[number]>();
  for (const s of shipments) seenShipment.set(`${s.carrier}\u0000${s.trackingNo}`, s);
  const uniqueShipments = [...seenShipment.values()];

  return sql.begin(async (tx) => {
    const changed = await tx`
      insert into orders (platform, external_id, type, paid_at, promised_ship_by, amount, currency,
                          customer_name, customer_phone, customer_handle, next_check_at, created_at, updated_at)
      select t.platform, t.external_id, t.type, t.paid_at, t.promised_ship_by, t.amount, t.currency,
             t.customer_name, t.customer_phone, t.customer_handle,
             case when t.unshipped then ${EPOCH.toISOString()}::timestamptz end, ${now.toISOString()}::timestamptz, ${now.toISOString()}::timestamptz
      from unnest(${tx.array(orders.map((o) => o.platform))}::text[],
                  ${tx.array(orders.map((o) => o.orderId))}::text[],
                  ${tx.array(orders.map((o) => o.type))}::text[],
                  ${tx.array(orders.map((o) => o.paidAt.toISOString()))}::timestamptz[],
                  ${tx.array(orders.map((o) => o.promisedShipBy?.toISOString() ?? null) as string[])}::timestamptz[],
                  ${tx.array(orders.map((o) => String(o.amount)))}::numeric[],
                  ${tx.array(orders.map((o) => o.currency))}::text[],
                  ${tx.array(orders.map((o) => o.customer.name) as string[])}::text[],
                  ${tx.array(orders.map((o) => o.customer.phone) as string[])}::text[],
                  ${tx.array(orders.map((o) => o.customer.handle) as string[])}::text[],
                  ${tx.array(orders.map((o) => o.shipments.length === 0))}::boolean[])
        as t(platform, external_id, type, paid_at, promised_ship_by, amount, currency, customer_name, customer_phone, customer_handle, unshipped)
      on conflict (platform, external_id) do update set
        type = excluded.type, paid_at = excluded.paid_at, promised_ship_by = excluded.promised_ship_by,
        amount = excluded.amount, currency = excluded.currency, customer_name = excluded.customer_name,
        customer_phone = excluded.customer_phone, customer_handle = excluded.customer_handle,
        next_check_at = case when orders.next_check_at is not null or excluded.next_check_at is not null then ${EPOCH.toISOString()}::timestamptz end,
        updated_at = excluded.updated_at
      where (orders.type, orders.paid_at, orders.promised_ship_by, orders.amount, orders.currency,
             orders.customer_name, orders.customer_phone, orders.customer_handle)
        is distinct from (excluded.type, excluded.paid_at, excluded.promised_ship_by, excluded.amount, excluded.currency,
             excluded.customer_name, excluded.customer_phone, excluded.customer_handle)
      returning id`;
    if (changed.length) {
      // A changed order (new paid time, new type) must be re-judged, as must each of its shipments.
      await tx`update shipments set next_check_at = ${EPOCH.toISOString()}::timestamptz where order_id = any(${tx.array(changed.map((r) => r.id as number))}::bigint[])`;
    }
    let newShipments = 0;
    const conflicts: UpsertOrdersResult['conflicts'] = [];
    if (uniqueShipments.length) {
      // A tracking number already registered on another order is reported, never moved silently.
      const clash = await tx`
        select s.external_id as "orderId", s.tracking_no as "trackingNo", s.carrier
        from unnest(${tx.array(uniqueShipments.map((s) => s.platform))}::text[],
                    ${tx.array(uniqueShipments.map((s) => s.orderId))}::text[],
                    ${tx.array(uniqueShipments.map((s) => s.carrier))}::text[],
                    ${tx.array(uniqueShipments.map((s) => s.trackingNo))}::text[]) as s(platform, external_id, carrier, tracking_no)
        join shipments sh on sh.carrier = s.carrier and sh.tracking_no = s.tracking_no
        join orders o on o.id = sh.order_id
        where o.platform <> s.platform or o.external_id <> s.external_id`;
      conflicts.push(...(clash as unknown as UpsertOrdersResult['conflicts']));
      const inserted = await tx`
        with s as (
          select * from unnest(${tx.array(uniqueShipments.map((s) => s.platform))}::text[],
                               ${tx.array(uniqueShipments.map((s) => s.orderId))}::text[],
                               ${tx.array(uniqueShipments.map((s) => s.carrier))}::text[],
                               ${tx.array(uniqueShipments.map((s) => s.trackingNo))}::text[],
                               ${tx.array(uniqueShipments.map((s) => s.markedShippedAt?.toISOString() ?? null) as string[])}::timestamptz[])
            as t(platform, external_id, carrier, tracking_no, marked_shipped_at)
        ), ins as (
          insert into shipments (order_id, carrier, tracking_no, marked_shipped_at, next_poll_at, next_check_at, created_at, updated_at)
          select o.id, s.carrier, s.tracking_no, s.marked_shipped_at, ${EPOCH.toISOString()}::timestamptz, ${EPOCH.toISOString()}::timestamptz, ${now.toISOString()}::timestamptz, ${now.toISOString()}::timestamptz
          from s join orders o on o.platform = s.platform and o.external_id = s.external_id
          on conflict (carrier, tracking_no) do update set
            marked_shipped_at = excluded.marked_shipped_at, next_check_at = excluded.next_check_at, updated_at = excluded.updated_at
          where shipments.marked_shipped_at is null and excluded.marked_shipped_at is not null
            and shipments.order_id = excluded.order_id
          returning order_id, (xmax = 0) as inserted
        ), touched as (
          update orders set next_check_at = ${EPOCH.toISOString()}::timestamptz
          where id in (select order_id from ins where inserted) and next_check_at is distinct from ${EPOCH.toISOString()}::timestamptz
            -- only orders still judged at the order level need a look now (their order-level alarm resolves)
            and (next_check_at is not null
                 or exists (select 1 from exceptions e where e.order_id = orders.id and e.shipment_id is null and e.status = 'open'))
          returning id
        )
        select (select count(*) from ins where inserted)::int as inserted,
               (select count(*) from touched)::int as touched`;
      newShipments = inserted[0]!.inserted as number;
    }
    return { changed: changed.length, newShipments, conflicts };
  });
}
