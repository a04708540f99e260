// Child of postgres-driver.test.ts: a connection that dies while postgres.js is still starting it up
// (fetching the array types, the first statement of every new connection) — what a Postgres restart does to
// the connections the pool is opening at that moment (porsager/postgres#1192, #1223).
//
// A TCP proxy in front of PG_URL cuts the first connection as soon as the driver sends its array-type
// query. With MODE=refuse the proxy also stops listening for a moment, so the driver's reconnect is refused
// (ECONNREFUSED), as a server still down would. Then 20 numbered queries run one after the other on a pool
// of one connection; each must answer its own number or fail, never hang or answer another's.
// MODE=reserve-refused: see below. Prints one summary line; an unhandled rejection ends the process with 4 and its message.
// With PG_FIX=1 the repair hook (bin/postgres-fix.mjs) is registered first; PG_FIX=connection: its
// repairs of src/connection.js only.
import { register } from 'node:module';
import net from 'node:net';

if (process.env.PG_FIX === '1') register('../../bin/postgres-fix.mjs', import.meta.url);
if (process.env.PG_FIX === 'connection') register('./pg-fix-connection-only.mjs', import.meta.url);
process.on('unhandledRejection', (err) => {
  process.stdout.write(`unhandled: ${err?.message ?? err}\n`);
  process.exit(4);
});
const { default: postgres } = await import('postgres');

const target = new URL(process.env.PG_URL);
let cut = false;
let userQueries = 0;
/** MODE=late: the connection is cut (FATAL 57P01 first) at the 6th numbered query instead, well past its startup. */
const cutsHere = (d) =>
  process.env.MODE === 'late' ? d.includes('::int as n') && ++userQueries === 6 : d.includes('pg_catalog.pg_type');
let server;
function listen(port) {
  // port 0 the first time; the same port again after MODE=refuse's pause
  server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    const first = !cut;
    client.on('data', (d) => {
      if (first && !cut && cutsHere(d)) {
        cut = true;
        // MODE=terminate: the server's last words first, as an immediate shutdown or pg_terminate_backend sends them.
        if (process.env.MODE === 'terminate' || process.env.MODE === 'late') client.write(fatal57P01());
        client.end();
        client.destroy();
        upstream.destroy();
        if (process.env.MODE === 'refuse') {
          // Down for a moment: the reconnect (postgres.js waits no backoff for a first retry) is refused.
          const same = server.address().port;
          server.close();
          setTimeout(() => listen(same), 400);
        }
        return;
      }
      upstream.write(d);
    });
    upstream.on('data', (d) => client.write(d));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.on('error', (e) => process.stdout.write(`proxy: ${e.message}\n`));
  return new Promise((r) => server.listen(port, '127.0.0.1', () => r(server.address().port)));
}
/** ErrorResponse FATAL 57P01, byte for byte as Postgres sends it before closing a terminated backend. */
function fatal57P01() {
  const fields = Buffer.from('SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0');
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}
const port = await listen(0);
const url = new URL(process.env.PG_URL);
url.port = String(port);
// Unnamed statements: every query's text goes down the wire, so the proxy can count them.
const sql = postgres(url.href, { max: 1, onnotice: () => {}, connect_timeout: 5, prepare: false });

// MODE=reserve-refused: the proxy is down when sql.reserve() asks for a connection (the attempt is refused and
// the reserve fails), then up again before the numbered queries.
if (process.env.MODE === 'reserve-refused') {
  cut = true;
  await new Promise((r) => server.close(r));
  const refused = await sql.reserve().then((tx) => (tx.release(), 'reserved'), (e) => e.code);
  if (refused !== 'ECONNREFUSED') process.stdout.write(`reserve: ${refused}\n`);
  await listen(port);
}

let ok = 0;
let failed = 0;
let wrong = 0;
let hung = 0;
for (let i = 0; i < 20; i++) {
  const q = sql`select ${i}::int as n`;
  const outcome = await Promise.race([
    q.then((rows) => (rows[0]?.n === i ? 'ok' : 'wrong'), (e) => (process.env.DEBUG_CHILD && process.stdout.write(`${i} ${e.message}\n`), 'failed')),
    new Promise((r) => setTimeout(r, 5000, 'hung')),
  ]);
  if (outcome === 'ok') ok++;
  else if (outcome === 'wrong') wrong++;
  else if (outcome === 'failed') failed++;
  else {
    hung++;
    break;
  }
  if (outcome !== 'ok') await new Promise((r) => setTimeout(r, 500));
}
// Give a late rejection of the cut connection's statements time to surface.
await new Promise((r) => setTimeout(r, 300));
process.stdout.write(`done ok=${ok} failed=${failed} wrong=${wrong} hung=${hung}\n`);
process.exit(0);
