import type { Config } from '../../config/schema.js';
import type { Sql, SqlOrTx } from '../client.js';

export type ChaseChannel = 'webhook' | 'sms';

/** What registration allows, from config (one place for the API, the CLI and the importer). */
export interface ChasePolicy {
  defaultChannel: ChaseChannel;
  /** Channels that can deliver: a chase on another would never notify, so it is refused up front. */
  enabledChannels: readonly ChaseChannel[];
  /** Contacts other than the order's customer (phone or handle) are refused unless set: SMS costs money and reaches strangers. */
  allowOtherContacts: boolean;
}

export function chasePolicy(cfg: Pick<Config, 'chases'>): ChasePolicy {
  const ch = cfg.chases.channels;
  return {
    defaultChannel: cfg.chases.defaultChannel,
    enabledChannels: (['webhook', 'sms'] as const).filter((c) => ch[c].enabled),
    allowOtherContacts: cfg.chases.allowOtherContacts,
  };
}

/** Phone numbers compared without spaces, dashes or the +86 country code. */
function sameContact(a: string, b: string | null): boolean {
  if (!b) return false;
  const norm = (v: string) => v.replace(/[\s-]/g, '').replace(/^(?:\+?86)(1\d{10})$/, '$1');
  return norm(a) === norm(b);
}

export interface RegisterChaseInput {
  orderId?: string | undefined;
  trackingNo?: string | undefined;
  contact?: string | undefined;
  channel?: ChaseChannel | undefined;
  note?: string | undefined;
}

/** The chase as the API and CLI show it (camelCase, stable). */
export interface ChaseView {
  id: number;
  orderId: string;
  platform: string;
  trackingNo: string;
  carrier: string;
  contact: string;
  channel: string;
  note: string | null;
  status: 'active' | 'ended';
  endReason: string | null;
  baselineHub: string | null;
  lastNotifiedHub: string | null;
  shipmentStatus: string;
  lastHub: string | null;
  registeredAt: string;
  endedAt: string | null;
  notificationsSent: number;
}

/** Why a registration was refused; the API maps `kind` to a status code, the CLI/import to a message. */
export class ChaseRefused extends Error {
  constructor(
    readonly kind: 'not_found' | 'delivered' | 'invalid' | 'channel_disabled' | 'contact_not_allowed',
    message: string,
  ) {
    super(message);
  }
}

const VIEW_SELECT = (sql: SqlOrTx) => sql`
  select c.id, o.external_id, o.platform, s.tracking_no, s.carrier, c.contact, c.channel, c.note, c.status, c.end_reason,
         c.baseline_hub, c.last_notified_hub, s.status as shipment_status, s.last_hub, c.registered_at, c.ended_at,
         (select count(*)::int from notifications n where n.chase_id = c.id and n.status = 'sent') as sent
  from chases c join shipments s on s.id = c.shipment_id join orders o on o.id = s.order_id`;

function toView(r: Record<string, any>): ChaseView {
  return {
    id: Number(r.id),
    orderId: r.external_id,
    platform: r.platform,
    trackingNo: r.tracking_no,
    carrier: r.carrier,
    contact: r.contact,
    channel: r.channel,
    note: r.note,
    status: r.status,
    endReason: r.end_reason,
    baselineHub: r.baseline_hub,
    lastNotifiedHub: r.last_notified_hub,
    shipmentStatus: r.shipment_status,
    lastHub: r.last_hub,
    registeredAt: (r.registered_at as Date).toISOString(),
    endedAt: r.ended_at ? (r.ended_at as Date).toISOString() : null,
    notificationsSent: r.sent,
  };
}

/** Shipment statuses a chase makes no sense for: nothing will move any more. */
const FINISHED = ['delivered', 'returned', 'cancelled'];

/**
 * Register a chase on each undelivered parcel of an order (or on one tracking number). Idempotent per
 * (shipment, contact): the partial unique index on active chases turns a repeat into a no-op, and the
 * existing chase is returned. Baseline = the hub known now, so only hubs learned later notify.
 *
 * "Later" is a watermark, not a clock: the tracking_events id sequence value at registration. Events
 * stored after it carry larger ids, whatever instant a replay judges (`run-once --now` in the past) and
 * whatever the clocks of the replica that stored them say. (An event whose insert is still in flight
 * while the chase registers may hold a smaller id and count as already known; the next move notifies.)
 */
