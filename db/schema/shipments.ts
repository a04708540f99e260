import { sql } from 'drizzle-orm';
import { bigint, bigserial, index, integer, jsonb, pgTable, primaryKey, smallint, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { orders } from './orders.js';

const tz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** One parcel. An order may have several (split parcels, reshipments). */
export const shipments = pgTable(
  'shipments',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    orderId: bigint('order_id', { mode: 'number' })
      .notNull()
      .references(() => orders.id, { onDelete: 'cascade' }),
    /**
     * Canonical carrier code (Kdniao shipper codes: SF, ZTO, YTO, …; carriers/data/carriers.json). An order naming
     * a carrier outside the table keeps the text as given here ('' when it named none) until a provider's
     * detection replaces it with the detected code (jobs/detect-carrier.ts).
     */
    carrier: text('carrier').notNull(),
    /** The carrier text the order gave, kept when detection replaced it; NULL when the order's carrier was used as is. */
    carrierGiven: text('carrier_given'),
    /** Provider whose detection API named the carrier (kuaidi100, kdniao, seventeenTrack), and when. */
    carrierDetectedBy: text('carrier_detected_by'),
    carrierDetectedAt: tz('carrier_detected_at'),
    trackingNo: text('tracking_no').notNull(),
    /** When the seller clicked "shipped" — not a carrier fact. */
    markedShippedAt: tz('marked_shipped_at'),
    /** First carrier scan: what the marketplace's 72 h rule looks at. */
    collectedAt: tz('collected_at'),
    /** Signed-for time. */
    deliveredAt: tz('delivered_at'),
    lastEventAt: tz('last_event_at'),
    lastEventText: text('last_event_text'),
    lastHub: text('last_hub'),
    /** Canonical status (domain/status.ts). */
    status: text('status').notNull().default('pending'),
    /** When the current status began (event time), for delivery/pickup overdue. */
    statusSince: tz('status_since'),
    /** Provider-reported flags (e.g. kuaidi100:202, kdniao:412): extra signals for detection. */
    providerFlags: text('provider_flags').array().notNull().default(sql`'{}'::text[]`),
    lastPolledAt: tz('last_polled_at'),
    /** Poll instants within the last 24 h (per-number caps such as Kuaidi100's 48/day survive restarts). */
    recentPolls: timestamp('recent_polls', { withTimezone: true, mode: 'date' }).array().notNull().default(sql`'{}'::timestamptz[]`),
    pollCount: integer('poll_count').notNull().default(0),
    /** Last push received for this parcel (a push is not a poll: it leaves last_polled_at, recent_polls and poll_count alone). */
    lastPushedAt: tz('last_pushed_at'),
    /** Last time a provider answered about this parcel, by a poll reply (not a failed call) or a push. */
    lastAnswerAt: tz('last_answer_at'),
    /** Last poll error kind (malformed, auth, quota, not_found, transient) and message; NULL after a good poll. */
    pollErrorKind: text('poll_error_kind'),
    pollError: text('poll_error'),
    pollErrorAt: tz('poll_error_at'),
    pollErrorCount: integer('poll_error_count').notNull().default(0),
    extra: jsonb('extra'),
    createdAt: tz('created_at').notNull().defaultNow(),
    updatedAt: tz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('shipments_carrier_tracking_no_key').on(t.carrier, t.trackingNo),
    index('shipments_order_id_idx').on(t.orderId),
    index('shipments_tracking_no_idx').on(t.trackingNo),
  ],
);

/**
 * When each shipment is next polled and next judged, kept apart from `shipments` on purpose: the sweeps
 * move these two instants for every parcel they touch, and an update of an indexed column rewrites every
 * index of its row. Here that is two small indexes; on `shipments` it was six, and the first detection
 * sweep over a million parcels spent most of its time there. It also leaves the poll path's update of
 * `shipments` free of indexed columns, so Postgres can do it in place (HOT).
 *
 * One row per shipment, made by the `shipments_schedule_rows` trigger (migration 0002) for every insert
 * path, COPY included, due at once for both; deleted with its shipment by `shipments_schedule_gone` (and `…_truncated`).
 */
export const shipmentSchedule = pgTable(
  'shipment_schedule',
  {
    // No foreign key on purpose: its per-row check cost the importer a third of its rate. The triggers of
    // migration 0002 keep the rows in step with shipments instead (one per insert, gone on delete).
    shipmentId: bigint('shipment_id', { mode: 'number' }).primaryKey(),
    /** Next poll; NULL = stop polling (terminal or given up). */
    nextPollAt: tz('next_poll_at'),
    /** Next instant at which any rule could change its verdict (detection sweeps only read due rows). */
    nextCheckAt: tz('next_check_at'),
    /**
     * Consecutive poll jobs of this parcel failed for good (migration 0011); any poll answer written for it
     * resets it. plan-polls gives a parcel with failures a job of its own, so a parcel whose reply or batch
     * breaks the job fails alone instead of taking its batch-mates with it every cycle.
     */
    pollFailures: smallint('poll_failures').notNull().default(0),
  },
  (t) => [
    index('shipment_schedule_next_poll_at_idx').on(t.nextPollAt).where(sql`${t.nextPollAt} is not null`),
    index('shipment_schedule_next_check_at_idx').on(t.nextCheckAt).where(sql`${t.nextCheckAt} is not null`),
  ],
);

/**
 * Every order a parcel serves (migration 0004). A merged parcel (合并发货) serves several orders of one
 * customer; `shipments.order_id` stays the order that registered it first, whose facts detection judges and
 * whose outreach task is the one call. No foreign keys, like shipment_schedule: triggers add the first
 * order's row on every insert into shipments and remove rows with their shipment or order.
 */
export const orderShipments = pgTable(
  'order_shipments',
  {
    orderId: bigint('order_id', { mode: 'number' }).notNull(),
    shipmentId: bigint('shipment_id', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.orderId, t.shipmentId], name: 'order_shipments_pkey' }), index('order_shipments_shipment_id_idx').on(t.shipmentId)],
);
