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
// More repairs below (each with its why): a connection cut during its startup, a dead backend's error replayed,
// statements queued on a reserved or transaction connection that closed; src/index.js is repaired too.
const TARGET = /\/node_modules\/postgres\/src\/(connection|index)\.js$/;

/** src/connection.js: one connection's socket and protocol state. */
const CONNECTION = [
  [
    "function execute(q) {\n    if (terminated)\n      return queryError(q, Errors.connection('CONNECTION_DESTROYED', options))\n",
    "function execute(q) {\n    if (terminated)\n      return queryError(q, Errors.connection('CONNECTION_DESTROYED', options))\n    if (!socket)\n      return (queryError(q, Errors.connection('CONNECTION_CLOSED', options)), true)\n",
  ],
  ['  function nextWrite(fn) {\n', '  function nextWrite(fn) {\n    if (!socket)\n      return (chunk = nextWriteTimer = null, false)\n'],
  ['    clearImmediate(nextWriteTimer)\n    if (socket) {', '    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n    if (socket) {'],
  ['    clearImmediate(nextWriteTimer)\n    socket.removeListener', '    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n    socket.removeListener'],
  // A connection that closes while it is still starting up (`initial` set: the array-type query in flight)
  // reconnects, but kept that query as the one awaiting an answer: the next socket's first reply went to it
  // and the error the dying backend sent (FATAL 57P01 on an immediate shutdown): the next socket's first
  // ReadyForQuery failed the user's query with the old backend's error (#1223). What belonged to the dead
  // socket fails now, and the reconnect starts clean.
  [
    '    if (initial)\n      return reconnect()\n',
    "    if (initial) {\n      const stale = Errors.connection('CONNECTION_CLOSED', options)\n      query && queryError(query, stale)\n      while (sent.length)\n        queryError(sent.shift(), stale)\n      query = results = errorResponse = null\n      return reconnect()\n    }\n",
  ],
  // The same for a connection that was past its startup: its statements have failed above, but `query` and the
  // dead backend's error stayed, and the next connection's startup replayed that error onto its first query.
  [
    "    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))\n",
    "    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))\n    query = results = errorResponse = null\n",
  ],
  // fetchArrayTypes() is async and its promise was dropped: when its query fails (the connection died during
  // startup, the reconnect refused), the rejection had no handler and Node ended the process (#1192, #1205;
  // seen in the fault suite as `unhandled rejection: connect ECONNREFUSED` mid-restart). The user's own query
  // fails or succeeds on its own; the next connection fetches the types again.
  ['        return fetchArrayTypes()\n', '        return fetchArrayTypes().catch(() => {})\n'],
];

/**
 * src/index.js: the pool, sql.reserve() (db/pipelined-transaction.ts, the order import) and sql.begin. Found by
 * the fault suite after the repairs above: a poll flush, and every poll job waiting behind it, hung forever
 * after a Postgres immediate restart (the daemon then went quiet and 150 parcels were never polled again).
 */
