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
  /** Orders stored: inserted, changed, or given a parcel (distinct orders). */
  changed: number;
  /** Shipments newly added. */
  newShipments: number;
  /** Orders refused whole, with the parcel that clashes: its tracking number serves an order of another customer. */
  conflicts: { platform: string; orderId: string; trackingNo: string; carrier: string; otherOrderId: string }[];
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

/**
 * Set-based idempotent upsert of a batch of validated orders and their shipments (see writeOrderRows): two
 * statements in one transaction, each fed by unnest of one array per column. Re-posting the same orders
 * changes nothing (0 rows written); a new parcel on a known order is added; a parcel shared with an order of the
 * same customer serves both (合并发货); an order with a parcel of another customer's order is refused whole.
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
  /** Distinct orders in the batch. */
  orderCount: number;
  /** The batch's distinct orders as orderKey(platform, orderId). */
  orderKeys(): string[];
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
  /**
   * One row per (order, parcel) of the batch: which orders each parcel serves, the customer of each (to tell a
   * merged parcel from a clash) and the marked-shipped time. The first order of a parcel new to the database
   * registers it.
   */
  links: {
    platform: string;
    orderId: string;
    carrier: string;
    trackingNo: string;
    markedShippedAt: string;
    phone: string;
    handle: string;
  };
  /** The source of the row a parcel (carrier, trackingNo) of order (platform, orderId) was taken from. */
  sourceOf(platform: string, orderId: string, carrier: string, trackingNo: string): number;
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
  // Links, order by order: within an order the last occurrence of a (carrier, trackingNo) wins, at the place of its first.
  const linkRow: number[] = [];
  const linkAt = new Map<string, number>(); // slot \u0001 carrier \u0001 trackingNo → index in linkRow
  const unshipped = new Array<string>(orderRow.length);
  for (let slot = 0; slot < orderRow.length; slot++) {
    let any = false;
    const seen = new Map<string, number>();
    for (let r = head[slot]!; r !== -1; r = next[r]!) {
      const trackingNo = rows.trackingNo[r];
      if (trackingNo === null || trackingNo === undefined) continue;
      any = true;
      const key = `${rows.carrier[r]}\u0001${trackingNo}`;
      const i = seen.get(key);
      if (i === undefined) {
        seen.set(key, linkRow.length);
        linkAt.set(`${slot}\u0001${key}`, linkRow.length);
        linkRow.push(r);
      } else linkRow[i] = r;
    }
    unshipped[slot] = any ? 'f' : 't';
  }
  const o = orderRow;
  const l = linkRow;
  // A link's customer is its order's (the order's last row), whatever row the parcel came from.
  const slotOfRow = (r: number) => slotOf.get(rows.platform[r]!)!.get(rows.orderId[r]!)!;
  const customerRow = l.map((r) => orderRow[slotOfRow(r)]!);
  return {
    orderCount: orderRow.length,
    orderKeys: () => orderRow.map((r) => orderKey(rows.platform[r]!, rows.orderId[r]!)),
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
    links: {
      platform: pgArray(rows.platform, l),
      orderId: pgArray(rows.orderId, l),
      carrier: pgArray(rows.carrier, l),
      trackingNo: pgArray(rows.trackingNo, l),
      markedShippedAt: pgArray(rows.markedShippedAt, l, true),
      phone: pgArray(rows.phone, customerRow),
      handle: pgArray(rows.handle, customerRow),
    },
    sourceOf: (platform, orderId, carrier, trackingNo) =>
      rows.source[linkRow[linkAt.get(`${slotOf.get(platform)!.get(orderId)!}\u0001${carrier}\u0001${trackingNo}`)!]!]!,
  };
}

/**
 * The orders of a batch that cannot be stored because one of their parcels serves an order of another customer,
 * as a CTE body over `sp` (the batch's links). A parcel may serve several orders of the SAME customer (合并发货):
 * same platform, and the same phone or the same handle (both present). Anything else is a clash: the tracking
 * number is a typo or a reused waybill, and moving the parcel, or sharing it, would tell one buyer about
 * another's parcel. Checked against the order that registered the parcel and among the batch's own orders.
 */
const sameCustomer = (a: string, b: string) =>
  `(${a}platform = ${b}platform and (coalesce(${a}phone = ${b}phone, false) or coalesce(${a}handle = ${b}handle, false)))`;
