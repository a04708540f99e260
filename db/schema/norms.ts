import { bigint, doublePrecision, index, integer, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

const tz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Parcels signed for and not yet sampled. Filled by the `shipments_transit_pending_*` triggers (migration
 * 0008) when delivered_at is first set; the refresh-norms job drains it.
 */
export const transitPending = pgTable('transit_pending', {
  shipmentId: bigint('shipment_id', { mode: 'number' }).primaryKey(),
});

/** One delivered parcel's transit time (carrier collection → delivery) and its route, if the events name one. */
export const transitSamples = pgTable(
  'transit_samples',
  {
    shipmentId: bigint('shipment_id', { mode: 'number' }).primaryKey(),
    carrier: text('carrier').notNull(),
    /** Area (city, else province) of the first located event; NULL when no event names one. */
    origin: text('origin'),
    /** Area of the delivery end (out for delivery, pickup point, delivered). */
    destination: text('destination'),
    collectedAt: tz('collected_at').notNull(),
    deliveredAt: tz('delivered_at').notNull(),
    hours: doublePrecision('hours').notNull(),
  },
  (t) => [
    index('transit_samples_route_idx').on(t.carrier, t.origin, t.destination, t.deliveredAt),
    index('transit_samples_delivered_at_idx').on(t.deliveredAt),
  ],
);

/**
 * Transit-time norms: learned (percentiles of the samples) or seed (imported). `*` is the wildcard:
 * (carrier, *, *) is a carrier's norm, (*, *, *) the global one. Looked up by the SQL function
 * `parcelwatch_norm` (route → carrier → global, learned needs norms.minSamples, seed stands in).
 */
export const transitNorms = pgTable(
  'transit_norms',
  {
    /** learned | seed */
    source: text('source').notNull(),
    carrier: text('carrier').notNull(),
    origin: text('origin').notNull(),
    destination: text('destination').notNull(),
    p50Hours: doublePrecision('p50_hours').notNull(),
    p90Hours: doublePrecision('p90_hours').notNull(),
    samples: integer('samples').notNull(),
    updatedAt: tz('updated_at').notNull(),
  },
  (t) => [primaryKey({ name: 'transit_norms_pkey', columns: [t.source, t.carrier, t.origin, t.destination] })],
);
