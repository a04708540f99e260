import type postgres from 'postgres';
import type { Sql } from '../client.js';
import type { OrderInput } from '../../ingest/order-input.js';

/**
 * Stands for "never": new shipments (and orders that arrive without one) are due for detection and polling at
 * any replay instant. An order that arrives with its parcels is judged per parcel only, so it gets no order-level
 * check at all: a million-order import must not queue a million order-level sweeps that find nothing.
 */
export const EPOCH = new Date(0);
const EPOCH_ISO = EPOCH.toISOString();

export interface UpsertOrdersResult {
  /** Orders inserted or changed. */
  changed: number;
  /** Shipments newly added. */
  newShipments: number;
  /** Shipments whose tracking number already belongs to another order. */
  conflicts: { orderId: string; trackingNo: string; carrier: string }[];
}

/**
 * A batch of flat order rows, column by column: one row per parcel (the order's fields repeated), or one row
 * with no carrier/trackingNo for an order without a parcel; times as ISO strings, amount as its decimal text.
 * The CSV import fills it straight from the file's cells (no object per row: a million-row import would spend
 * its time collecting them); `add` takes a validated order from the schema. `source` is the caller's tag of a
 * row (the import's line number), given back with a conflict.
 */
export class OrderRows {
  readonly platform: string[] = [];
  readonly orderId: string[] = [];
  readonly type: string[] = [];
  readonly paidAt: string[] = [];
  readonly promisedShipBy: (string | null)[] = [];
  readonly amount: string[] = [];
  readonly currency: string[] = [];
  readonly name: (string | null)[] = [];
  readonly phone: (string | null)[] = [];
  readonly handle: (string | null)[] = [];
  readonly carrier: (string | null)[] = [];
  readonly trackingNo: (string | null)[] = [];
  readonly markedShippedAt: (string | null)[] = [];
  readonly source: number[] = [];

  get length(): number {
    return this.platform.length;
  }

  /** One validated order: a row per parcel, or one row without a parcel. */
  add(o: OrderInput, source = 0): void {
    const paidAt = o.paidAt.toISOString();
    const promised = isoOrNull(o.promisedShipBy);
    const amount = String(o.amount);
    const { name, phone, handle } = o.customer;
    if (o.shipments.length === 0) {
      this.push(o.platform, o.orderId, o.type, paidAt, promised, amount, o.currency, name, phone, handle, null, null, null, source);
    }
    for (const s of o.shipments) {
      this.push(o.platform, o.orderId, o.type, paidAt, promised, amount, o.currency, name, phone, handle, s.carrier, s.trackingNo, isoOrNull(s.markedShippedAt), source);
    }
  }

  push(
    platform: string,
    orderId: string,
    type: string,
    paidAt: string,
    promisedShipBy: string | null,
    amount: string,
    currency: string,
    name: string | null,
    phone: string | null,
    handle: string | null,
    carrier: string | null,
    trackingNo: string | null,
    markedShippedAt: string | null,
    source: number,
  ): void {
    this.platform.push(platform);
    this.orderId.push(orderId);
    this.type.push(type);
    this.paidAt.push(paidAt);
    this.promisedShipBy.push(promisedShipBy);
    this.amount.push(amount);
    this.currency.push(currency);
    this.name.push(name);
    this.phone.push(phone);
    this.handle.push(handle);
    this.carrier.push(carrier);
    this.trackingNo.push(trackingNo);
    this.markedShippedAt.push(markedShippedAt);
    this.source.push(source);
  }
}

const isoOrNull = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/**
 * A Postgres array literal of `values[at[0]], values[at[1]], …` (NULL for null), built here instead of through the
 * driver's generic serializer: the import sends a million rows of these. `bare`: the values never need quoting
 * (ISO times, decimals, t/f), so they go as they are; text is quoted, and escaped only if it holds `"` or `\`.
 */
