import { sql } from 'drizzle-orm';
import { bigint, bigserial, index, jsonb, numeric, pgSequence, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { orders } from './orders.js';
import { shipments } from './shipments.js';

const tz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Orders every change of an exception (insert, escalation, resolution). A task remembers the highest
 * number it has seen, so "changed since the task was synced" is a comparison of counters that never
 * tie, unlike timestamps when several jobs run at one instant.
 */
export const exceptionChangeSeq = pgSequence('exception_change_seq');

/**
 * One detected problem. At most one OPEN exception per (order, shipment, type), enforced by a partial
 * unique index, so replays, double sweeps and replicas can only ever update it.
 */
export const exceptions = pgTable(
  'exceptions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    orderId: bigint('order_id', { mode: 'number' })
      .notNull()
      .references(() => orders.id, { onDelete: 'cascade' }),
    /** NULL for an order-level exception (paid, no shipment yet). */
    shipmentId: bigint('shipment_id', { mode: 'number' }).references(() => shipments.id, { onDelete: 'cascade' }),
    /** late_shipment | fake_shipment_risk | undelivered_3d | tracking_stalled | carrier_problem | delivery_overdue | pickup_overdue */
    type: text('type').notNull(),
    /** info | warning | critical | breach */
    severity: text('severity').notNull(),
    /** open | resolved */
    status: text('status').notNull().default('open'),
    openedAt: tz('opened_at').notNull(),
    escalatedAt: tz('escalated_at'),
    resolvedAt: tz('resolved_at'),
    resolution: text('resolution'),
    /** The instant the rule measures against (ship deadline for late_shipment). */
    deadlineAt: tz('deadline_at'),
    /** Estimated buyer compensation in yuan (late_shipment). */
    penaltyYuan: numeric('penalty_yuan', { precision: 10, scale: 2, mode: 'number' }),
    details: jsonb('details').notNull().default(sql`'{}'::jsonb`),
    outreachTaskId: bigint('outreach_task_id', { mode: 'number' }),
    /** From exception_change_seq on insert and on every escalation/resolution (not on task linking). */
    changeSeq: bigint('change_seq', { mode: 'number' })
      .notNull()
      .default(sql`nextval('exception_change_seq')`),
    updatedAt: tz('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('exceptions_one_open_key')
      .on(t.orderId, sql`coalesce(${t.shipmentId}, 0)`, t.type)
      .where(sql`${t.status} = 'open'`),
    index('exceptions_status_type_idx').on(t.status, t.type, t.openedAt),
    index('exceptions_shipment_idx').on(t.shipmentId),
    index('exceptions_task_idx').on(t.outreachTaskId).where(sql`${t.outreachTaskId} is not null`),
    index('exceptions_open_unlinked_idx').on(t.orderId).where(sql`${t.status} = 'open' and ${t.outreachTaskId} is null`),
  ],
);

/** Audit trail: every open, escalation and resolution with its time. */
export const exceptionHistory = pgTable(
  'exception_history',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    exceptionId: bigint('exception_id', { mode: 'number' })
      .notNull()
      .references(() => exceptions.id, { onDelete: 'cascade' }),
    /** opened | escalated | resolved */
    action: text('action').notNull(),
    fromSeverity: text('from_severity'),
    toSeverity: text('to_severity'),
    note: text('note'),
    at: tz('at').notNull(),
  },
  (t) => [index('exception_history_exception_idx').on(t.exceptionId)],
);
