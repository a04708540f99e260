import { sql } from 'drizzle-orm';
import { bigint, bigserial, index, integer, jsonb, numeric, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { orders } from './orders.js';

const tz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * A call an agent should make. At most one active (open|claimed) task per order — the customer is
 * never called twice about one order — enforced by a partial unique index.
 */
export const outreachTasks = pgTable(
  'outreach_tasks',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    orderId: bigint('order_id', { mode: 'number' })
      .notNull()
      .references(() => orders.id, { onDelete: 'cascade' }),
    /** open → claimed → done | cancelled */
    status: text('status').notNull().default('open'),
    /** Type of the most severe open exception. */
    type: text('type').notNull(),
    severity: text('severity').notNull(),
    priority: integer('priority').notNull(),
    reason: text('reason').notNull(),
    script: text('script').notNull(),
    dueBy: tz('due_by').notNull(),
    agent: text('agent'),
    outcome: text('outcome'),
    compensationYuan: numeric('compensation_yuan', { precision: 10, scale: 2, mode: 'number' }),
    notes: text('notes'),
    cancelReason: text('cancel_reason'),
    /** Bumped on every change the agents' channels must hear about. */
    version: integer('version').notNull().default(1),
    /** The highest exceptions.change_seq of its exceptions this task was last brought in step with. */
    syncedSeq: bigint('synced_seq', { mode: 'number' }).notNull().default(0),
    /** Set once when the task went past due while open and was re-notified. */
    overdueAt: tz('overdue_at'),
    snapshot: jsonb('snapshot').notNull().default(sql`'{}'::jsonb`),
    createdAt: tz('created_at').notNull(),
    updatedAt: tz('updated_at').notNull(),
    claimedAt: tz('claimed_at'),
    completedAt: tz('completed_at'),
    cancelledAt: tz('cancelled_at'),
  },
  (t) => [
    uniqueIndex('outreach_tasks_one_active_key').on(t.orderId).where(sql`${t.status} in ('open', 'claimed')`),
    index('outreach_tasks_status_priority_idx').on(t.status, t.priority, t.dueBy),
  ],
);

/** Each message to an agents' channel, one row per (task, channel, event, version). */
export const outreachDeliveries = pgTable(
  'outreach_deliveries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    taskId: bigint('task_id', { mode: 'number' })
      .notNull()
      .references(() => outreachTasks.id, { onDelete: 'cascade' }),
    channel: text('channel').notNull(),
    /** outreach.created | outreach.updated | outreach.cancelled | outreach.overdue */
    event: text('event').notNull(),
    version: integer('version').notNull(),
    /** pending | sent | failed */
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    createdAt: tz('created_at').notNull(),
    sentAt: tz('sent_at'),
    /** Owned until then by a send in flight or a retry chain in its backoff (no transaction across the call). */
    leaseUntil: tz('lease_until'),
    /** Retry chain number: part of the job id, bumped on every re-queue so no old job id swallows it. */
    chain: integer('chain').notNull().default(0),
  },
  (t) => [
    uniqueIndex('outreach_deliveries_key').on(t.taskId, t.channel, t.event, t.version),
    index('outreach_deliveries_unsent_idx').on(t.id).where(sql`${t.status} <> 'sent'`),
  ],
);
