import type { Sql } from './client.js';

/**
 * A transaction in two round trips instead of sql.begin's four: BEGIN goes down the wire with the first
 * statement, COMMIT with the last ones (postgres.js pipelines queries on a reserved connection). `last`
 * gets the first statement's result and returns its statements, already issued (each query function
 * must send its query without awaiting anything else first), and the caller's result.
 * If a last statement fails, Postgres answers the COMMIT of the aborted transaction with a rollback and
 * the statement's error is thrown; if the first fails, nothing else is sent and the transaction is
 * rolled back.
 */
export async function pipelinedTransaction<F, R>(
  sql: Sql,
  first: (tx: Sql) => Promise<F>,
  last: (tx: Sql, firstResult: F) => { result: R; statements: Promise<unknown>[] },
): Promise<R> {
  const tx = await sql.reserve();
  let open = false;
  try {
    const begun = tx`begin`.execute();
    open = true;
    const [b, f] = await Promise.allSettled([begun, first(tx)]);
    if (b.status === 'rejected') throw b.reason;
    if (f.status === 'rejected') throw f.reason;
    const { result, statements } = last(tx, f.value);
    // A query goes on the wire in the order its handler runs, a few microtask hops after its function
    // awaits it; COMMIT must not overtake them, so it is sent once the microtask queue has drained.
    await new Promise((r) => setImmediate(r));
    const outcomes = await Promise.allSettled([...statements, tx`commit`.execute()]);
    open = false;
    const failed = outcomes.find((o) => o.status === 'rejected');
    if (failed) throw failed.reason;
    return result;
  } catch (err) {
    if (open) await tx`rollback`.catch(() => {});
    throw err;
  } finally {
    tx.release();
  }
}

