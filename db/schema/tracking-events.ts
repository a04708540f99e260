import { sql } from 'drizzle-orm';
import { bigint, bigserial, index, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { shipments } from './shipments.js';

const tz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** Normalised carrier events. Providers resend the whole history; the unique key keeps one row per event. */
export const trackingEvents = pgTable(
  'tracking_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    shipmentId: bigint('shipment_id', { mode: 'number' })
      .notNull()
      .references(() => shipments.id, { onDelete: 'cascade' }),
    /** Idempotency key: hash of occurred_at + normalised text (provider-independent). */
    eventKey: text('event_key').notNull(),
    occurredAt: tz('occurred_at').notNull(),
    status: text('status').notNull(),
    hub: text('hub'),
    location: text('location'),
    text: text('text').notNull(),
    provider: text('provider').notNull(),
    /** Provider status code as sent (e.g. kuaidi100 1002, kdniao 211). */
    providerCode: text('provider_code'),
    /** The text rule id or provider code that decided `status` (carriers fill NormalizedEvent.rule); NULL if not said. */
    rule: text('rule'),
    raw: jsonb('raw'),
    /** When parcelwatch learned of the event — chase notifications key on this, not on occurred_at. */
    seenAt: tz('seen_at').notNull(),
  },
  (t) => [
    uniqueIndex('tracking_events_shipment_key').on(t.shipmentId, t.eventKey),
    index('tracking_events_shipment_occurred_idx').on(t.shipmentId, t.occurredAt),
    // Unclassified texts are listed for ops (`events unclassified`); they are rare, so the index is small.
    index('tracking_events_unknown_seen_idx').on(t.seenAt).where(sql`${t.status} = 'unknown'`),
  ],
);

/** Replies we could not understand: stored raw with the error so nothing is lost. */
export const pollQuarantine = pgTable(
  'poll_quarantine',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    shipmentId: bigint('shipment_id', { mode: 'number' }).references(() => shipments.id, { onDelete: 'set null' }),
    provider: text('provider').notNull(),
    errorKind: text('error_kind').notNull(),
    error: text('error').notNull(),
    raw: text('raw'),
    createdAt: tz('created_at').notNull(),
  },
  (t) => [index('poll_quarantine_created_idx').on(t.createdAt)],
);
