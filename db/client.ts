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
  /** Server-side statement_timeout (ms) of every connection; 0 or absent = none (migrations, bulk imports). */
  statementTimeoutMs?: number;
  /** Called when a connection-level error is seen (logged, never fatal: postgres.js reconnects on next use). */
  onNotice?: (msg: string) => void;
  /** The pool's name in diagnostics (poolStates). */
  name?: string;
}

/** Open pools of this process, for diagnostics. */
const livePools = new Map<Sql, string>();

/**
 * What each open pool is doing (bin/postgres-fix.mjs adds `poolState` to postgres.js): connections per queue,
 * statements waiting for a connection, and the connections neither idle nor closed. Empty where the driver
 * was loaded without the hook (tests in-process).
 */
export function poolStates(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [sql, name] of livePools) {
    const state = (sql as unknown as { poolState?: () => unknown }).poolState;
    if (state) out[out[name] ? `${name}#2` : name] = state();
  }
  return out;
}

/**
 * One pool per process, returned once it can take queries. Queries are hand-written set-based SQL (unnest, ON CONFLICT); the drizzle schema in
 * db/schema is the source of the committed migrations. The pool is not handed to drizzle because drizzle's
 * postgres-js driver replaces the client's date parsers and serializers, which breaks Date parameters.
 * postgres.js reconnects lazily, so a lost Postgres is retried on the next query. */
export async function createDb(opts: DbOptions): Promise<DbHandle> {
  assertDatabaseUrl(opts.url);
  const sql = postgres(opts.url, {
    max: opts.poolSize,
    idle_timeout: 30,
    connect_timeout: CONNECT_TIMEOUT_S,
    backoff: reconnectBackoff,
    onnotice: () => {},
    transform: { undefined: null },
    ...(opts.statementTimeoutMs ? { connection: { statement_timeout: opts.statementTimeoutMs } } : {}),
  });
  // postgres.js serialises a number[] parameter (`${ids}::bigint[]`) with the array types the first connection
  // loads; a query racing that load fails with "malformed array literal". Nobody gets the pool before it is done.
  try {
    await sql`select 1`;
  } catch (err) {
    await sql.end({ timeout: 1 });
    throw explainDatabaseError(opts.url, err).error;
  }
  let closed: Promise<void> | undefined;
  livePools.set(sql, opts.name ?? 'db');
  return {
    sql,
    close: () => (closed ??= (livePools.delete(sql), sql.end({ timeout: 5 }))),
  };
}

/**
 * Seconds before a pooled connection tries again, after `retries` failed connection attempts (postgres.js counts
 * them across the pool, and resets the count on a successful connect). The driver's default grows to 10–20 s after
 * a dozen failures, which a pool makes within a minute of outage: once Postgres was back, a statement still waited
 * up to 20 s for its connection's timer. The fault suite saw that as a stop held past its grace, the shutdown line
 * showing a connection `connecting` with no socket and a statement waiting on it. Capped at 2 s; the jitter keeps a
 * pool's connections from retrying in step.
 */
export function reconnectBackoff(retries: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** retries, 2);
}

/** Seconds a new connection may take to answer its startup (a host that accepts and never answers). */
export const CONNECT_TIMEOUT_S = 10;

/** DATABASE_URL names something that does not exist or may not log in: retrying cannot help. */
export class DatabaseUrlError extends Error {
  override name = 'DatabaseUrlError';
}

/** Postgres error codes that no retry fixes: unknown database, unknown role, wrong password. */
const PERMANENT_CODES = new Set(['3D000', '28000', '28P01']);

/** host:port/database of a Postgres URL, without credentials (for messages). */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || 5432}${u.pathname || '/'}`;
  } catch {
    return '(unparsable)';
  }
}

/** A malformed DATABASE_URL fails at once, before any connection attempt. */
export function assertDatabaseUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DatabaseUrlError('DATABASE_URL is not a valid URL (expected postgres://user@host:port/database)');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new DatabaseUrlError(`DATABASE_URL must start with postgres:// or postgresql://, not ${u.protocol}//`);
  }
}

/**
 * A connection error said in terms of DATABASE_URL: permanent ones (database or role unknown, password
 * wrong, malformed URL) are DatabaseUrlError and are not retried; a host that accepted the connection but
 * did not answer within CONNECT_TIMEOUT_S says so.
 */
export function explainDatabaseError(url: string, err: unknown): { permanent: boolean; error: Error } {
  if (err instanceof DatabaseUrlError) return { permanent: true, error: err };
  const e = err as Error & { code?: string };
  const where = `DATABASE_URL (${describeDatabaseUrl(url)})`;
  if (e?.code === 'ERR_INVALID_URL') return { permanent: true, error: new DatabaseUrlError('DATABASE_URL is not a valid URL') };
  if (e?.name === 'PostgresError' && e.code && PERMANENT_CODES.has(e.code)) {
    return { permanent: true, error: new DatabaseUrlError(`${where}: ${e.message}`) };
  }
  if (e?.code === 'CONNECT_TIMEOUT') {
    return { permanent: false, error: Object.assign(new Error(`${where}: Postgres accepted the connection but did not answer within ${CONNECT_TIMEOUT_S} s (connect timeout)`), { code: e.code }) };
  }
  return { permanent: false, error: e instanceof Error ? e : new Error(String(err)) };
}