export async function registerChases(
  sql: Sql,
  input: RegisterChaseInput,
  policy: ChasePolicy,
  now: Date,
): Promise<{ items: ChaseView[]; created: number }> {
  if (!input.orderId === !input.trackingNo) throw new ChaseRefused('invalid', 'give exactly one of orderId or trackingNo');
  const channel = input.channel ?? policy.defaultChannel;
  if (!policy.enabledChannels.includes(channel)) {
    const on = policy.enabledChannels.length ? `enabled: ${policy.enabledChannels.join(', ')}` : 'no customer channel is enabled';
    throw new ChaseRefused('channel_disabled', `channel ${channel} is not enabled (chases.channels.${channel}.enabled is false; ${on}): the chase could never notify`);
  }
  const rows = input.orderId
    ? await sql`select s.id, s.status, s.delivered_at, s.last_hub, s.tracking_no, o.customer_phone, o.customer_handle
                from orders o join order_shipments l on l.order_id = o.id join shipments s on s.id = l.shipment_id
                where o.external_id = ${input.orderId} order by s.id`
    : await sql`select s.id, s.status, s.delivered_at, s.last_hub, s.tracking_no, o.customer_phone, o.customer_handle
                from shipments s join orders o on o.id = s.order_id where s.tracking_no = ${input.trackingNo!} order by s.id`;
  if (rows.length === 0) {
    if (input.trackingNo) throw new ChaseRefused('not_found', `tracking number ${input.trackingNo} not found`);
    const [o] = await sql`select 1 from orders where external_id = ${input.orderId!} limit 1`;
    throw new ChaseRefused('not_found', o ? `order ${input.orderId} has no parcel to chase yet` : `order ${input.orderId} not found`);
  }
  const open = rows.filter((r) => !FINISHED.includes(r.status));
  if (open.length === 0) {
    const what = rows
      .map((r) => (r.delivered_at ? `${r.tracking_no} delivered at ${(r.delivered_at as Date).toISOString()}` : `${r.tracking_no} is ${r.status}`))
      .join('; ');
    throw new ChaseRefused('delivered', `${rows.some((r) => r.delivered_at) ? 'already delivered' : 'nothing left to chase'}: ${what}`);
  }
  const given = input.contact?.trim();
  if (given && !policy.allowOtherContacts) {
    const foreign = open.find((r) => !sameContact(given, r.customer_phone) && given !== r.customer_handle);
    if (foreign) {
      throw new ChaseRefused(
        'contact_not_allowed',
        `contact ${given} is not the customer of the order of ${foreign.tracking_no}: chases notify the order's customer only (set chases.allowOtherContacts to allow other contacts)`,
      );
    }
  }
  const contacts = open.map((r) => given || r.customer_phone);
  if (contacts.some((c) => !c)) throw new ChaseRefused('invalid', 'contact is required: the order has no customer phone');
  const ids = open.map((r) => Number(r.id));
  const inserted = await sql`
    insert into chases (shipment_id, contact, channel, note, baseline_hub, registered_at, registered_after_event_id)
    select u.sid, u.contact, ${channel}, ${input.note ?? null}, s.last_hub, ${now}::timestamptz, w.last_id
    from unnest(${sql.array(ids)}::bigint[], ${sql.array(contacts as string[])}::text[]) as u(sid, contact)
    join shipments s on s.id = u.sid
    cross join (select case when is_called then last_value else 0 end as last_id from tracking_events_id_seq) w
    on conflict (shipment_id, contact) where status = 'active' do nothing
    returning id`;
  const items = await sql`
    ${VIEW_SELECT(sql)}
    join unnest(${sql.array(ids)}::bigint[], ${sql.array(contacts as string[])}::text[]) as u(sid, contact)
      on u.sid = c.shipment_id and u.contact = c.contact
    where c.status = 'active' order by c.id`;
  return { items: items.map(toView), created: inserted.length };
}

export interface ListChasesQuery {
  status?: 'active' | 'ended' | undefined;
  orderId?: string | undefined;
  ids?: number[];
  /** Keyset cursor: rows with id below this (newest first). */
  beforeId?: number | undefined;
  limit: number;
}

export async function listChases(sql: SqlOrTx, q: ListChasesQuery): Promise<ChaseView[]> {
  const rows = await sql`
    ${VIEW_SELECT(sql)}
    where true
      ${q.status ? sql`and c.status = ${q.status}` : sql``}
      ${q.orderId ? sql`and o.external_id = ${q.orderId}` : sql``}
      ${q.ids ? sql`and c.id = any(${sql.array(q.ids)}::bigint[])` : sql``}
      ${q.beforeId ? sql`and c.id < ${q.beforeId}` : sql``}
    order by c.id desc
    limit ${q.limit}`;
  return rows.map(toView);
}

/** End an active chase; returns the chase (ended now or before), or null when unknown. */
export async function endChase(sql: Sql, id: number, reason: string, now: Date): Promise<ChaseView | null> {
  await sql`update chases set status = 'ended', end_reason = ${reason}, ended_at = ${now} where id = ${id} and status = 'active'`;
  const [v] = await listChases(sql, { ids: [id], limit: 1 });
  return v ?? null;
}