const CLASHES = `
  select distinct on (x.platform, x.external_id) x.platform, x.external_id, x.carrier, x.tracking_no, x.other
  from (
    -- a parcel already registered: the order that registered it decides
    select sp.platform, sp.external_id, sp.carrier, sp.tracking_no, o.external_id as other
    from sp
    join shipments sh on sh.carrier = sp.carrier and sh.tracking_no = sp.tracking_no
    cross join lateral (select platform, external_id, customer_phone as phone, customer_handle as handle from orders where id = sh.order_id) o
    where (o.platform, o.external_id) <> (sp.platform, sp.external_id) and not ${sameCustomer('o.', 'sp.')}
    union all
    -- a parcel new to the database: its first order in the batch will register it and decides
    select a.platform, a.external_id, a.carrier, a.tracking_no, a.first_external_id
    from (
      select sp.*, first_value(platform) over w as first_platform, first_value(external_id) over w as first_external_id,
             first_value(phone) over w as first_phone, first_value(handle) over w as first_handle
      from sp window w as (partition by carrier, tracking_no order by ord)
    ) a
    where (a.platform, a.external_id) <> (a.first_platform, a.first_external_id) and not ${sameCustomer('a.', 'a.first_')}
      and not exists (select 1 from shipments sh where sh.carrier = a.carrier and sh.tracking_no = a.tracking_no)
  ) x
  order by x.platform, x.external_id, x.carrier, x.tracking_no, x.other`;

/** One string per order (platform, orderId); the platform (an enum value) never holds the separator. */
export function orderKey(platform: string, orderId: string): string {
  return `${platform}\u0001${orderId}`;
}

export interface UpsertRowsResult extends UpsertOrdersResult {
  /** The orders of the batch stored (written, or given a parcel or a parcel's shipped time), as orderKey. */
  storedKeys: Set<string>;
  /** Valid orders of the batch written as they were (nothing new): orderCount - changed - conflicts. */
  unchanged: number;
  /** For each of `conflicts`, in the same order, the source of the row the parcel came from. */
  conflictSources: number[];
}

/**
 * Send a prepared batch: BEGIN, the two statements and COMMIT in one round trip (pipelined on a connection of
 * its own: they run in order; if one fails, those after it fail too and the COMMIT rolls back).
 *
 * 1. orders: INSERT … ON CONFLICT DO UPDATE only where a field differs, skipping every order with a clashing
 *    parcel (nothing of such an order is stored); the shipments of an order that changed are made due for a
 *    new verdict, in the same statement.
 * 2. shipments: INSERT … ON CONFLICT per parcel (registered by its first order of the batch; a known parcel only
 *    gains its marked-shipped time), the links of every (order, parcel) in order_shipments, the order-level
 *    re-check of orders that gained a parcel, and the clash report, in one statement.
 */
