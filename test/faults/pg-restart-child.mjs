// Child of postgres-driver.test.ts: four loops of two-statement transactions against PG_URL while the
// parent restarts Postgres. Prints "survived" and exits 0 when every loop got through; an uncaught
// exception ends the process with 3 and its message. With PG_FIX=1 the repair hook is registered first.
import { register } from 'node:module';

if (process.env.PG_FIX === '1') register('../../bin/postgres-fix.mjs', import.meta.url);
process.on('uncaughtException', (err) => {
  process.stdout.write(`uncaught: ${err.message}\n`);
  process.exit(3);
});
const { default: postgres } = await import('postgres');
const sql = postgres(process.env.PG_URL, { max: 4, onnotice: () => {}, connect_timeout: 5 });
await sql`select 1`;
process.stdout.write('running\n');
let ok = 0;
const deadline = Date.now() + Number(process.env.RUN_MS ?? 6000);
await Promise.all(
  [0, 1, 2, 3].map(async () => {
    while (Date.now() < deadline) {
      try {
        await sql.begin(async (tx) => {
          await tx`select pg_sleep(0.02)`;
          await tx`select 1`;
        });
        ok++;
      } catch (err) {
        if (process.env.DEBUG_CHILD) process.stdout.write(`${Date.now() % 100000} ${err.message}\n`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }),
);
// Work again after the restart: every pooled connection must be usable (none left with a stale write).
if (process.env.DEBUG_CHILD) process.stdout.write(`${Date.now() % 100000} loops done\n`);
// The parent may still be restarting the server when the loops end: retry for a while (a failed statement
// is fine, one that never settles is the defect — Node then exits 13 on this unsettled await).
let rows = [];
for (let attempt = 0; ; attempt++) {
  try {
    rows = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((i) => sql`select ${i}::int as i`));
    break;
  } catch (err) {
    if (attempt >= 50) throw err;
    await new Promise((r) => setTimeout(r, 200));
  }
}
process.stdout.write(`survived ok=${ok} after=${rows.length}\n`);
await sql.end({ timeout: 2 });
