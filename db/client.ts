import postgres from 'postgres';

export type Sql = postgres.Sql;
/** A pool or a transaction: query functions accept either. */
export type SqlOrTx = postgres.Sql | postgres.TransactionSql;

export interface DbHandle {
  sql: Sql;
  /**
   * Resolves once the first connection has loaded the server's array types. postgres.js serialises a
   * number[] parameter (`${ids}::bigint[]`) with the array serializer learned then; a query racing that
   * first load fails with "malformed array literal". Await this before running jobs.
   */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export interface DbOptions {
  url: string;
  poolSize: number;
  /** Called when a connection-level error is seen (logged, never fatal: postgres.js reconnects on next use). */
  onNotice?: (msg: string) => void;
}

/**
 * One pool per process. Queries are hand-written set-based SQL (unnest, ON CONFLICT); the drizzle schema in
 * db/schema is the source of the committed migrations. The pool is not handed to drizzle because drizzle's
 * postgres-js driver replaces the client's date parsers and serializers, which breaks Date parameters.
 * postgres.js reconnects lazily, so a lost Postgres is retried on the next query. */
export function createDb(opts: DbOptions): DbHandle {
  const sql = postgres(opts.url, {
    max: opts.poolSize,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    transform: { undefined: null },
  });
  let closed: Promise<void> | undefined;
  let ready: Promise<void> | undefined;
  return {
    sql,
    ready: () => (ready ??= sql`select 1`.then(() => undefined)),
    close: () => (closed ??= sql.end({ timeout: 5 })),
  };
}