const INDEX = [
  // A reserved connection that closed left the statements waiting in the reservation's own queue (pipelined
  // behind one still being described) unsettled forever, and release() then put the dead connection in the
  // `open` queue, where it failed the next pool statement. Now the close fails what waits, a statement on a
  // reservation whose connection closed fails at once, and release() of one the pool has taken back is a no-op.
  [
    '    const sql = Sql(handler)\n    sql.release = () => {\n      c.reserved = null\n      onopen(c)\n    }\n',
    "    c.onclose = (e) => {\n      while (queue.length)\n        queue.shift().reject(e)\n    }\n    const sql = Sql(handler)\n    sql.release = () => {\n      if (!c.reserved)\n        return\n      c.reserved = null\n      c.onclose = null\n      onopen(c)\n    }\n",
  ],
  [
    '    function handler(q) {\n      c.queue === full\n        ? queue.push(q)\n',
    "    function handler(q) {\n      if (!c.reserved)\n        return q.reject(Errors.connection('CONNECTION_CLOSED', options))\n      c.queue === full\n        ? queue.push(q)\n",
  ],
  // A reserve() whose connection attempt failed stayed in the pool's waiting list: the next connection to open
  // was handed to that settled promise and never came back (one pooled connection lost per failed attempt).
  ['        const query = { reserve: resolve, reject }\n', '        const query = { reserve: resolve, reject: (e) => (queries.remove(query), reject(e)) }\n'],
  // sql.begin: the transaction fails when its connection closes, but the statements waiting in its queue were
  // never settled (its callback hung), and a statement issued after the close went to whatever the connection
  // had become (reconnecting for, or serving, another caller) outside any transaction. Now both fail.
  [
    '        new Promise((_, reject) => connection.onclose = reject)\n',
    '        new Promise((_, reject) => connection.onclose = (e) => {\n          while (queries.length)\n            queries.shift().reject(e)\n          reject(e)\n        })\n',
  ],
  [
    '      function handler(q) {\n        q.catch(e => uncaughtError || (uncaughtError = e))\n        c.queue === full\n',
    "      function handler(q) {\n        q.catch(e => uncaughtError || (uncaughtError = e))\n        if (!c.reserved)\n          return q.reject(Errors.connection('CONNECTION_CLOSED', options))\n        c.queue === full\n",
  ],
];

// Not a repair: what the pool is doing, for the daemon's "shutdown still waiting" line (worker/daemon.ts), so a
// stop held by a database call names where it waits. `sql.poolState()`: connections per queue, statements waiting
// for a connection, and each connection that is neither idle nor closed (its queue, socket, statements in flight,
// statements queued on its reservation or transaction).
CONNECTION.push([
  '    count: 0,\n    id\n  }',
  "    count: 0,\n    id,\n    get state() {\n      return { socket: socket ? socket.readyState : null, active: !!query, pipelined: sent.length, starting: initial ? (initial.reserve ? 'reserve' : 'query') : null, queued: connection.reserved && connection.reserved.pending ? connection.reserved.pending() : 0 }\n    }\n  }",
]);
INDEX.push(
  ['    begin,\n    close,\n    end\n  })\n', '    begin,\n    close,\n    end,\n    poolState\n  })\n'],
  [
    '  function move(c, queue) {\n',
    "  function poolState() {\n    const names = new Map(Object.entries(queues).map(([k, q]) => [q, k]))\n    return {\n      queues: Object.fromEntries(Object.entries(queues).map(([k, q]) => [k, q.length])),\n      waiting: queries.length,\n      busy: connections.filter(c => c.queue !== open && c.queue !== closed && c.queue !== ended).map(c => ({ id: c.id, queue: names.get(c.queue), reserved: !!c.reserved, ...c.state }))\n    }\n  }\n\n  function move(c, queue) {\n",
  ],
  ['    c.reserved.release = true\n', '    c.reserved.release = true\n    c.reserved.pending = () => queue.length\n'],
  [
    '    function onexecute(c) {\n      connection = c\n      move(c, reserved)\n      c.reserved = () => queries.length\n        ? c.execute(queries.shift())\n        : move(c, reserved)\n    }\n',
    '    function onexecute(c) {\n      connection = c\n      move(c, reserved)\n      c.reserved = () => queries.length\n        ? c.execute(queries.shift())\n        : move(c, reserved)\n      c.reserved.pending = () => queries.length\n    }\n',
  ],
);

export const REPAIRS = { 'connection.js': CONNECTION, 'index.js': INDEX };

/** The repaired source, or the source unchanged when any line to repair is not found (fixed upstream). */
export function repair(source, file = 'connection.js') {
  const lines = REPAIRS[file];
  if (!lines || !lines.every(([from]) => source.includes(from))) return source;
  return lines.reduce((s, [from, to]) => s.replace(from, to), source);
}

export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  const m = TARGET.exec(url);
  if (!m || result.source == null) return result;
  return { ...result, source: repair(String(result.source), `${m[1]}.js`) };
}