export function pgArray(values: readonly (string | null)[], at: readonly number[], bare = false): string {
  if (at.length === 0) return '{}';
  const picked = new Array<string>(at.length);
  let plain = true;
  for (let i = 0; i < at.length; i++) {
    const v = values[at[i]!];
    if (v === null || v === undefined) {
      picked[i] = 'NULL';
      plain = false;
    } else {
      picked[i] = v;
      if (plain && !bare && (v.includes('"') || v.includes('\\'))) plain = false;
    }
  }
  if (bare) return `{${picked.join(',')}}`;
  if (plain) return `{"${picked.join('","')}"}`;
  for (let i = 0; i < at.length; i++) {
    const v = values[at[i]!];
    picked[i] = v === null || v === undefined ? 'NULL' : `"${v.replace(/[\\"]/g, '\\$&')}"`;
  }
  return `{${picked.join(',')}}`;
}

export interface UpsertRowsResult extends UpsertOrdersResult {
  /** For each of `conflicts`, in the same order, the source of the row the parcel came from. */
  conflictSources: number[];
}

/**
 * Set-based idempotent upsert of a batch of validated orders and their shipments: two statements in one
 * transaction, each fed by unnest of one array per column. Re-posting the same orders changes nothing (0 rows
 * written); a new shipment on a known order is added; a tracking number already on another order is reported.
 *
 * 1. orders: INSERT … ON CONFLICT DO UPDATE only where a field differs; the shipments of an order that
 *    changed (not of one just inserted: it has none yet) are made due for a new verdict, in the same statement.
 * 2. shipments: INSERT … ON CONFLICT (a known parcel only gains its marked-shipped time), the clash report
 *    (parcels of this batch that already belong to another order) and the order-level re-check of orders that
 *    gained a parcel, in one statement. The clash lookup only visits parcels the insert neither added nor
 *    updated, so a fresh import pays no extra index probe per parcel for it.
 */
export async function upsertOrders(sql: Sql, batch: OrderInput[], now: Date): Promise<UpsertOrdersResult> {
  const rows = new OrderRows();
  for (const o of batch) rows.add(o);
  const { changed, newShipments, conflicts } = await writeOrderRows(sql, prepareOrderRows(rows), now);
  return { changed, newShipments, conflicts };
}

/**
 * A batch ready to send: deduplicated, each column one array literal. Preparing is the CPU-heavy half of an
 * upsert: the import prepares a batch while the previous one is being written.
 */
export interface PreparedOrderRows {
  orders: {
    platform: string;
    orderId: string;
    type: string;
    paidAt: string;
    promisedShipBy: string;
    amount: string;
    currency: string;
    name: string;
    phone: string;
    handle: string;
    unshipped: string;
  } | null;
  shipments: { platform: string; orderId: string; carrier: string; trackingNo: string; markedShippedAt: string } | null;
  /** The source of the row a shipment (carrier, trackingNo) of this batch was taken from. */
  sourceOf(carrier: string, trackingNo: string): number;
}

export function prepareOrderRows(rows: OrderRows): PreparedOrderRows {
  const n = rows.length;
  // Orders: one per (platform, orderId), at the place of its first row, with the fields of its last (ON CONFLICT
  // cannot touch a row twice in one statement); every row's parcel is kept (CSV exports repeat the order on each
  // parcel's row).
  const slotOf = new Map<string, Map<string, number>>(); // platform → orderId → slot
  const orderRow: number[] = [];
  const head: number[] = [];
  const tail: number[] = [];
  const next = new Int32Array(n).fill(-1);
  for (let r = 0; r < n; r++) {
    const platform = rows.platform[r]!;
    let byId = slotOf.get(platform);
    if (!byId) slotOf.set(platform, (byId = new Map()));
    const slot = byId.get(rows.orderId[r]!);
    if (slot === undefined) {
      byId.set(rows.orderId[r]!, orderRow.length);
      orderRow.push(r);
      head.push(r);
      tail.push(r);
    } else {
      orderRow[slot] = r;
      next[tail[slot]!] = r;
      tail[slot] = r;
    }
  }
  // Shipments, order by order: the last occurrence of a (carrier, trackingNo) wins, at the place of its first.
  const shipAt = new Map<string, Map<string, number>>(); // carrier → trackingNo → index in shipRow
  const shipRow: number[] = [];
  const unshipped = new Array<string>(orderRow.length);
  for (let slot = 0; slot < orderRow.length; slot++) {
    let any = false;
    for (let r = head[slot]!; r !== -1; r = next[r]!) {
      const trackingNo = rows.trackingNo[r];
      if (trackingNo === null || trackingNo === undefined) continue;
      any = true;
      const carrier = rows.carrier[r]!;
      let byNo = shipAt.get(carrier);
      if (!byNo) shipAt.set(carrier, (byNo = new Map()));
      const i = byNo.get(trackingNo);
      if (i === undefined) {
        byNo.set(trackingNo, shipRow.length);
        shipRow.push(r);
      } else shipRow[i] = r;
    }
    unshipped[slot] = any ? 'f' : 't';
  }
  const o = orderRow;
  const sh = shipRow;
  return {
    orders: n
      ? {
          platform: pgArray(rows.platform, o),
          orderId: pgArray(rows.orderId, o),
          type: pgArray(rows.type, o),
          paidAt: pgArray(rows.paidAt, o, true),
          promisedShipBy: pgArray(rows.promisedShipBy, o, true),
          amount: pgArray(rows.amount, o, true),
          currency: pgArray(rows.currency, o),
          name: pgArray(rows.name, o),
          phone: pgArray(rows.phone, o),
          handle: pgArray(rows.handle, o),
          unshipped: pgArray(unshipped, unshipped.map((_, i) => i), true),
        }
      : null,
    shipments: sh.length
      ? {
          platform: pgArray(rows.platform, sh),
          orderId: pgArray(rows.orderId, sh),
          carrier: pgArray(rows.carrier, sh),
          trackingNo: pgArray(rows.trackingNo, sh),
          markedShippedAt: pgArray(rows.markedShippedAt, sh, true),
        }
      : null,
    sourceOf: (carrier, trackingNo) => rows.source[shipRow[shipAt.get(carrier)!.get(trackingNo)!]!]!,
  };
}

