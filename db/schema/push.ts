import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, index, integer, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

const tz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** Subscription states (README "Push ingestion"). */
export const SUBSCRIPTION_STATES = [
  'pending', // waiting for the subscribe planner (new shipment, new number/carrier, retry due)
  'subscribed', // the provider accepted (Kuaidi100 200/501, Kdniao Success, 17TRACK accepted or already registered)
  'aborted', // Kuaidi100 status abort: re-subscribed once after push.abortResubscribeMinutes
  'stopped', // the provider ended tracking (shutdown = signed, 17TRACK TRACKING_STOPPED) or the parcel is done
  'failed', // refused for this number (Kuaidi100 700/701/702, monthly cap, Kdniao failure): polled instead
  'key_error', // the account key was refused (Kuaidi100 600/601): polled instead until an operator fixes it
  'poll_only', // the shipment's provider runs in poll mode
] as const;
export type SubscriptionState = (typeof SUBSCRIPTION_STATES)[number];

/**
 * Push subscription of each shipment, one row made by the `shipments_subscription_rows` trigger (migration
 * 0007) for every insert path, kept apart from `shipments` like shipment_schedule and for the same reason.
 */
export const shipmentSubscriptions = pgTable(
  'shipment_subscriptions',
  {
    // No foreign key (see shipment_schedule): triggers delete the row with its shipment.
    shipmentId: bigint('shipment_id', { mode: 'number' }).primaryKey(),
    state: text('state').notNull().default('pending'),
    provider: text('provider'),
    /** Carrier and number as subscribed: a change of either on the shipment re-subscribes (trigger). */
    carrier: text('carrier'),
    trackingNo: text('tracking_no'),
    /** Calendar month (YYYY-MM, business time zone) that attemptsThisMonth counts. */
    month: text('month'),
    attemptsThisMonth: integer('attempts_this_month').notNull().default(0),
    /** When the subscribe planner should (re)try; NULL = nothing to do. */
    nextAttemptAt: tz('next_attempt_at'),
    subscribedAt: tz('subscribed_at'),
    lastPushAt: tz('last_push_at'),
    pushes: integer('pushes').notNull().default(0),
    lastReplyCode: text('last_reply_code'),
    lastReplyMessage: text('last_reply_message'),
    /** Kuaidi100 abort message ("3天查询无记录", "60天无变化"). */
    abortReason: text('abort_reason'),
    abortedAt: tz('aborted_at'),
    /** The one re-subscription after an abort was made. */
    resubscribedAfterAbort: boolean('resubscribed_after_abort').notNull().default(false),
    updatedAt: tz('updated_at'),
  },
  (t) => [index('shipment_subscriptions_next_attempt_at_idx').on(t.nextAttemptAt).where(sql`${t.nextAttemptAt} is not null`)],
);

/** Every accepted push item, raw, with what it added (audit; the events themselves are in tracking_events). */
export const pushReceipts = pgTable(
  'push_receipts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    provider: text('provider').notNull(),
    trackingNo: text('tracking_no').notNull(),
    shipmentId: bigint('shipment_id', { mode: 'number' }),
    /** Provider's push kind: polling, shutdown, abort, updateall (Kuaidi100), 101 (Kdniao), TRACKING_UPDATED/STOPPED (17TRACK), or malformed. */
    kind: text('kind').notNull(),
    newEvents: integer('new_events').notNull().default(0),
    raw: text('raw'),
    receivedAt: tz('received_at').notNull(),
  },
  (t) => [
    index('push_receipts_received_at_idx').on(t.receivedAt),
    index('push_receipts_shipment_id_idx').on(t.shipmentId).where(sql`${t.shipmentId} is not null`),
  ],
);

/** Pushes for numbers we do not track: acknowledged (so the provider stops), counted here once per number. */
export const pushOrphans = pgTable(
  'push_orphans',
  {
    provider: text('provider').notNull(),
    trackingNo: text('tracking_no').notNull(),
    carrier: text('carrier'),
    count: integer('count').notNull().default(1),
    firstAt: tz('first_at').notNull(),
    lastAt: tz('last_at').notNull(),
    /** The latest push body for this number (clipped). */
    raw: text('raw'),
  },
  (t) => [primaryKey({ columns: [t.provider, t.trackingNo] })],
);
