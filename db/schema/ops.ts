import { sql } from 'drizzle-orm';
import { bigserial, date, integer, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

const tz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** Calls used per provider per day, for daily quotas (Kdniao 1002). */
export const providerUsage = pgTable(
  'provider_usage',
  {
    provider: text('provider').notNull(),
    day: date('day', { mode: 'string' }).notNull(),
    calls: integer('calls').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.provider, t.day] })],
);

/** Operator alerts (auth failures, exhausted quotas, failed channels): one open row per key, counted. */
export const alerts = pgTable(
  'alerts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    key: text('key').notNull(),
    message: text('message').notNull(),
    count: integer('count').notNull().default(1),
    firstAt: tz('first_at').notNull(),
    lastAt: tz('last_at').notNull(),
    resolvedAt: tz('resolved_at'),
  },
  (t) => [uniqueIndex('alerts_open_key').on(t.key).where(sql`${t.resolvedAt} is null`)],
);

/** Running daemons that schedule or work jobs (one row per process, refreshed with the database's now()). */
export const daemonHeartbeats = pgTable('daemon_heartbeats', {
  instanceId: text('instance_id').primaryKey(),
  /** scheduler | worker | all */
  role: text('role').notNull(),
  host: text('host').notNull(),
  pid: integer('pid').notNull(),
  startedAt: tz('started_at').notNull(),
  seenAt: tz('seen_at').notNull(),
});
