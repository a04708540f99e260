import { sql } from 'drizzle-orm';
import { bigint, bigserial, index, integer, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { shipments } from './shipments.js';

const tz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** A customer who chased a parcel (催件登记) and is told each time it reaches the next hub. */
export const chases = pgTable(
  'chases',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    shipmentId: bigint('shipment_id', { mode: 'number' })
      .notNull()
      .references(() => shipments.id, { onDelete: 'cascade' }),
    contact: text('contact').notNull(),
    /** webhook | sms */
    channel: text('channel').notNull(),
    note: text('note'),
    /** active | ended */
    status: text('status').notNull().default('active'),
    endReason: text('end_reason'),
    /** Hub known at registration: only hubs learned after it notify. */
    baselineHub: text('baseline_hub'),
    lastNotifiedHub: text('last_notified_hub'),
    registeredAt: tz('registered_at').notNull(),
    /** tracking_events id sequence value at registration: events with a larger id are news to this chase (storage order, not clocks). */
    registeredAfterEventId: bigint('registered_after_event_id', { mode: 'number' }).notNull(),
    endedAt: tz('ended_at'),
  },
  (t) => [
    uniqueIndex('chases_active_key').on(t.shipmentId, t.contact).where(sql`${t.status} = 'active'`),
    index('chases_shipment_idx').on(t.shipmentId),
  ],
);

/** Customer messages. `dedupe_key` is unique: a hub is announced once per chase, whatever is retried or replayed. */
export const notifications = pgTable(
  'notifications',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    chaseId: bigint('chase_id', { mode: 'number' })
      .notNull()
      .references(() => chases.id, { onDelete: 'cascade' }),
    dedupeKey: text('dedupe_key').notNull(),
    /** hub_moved | out_for_delivery | delivered */
    kind: text('kind').notNull(),
    hub: text('hub'),
    occurredAt: tz('occurred_at'),
    contact: text('contact').notNull(),
    channel: text('channel').notNull(),
    message: text('message').notNull(),
    /** pending | sent | failed | superseded | capped */
    status: text('status').notNull().default('pending'),
    sendAfter: tz('send_after').notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    createdAt: tz('created_at').notNull(),
    sentAt: tz('sent_at'),
    /** Owned until then by a send in flight or its retry chain's backoff. */
    leaseUntil: tz('lease_until'),
    /** Retry chain number (job id part): one bounded chain per message, a new one only on an explicit re-send. */
    chain: integer('chain').notNull().default(0),
  },
  (t) => [
    uniqueIndex('notifications_dedupe_key').on(t.dedupeKey),
    index('notifications_pending_idx').on(t.sendAfter).where(sql`${t.status} = 'pending'`),
    index('notifications_contact_sent_idx').on(t.contact, t.sentAt),
    index('notifications_chase_idx').on(t.chaseId),
  ],
);
