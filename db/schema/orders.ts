import { sql } from 'drizzle-orm';
import { bigserial, index, numeric, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

const tz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** One marketplace order, upserted by (platform, external_id). */
export const orders = pgTable(
  'orders',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    platform: text('platform').notNull(),
    /** The marketplace's order id (orderId on the API). */
    externalId: text('external_id').notNull(),
    /** normal | presale | custom — presale and custom are judged against promised_ship_by, not 72 h. */
    type: text('type').notNull().default('normal'),
    paidAt: tz('paid_at').notNull(),
    promisedShipBy: tz('promised_ship_by'),
    /** Order amount in yuan. */
    amount: numeric('amount', { precision: 12, scale: 2, mode: 'number' }).notNull().default(0),
    currency: text('currency').notNull().default('CNY'),
    customerName: text('customer_name'),
    customerPhone: text('customer_phone'),
    customerHandle: text('customer_handle'),
    /**
     * Next instant at which a rule could change the verdict on the order itself (only for orders with
     * no shipment yet: the most common late-shipment case). NULL = nothing to re-check.
     */
    nextCheckAt: tz('next_check_at'),
    createdAt: tz('created_at').notNull().defaultNow(),
    updatedAt: tz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('orders_platform_external_id_key').on(t.platform, t.externalId),
    index('orders_next_check_at_idx').on(t.nextCheckAt).where(sql`${t.nextCheckAt} is not null`),
    index('orders_external_id_idx').on(t.externalId),
  ],
);
