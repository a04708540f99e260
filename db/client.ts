import postgres from 'postgres';

export type Sql = postgres.Sql;
/** A pool or a transaction: query functions accept either. */
export type SqlOrTx = postgres.Sql | postgres.TransactionSql;

export interface DbHandle {
  sql: Sql;
  close(): Promise<void>;
}

export interface DbOptions {
  url: string;
  poolSize: number;
  /** Called when a connection-level error is seen (logged, never fatal: postgres.js reconnects on next use). */
  onNotice?: (msg: string) => void;
}

/**
 * One pool per process, returned once it can take queries. Queries are hand-written set-based SQL (unnest, ON CONFLICT); the drizzle schema in
 * db/schema is the source of the committed migrations. The pool is not handed to drizzle because drizzle's
 * postgres-js driver replaces the client's date parsers and serializers, which breaks Date parameters.
 * postgres.js reconnects lazily, so a lost Postgres is retried on the next query. */
export async function createDb(opts: DbOptions): Promise<DbHandle> {
  const sql = postgres(opts.url, {
    max: opts.poolSize,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    transform: { undefined: null },
  });
  // postgres.js serialises a number[] parameter (`${ids}::bigint[]`) with the array types the first connection
  // loads; a query racing that load fails with "malformed array literal". Nobody gets the pool before it is done.
  try {
    await sql`select 1`;
  } catch (err) {
    await sql.end({ timeout: 1 });
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    sql,
    close: () => (closed ??= sql.end({ timeout: 5 })),
  };
}