export async function writeOrderRows(sql: Sql, p: PreparedOrderRows, now: Date): Promise<UpsertRowsResult> {
  const o = p.orders;
  const l = p.links;
  if (!o) return { changed: 0, unchanged: 0, newShipments: 0, conflicts: [], conflictSources: [], storedKeys: new Set() };
  const nowIso = now.toISOString();
  const tx = await sql.reserve();
  const sp = tx`
    select * from unnest(${l.platform}::text[], ${l.orderId}::text[], ${l.carrier}::text[], ${l.trackingNo}::text[],
                         ${l.markedShippedAt}::timestamptz[], ${l.phone}::text[], ${l.handle}::text[]) with ordinality
      as sp(platform, external_id, carrier, tracking_no, marked_shipped_at, phone, handle, ord)`;
  try {
    const begin = tx`begin`;
    const orderStatement = tx`
      with sp as (${sp}), bad as (${tx.unsafe(CLASHES)}), o as (
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
        where not exists (select 1 from bad where bad.platform = t.platform and bad.external_id = t.external_id)
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
        returning id, platform, external_id, (xmax = 0) as inserted
      ), rejudge as (
        -- A changed order (new paid time, new type) must be re-judged, as must each parcel it has.
        update shipment_schedule c set next_check_at = ${EPOCH_ISO}::timestamptz
        from order_shipments l
        where l.shipment_id = c.shipment_id and l.order_id in (select id from o where not inserted)
      )
      select coalesce(json_agg(json_build_array(platform, external_id)), '[]'::json) as keys from o`;
    const shipmentStatement = tx`
        with sp as (${sp}), bad as materialized (${tx.unsafe(CLASHES)}), t as (
          -- One index probe per link, whatever the planner would guess from the batch size (a hash join would
          -- read all of a large orders table). Orders with a clash were not stored and get nothing here.
          select sp.*, (select o.id from orders o where o.platform = sp.platform and o.external_id = sp.external_id) as order_id
          from sp
          where not exists (select 1 from bad where bad.platform = sp.platform and bad.external_id = sp.external_id)
          offset 0
        ), ins as (
          -- A new parcel gets its schedule row (due at once) and its first order's link from the triggers on shipments.
          insert into shipments (order_id, carrier, tracking_no, marked_shipped_at, created_at, updated_at)
          select f.order_id, f.carrier, f.tracking_no, f.marked_shipped_at, ${nowIso}::timestamptz, ${nowIso}::timestamptz
          from (select distinct on (carrier, tracking_no) * from t where order_id is not null order by carrier, tracking_no, ord) f
          order by f.ord
          on conflict (carrier, tracking_no) do update set
            marked_shipped_at = excluded.marked_shipped_at, updated_at = excluded.updated_at
          where shipments.marked_shipped_at is null and excluded.marked_shipped_at is not null
            and shipments.order_id = excluded.order_id
          returning id, order_id, carrier, tracking_no, (xmax = 0) as inserted
        ), marked as (
          -- Newly marked shipped: the fake-shipment clock starts, judge it now.
          update shipment_schedule c set next_check_at = ${EPOCH_ISO}::timestamptz
          from ins where not ins.inserted and c.shipment_id = ins.id
        ), link as (
          -- Every order the parcel serves (a merged parcel serves several of one customer). The parcel is the one
          -- just written, else the known one (looked up only then: a fresh import pays no second probe).
          insert into order_shipments (order_id, shipment_id)
          select t.order_id, coalesce(i.id, (select sh.id from shipments sh where sh.carrier = t.carrier and sh.tracking_no = t.tracking_no))
          from t left join ins i on i.carrier = t.carrier and i.tracking_no = t.tracking_no
          where t.order_id is not null
          on conflict do nothing
          returning order_id
        ), touched as (
          update orders set next_check_at = ${EPOCH_ISO}::timestamptz
          where id in (select order_id from link) and next_check_at is distinct from ${EPOCH_ISO}::timestamptz
            -- only orders still judged at the order level need a look now (their order-level alarm resolves)
            and (next_check_at is not null
                 or exists (select 1 from exceptions e where e.order_id = orders.id and e.shipment_id is null and e.status = 'open'))
          returning id
        )
        select (select count(*) from ins where inserted)::int as inserted,
               (select count(*) from touched)::int as touched,
               coalesce((select json_agg(json_build_array(k.platform, k.external_id))
                         from (select distinct t.platform, t.external_id from t
                               where t.order_id in (select order_id from link union select order_id from ins)) k), '[]'::json) as stored,
               coalesce((select json_agg(json_build_object('platform', platform, 'orderId', external_id, 'carrier', carrier,
                                                           'trackingNo', tracking_no, 'otherOrderId', other)) from bad), '[]'::json) as clashes`;
    // Settle all four before the connection goes back: after a failure the rest still run (and fail, or roll back).
    const settled = await Promise.allSettled([begin, orderStatement, shipmentStatement, tx`commit`]);
    const failed = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
    if (failed) throw failed.reason;
    const [, orderResult, ship, end] = settled.map((x) => (x as PromiseFulfilledResult<postgres.RowList<postgres.Row[]>>).value);
    if (end!.command !== 'COMMIT') throw new Error(`order batch not committed (${end!.command})`);
    const r = ship![0]!;
    // An order stored = written itself, or given a parcel or a parcel's shipped time: distinct orders of both.
    const stored = new Set<string>();
    for (const [platform, orderId] of [...(orderResult![0]!.keys as [string, string][]), ...(r.stored as [string, string][])]) stored.add(orderKey(platform, orderId));
    const conflicts = r.clashes as UpsertOrdersResult['conflicts'];
    return {
      changed: stored.size,
      unchanged: p.orderCount - stored.size - conflicts.length,
      newShipments: r.inserted as number,
      conflicts,
      conflictSources: conflicts.map((c) => p.sourceOf(c.platform, c.orderId, c.carrier, c.trackingNo)),
      storedKeys: stored,
    };
  } finally {
    tx.release();
  }
}
