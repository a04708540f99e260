// Child of postgres-driver.test.ts: a reserved connection (sql.reserve(), what db/pipelined-transaction.ts
// uses) or a transaction (sql.begin) whose backend dies while statements are pipelined behind one that is
// still describing its parameters: postgres.js keeps those in a queue of the reservation, which a closed
// connection never drained, so they waited forever (a poll flush, and every poll job behind it, hung after a
// Postgres restart in the fault suite). Then the reservation is released and the pool is used again.
// Prints one summary line: how the queued statement ended (rejected / hung) and how many of 10 later pool
// queries answered. With PG_FIX=1 the repair hook (bin/postgres-fix.mjs) is registered first; with
// PG_FIX=connection only its repairs of src/connection.js (without them this crashes before it shows anything).
import { register } from 'node:module';

if (process.env.PG_FIX === '1') register('../../bin/postgres-fix.mjs', import.meta.url);
if (process.env.PG_FIX === 'connection') register('./pg-fix-connection-only.mjs', import.meta.url);
process.on('unhandledRejection', () => {}); // the abandoned statements' own rejections are not the point here
const { default: postgres } = await import('postgres');
const sql = postgres(process.env.PG_URL, { max: 2, onnotice: () => {}, connect_timeout: 5 });
const admin = postgres(process.env.PG_URL, { max: 1, onnotice: () => {} });
await sql`select 1`;

const settle = (p, ms) => Promise.race([p.then(() => 'resolved', () => 'rejected'), new Promise((r) => setTimeout(r, ms, 'hung'))]);
const kill = async (pid) => {
  await new Promise((r) => setTimeout(r, 100)); // the statements are on their way
  await admin`select pg_terminate_backend(${pid})`;
};

let queuedOutcome;
if (process.env.MODE === 'begin') {
  let queued;
  const done = sql.begin(async (tx) => {
    const [{ pid }] = await tx`select pg_backend_pid() as pid`;
    // A statement new to this connection with a parameter is described first: the connection counts as
    // full, and the next statement waits in the transaction's own queue.
    const slow = tx`select pg_sleep(${1})`;
    queued = tx`select ${2}::int as n`;
    void kill(pid);
    return Promise.all([slow, queued]);
  });
  await settle(done, 5000);
  queuedOutcome = await settle(queued, 3000);
} else {
  const tx = await sql.reserve();
  const [{ pid }] = await tx`select pg_backend_pid() as pid`;
  // Sent now (a query is lazy until awaited): the first is being described, the second waits behind it.
  const slow = tx`select pg_sleep(${1})`.execute();
  const queued = tx`select ${2}::int as n`.execute();
  await kill(pid);
  await settle(slow, 5000);
  queuedOutcome = await settle(queued, 3000);
  tx.release();
}
let answered = 0;
for (let i = 0; i < 10; i++) {
  const r = await settle(sql`select ${i}::int as n`.then((rows) => (rows[0].n === i ? 1 : Promise.reject(new Error('wrong')))), 3000);
  if (r === 'resolved') answered++;
}
process.stdout.write(`done queued=${queuedOutcome} answered=${answered}\n`);
process.exit(0);
