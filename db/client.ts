import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema/index.js';

export type Sql = postgres.Sql;
/** A pool or a transaction: query functions accept either. */
export type SqlOrTx = postgres.Sql | postgres.TransactionSql;
export type Db = PostgresJsDatabase<typeof schema>;

export interface DbHandle {
  sql: Sql;
  db: Db;
  close(): Promise<void>;
}

export interface DbOptions {
  url: string;
  poolSize: number;
  /** Called when a connection-level error is seen (logged, never fatal: postgres.js reconnects on next use). */
  onNotice?: (msg: string) => void;
}

/** One pool per process. postgres.js reconnects lazily, so a lost Postgres is retried on the next query. */
export function createDb(opts: DbOptions): DbHandle {
  const sql = postgres(opts.url, {
    max: opts.poolSize,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    // Large ingests pass arrays through unnest(); keep types explicit in SQL instead of fetching them.
    fetch_types: false,
    transform: { undefined: null },
  });
  const db = drizzle(sql, { schema });
  let closed: Promise<void> | undefined;
  return {
    sql,
    db,
    close: () => (closed ??= sql.end({ timeout: 5 })),
  };
}