/**
 * Send a prepared batch: BEGIN, the two statements and COMMIT in one round trip (pipelined on a connection of
 * its own: they run in order; if one fails, those after it fail too and the COMMIT rolls back).
 */
export async function writeOrderRows(sql: Sql, p: PreparedOrderRows, now: Date): Promise<UpsertRowsResult> {
  const o = p.orders;
  const s = p.shipments;
  if (!o) return { changed: 0, newShipments: 0, conflicts: [], conflictSources: [] };
  const nowIso = now.toISOString();
  const tx = await sql.reserve();
  try {
    const begin = tx`begin`;
    const orderStatement = tx`
      with o as (
        insert into orders (platform, external_id, type, paid_at, promised_ship_by, amount, currency,
                            customer_name, customer_phone, customer_handle, next_check_at, created_at, updated_at)
        select t.platform, t.external_id, t.type, t.paid_at, t.promised_ship_by, t.amount, t.currency,
               t.customer_name, t.customer_phone, t.customer_handle,
               case when t.unshipped then ${EPOCH_ISO}::timestamptz end, ${nowIso}::timestamptz, ${nowIso}::timestamptz
        from unnest(${o.platform}::text[], ${o.orderId}::text[], ${o.type}::text[],
                    ${o.paidAt}::timestamptz[], ${o.promisedShipBy}::timestamptz[],
                    ${o.amount}::numeric[], ${o.currency}::text[], ${o.name}::text[],
                    ${o.phone}::text[], ${o.handle}::text[], ${o.unshipped}::boolean[])
          as t(platform, external_id, type, paid_at, promised_ship_by, amount, currency, customer_name, customer_phone, customer_handle, unshipped)
        on conflict (platform, external_id) do update set
          type = excluded.type, paid_at = excluded.paid_at, promised_ship_by = excluded.promised_ship_by,
          amount = excluded.amount, currency = excluded.currency, customer_name = excluded.customer_name,
          customer_phone = excluded.customer_phone, customer_handle = excluded.customer_handle,
          next_check_at = case when orders.next_check_at is not null or excluded.next_check_at is not null then ${EPOCH_ISO}::timestamptz end,
          updated_at = excluded.updated_at
        where (orders.type, orders.paid_at, orders.promised_ship_by, orders.amount, orders.currency,
               orders.customer_name, orders.customer_phone, orders.customer_handle)
          is distinct from (excluded.type, excluded.paid_at, excluded.promised_ship_by, excluded.amount, excluded.currency,
               excluded.customer_name, excluded.customer_phone, excluded.customer_handle)
        returning id, (xmax = 0) as inserted
      ), rejudge as (
        -- A changed order (new paid time, new type) must be re-judged, as must each of its shipments.
        update shipment_schedule c set next_check_at = ${EPOCH_ISO}::timestamptz
        from shipments s
        where s.id = c.shipment_id and s.order_id in (select id from o where not inserted)
      )
      select count(*)::int as changed from o`;
    const shipmentStatement = s
      ? tx`
        with t as (
          select * from unnest(${s.platform}::text[], ${s.orderId}::text[], ${s.carrier}::text[],
                               ${s.trackingNo}::text[], ${s.markedShippedAt}::timestamptz[])
            as t(platform, external_id, carrier, tracking_no, marked_shipped_at)
        ), ins as (
          -- A new parcel gets its schedule row (due at once) from the shipments_schedule_rows trigger.
          insert into shipments (order_id, carrier, tracking_no, marked_shipped_at, created_at, updated_at)
          select t.order_id, t.carrier, t.tracking_no, t.marked_shipped_at, ${nowIso}::timestamptz, ${nowIso}::timestamptz
          from (
            -- One index probe per parcel, whatever the planner would guess from the batch size (a hash join
            -- would read all of a large orders table).
            select t.*, (select o.id from orders o where o.platform = t.platform and o.external_id = t.external_id) as order_id from t
            offset 0
          ) t
          where t.order_id is not null
          on conflict (carrier, tracking_no) do update set
            marked_shipped_at = excluded.marked_shipped_at, updated_at = excluded.updated_at
          where shipments.marked_shipped_at is null and excluded.marked_shipped_at is not null
            and shipments.order_id = excluded.order_id
          returning id, order_id, carrier, tracking_no, (xmax = 0) as inserted
        ), marked as (
          -- Newly marked shipped: the fake-shipment clock starts, judge it now.
          update shipment_schedule c set next_check_at = ${EPOCH_ISO}::timestamptz
          from ins where not ins.inserted and c.shipment_id = ins.id
        ), unwritten as materialized (
          -- Neither added nor updated: already known, maybe on another order (a clash is never written). When
          -- every parcel was written (a fresh import), there is nothing to look for.
          select t.* from t
          where (select count(*) from ins) < (select count(*) from t)
            and not exists (select 1 from ins where ins.carrier = t.carrier and ins.tracking_no = t.tracking_no)
        ), clash as (
          -- A tracking number already registered on another order is reported, never moved silently.
          select u.external_id as "orderId", u.tracking_no as "trackingNo", u.carrier
          from unwritten u
          cross join lateral (
            select o.platform, o.external_id from shipments sh join orders o on o.id = sh.order_id
            where sh.carrier = u.carrier and sh.tracking_no = u.tracking_no limit 1
          ) o
          where o.platform <> u.platform or o.external_id <> u.external_id
        ), touched as (
          update orders set next_check_at = ${EPOCH_ISO}::timestamptz
          where id in (select order_id from ins where inserted) and next_check_at is distinct from ${EPOCH_ISO}::timestamptz
            -- only orders still judged at the order level need a look now (their order-level alarm resolves)
            and (next_check_at is not null
                 or exists (select 1 from exceptions e where e.order_id = orders.id and e.shipment_id is null and e.status = 'open'))
          returning id
        )
        select (select count(*) from ins where inserted)::int as inserted,
               (select count(*) from touched)::int as touched,
               coalesce((select json_agg(clash) from clash), '[]'::json) as clashes`
      : null;
    // Settle all four before the connection goes back: after a failure the rest still run (and fail, or roll back).
    const settled = await Promise.allSettled([begin, orderStatement, shipmentStatement, tx`commit`]);
    const failed = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
    if (failed) throw failed.reason;
    const [, orderResult, ship, end] = settled.map((x) => (x as PromiseFulfilledResult<postgres.RowList<postgres.Row[]> | null>).value);
    if (end!.command !== 'COMMIT') throw new Error(`order batch not committed (${end!.command})`);
    const ord = orderResult![0];
    const r = ship?.[0];
    const conflicts = r ? (r.clashes as UpsertOrdersResult['conflicts']) : [];
    return {
      changed: ord!.changed as number,
      newShipments: r ? (r.inserted as number) : 0,
      conflicts,
      conflictSources: conflicts.map((c) => p.sourceOf(c.carrier, c.trackingNo)),
    };
  } finally {
    tx.release();
  }
}
