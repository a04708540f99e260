// Module load hook: a small repair of postgres.js 3.4.x (porsager/postgres#1154, #1208, PRs #1168/#1176,
// unreleased upstream). When Postgres restarts, a transaction whose statement was in flight is rolled back
// by postgres.js itself on the connection that just closed: execute() queues the write behind a
// setImmediate, and nextWrite() then calls write on the nulled socket — an uncaught TypeError outside any
// promise, which killed the daemon (exit 1) in 4 of 5 fault trials. The teardown also leaves the write
// timer and buffer set, so the connection's next startup message was never flushed.
// Repaired here: a statement for a connection without a socket fails with CONNECTION_CLOSED (a normal,
// catchable error: the job is retried), teardown resets the write buffer and timer, and nextWrite never
// touches a missing socket.
// That failing execute() answers "still usable" (true). Its callers read a falsy answer as "pipeline full"
// and move the connection to the `full` queue, which only a ReadyForQuery from the server ever leaves: a
// closed connection parked there is never reconnected, and once every pooled connection was parked the
// pool's next statement waited forever (seen in half the restart trials: the daemon's stop hung, a child
// exited 13 on an unsettled await). Answering true leaves it in the `closed` queue, which reconnects it for
// the next statement.
// Applied to the ESM source when it is loaded; a version whose source no longer matches (fixed upstream) is
// left alone. test/faults/postgres-driver.test.ts proves the crash, the hang and the repair on real restarts.
const TARGET = /\/node_modules\/postgres\/src\/connection\.js$/;

export const REPAIRS = [
  [
    "function execute(q) {\n    if (terminated)\n      return queryError(q, Errors.connection('CONNECTION_DESTROYED', options))\n",
    "function execute(q) {\n    if (terminated)\n      return queryError(q, Errors.connection('CONNECTION_DESTROYED', options))\n    if (!socket)\n      return (queryError(q, Errors.connection('CONNECTION_CLOSED', options)), true)\n",
  ],
  ['  function nextWrite(fn) {\n', '  function nextWrite(fn) {\n    if (!socket)\n      return (chunk = nextWriteTimer = null, false)\n'],
  ['    clearImmediate(nextWriteTimer)\n    if (socket) {', '    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n    if (socket) {'],
  ['    clearImmediate(nextWriteTimer)\n    socket.removeListener', '    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n    socket.removeListener'],
];

export function repair(source) {
  if (!REPAIRS.every(([from]) => source.includes(from))) return source;
  return REPAIRS.reduce((s, [from, to]) => s.replace(from, to), source);
}

export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (!TARGET.test(url) || result.source == null) return result;
  return { ...result, source: repair(String(result.source)) };
}
