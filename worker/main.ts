import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { ConfigError, loadConfig, redactConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createDb } from '../db/client.js';
import { listExceptions } from '../db/queries/exception-list.js';
import { listOpenAlerts } from '../db/queries/tracking.js';
import { getCarriers } from '../api/carriers.js';
import { runMigrations } from '../db/migrate.js';
import { fixedClock, systemClock } from '../domain/clock.js';
import { importOrders } from '../ingest/import-orders.js';
import { assertJobRegistry } from '../jobs/index.js';
import { seedDemoOrders } from './demo.js';
import { ROLES, startDaemon, type Role } from './daemon.js';
import { createDeps } from './deps.js';
import { createLogger } from './logger.js';
import { runOnce } from './run-once.js';
import { renderConfigDocs } from '../config/docs.js';
import { CHASES_USAGE, ChasesUsageError, chasesCommand, importChasesCommand } from './chases-cli.js';

const USAGE = `parcelwatch <command>

  start [--role all|scheduler|worker|api]   run the daemon (migrates first)
  demo                                      seed a post-Double-11 order book on the sandbox carrier and run the daemon
  run-once --now <ISO-8601> [--json]        run one full cycle at that instant, print a summary, exit
  migrate                                   apply database migrations
  config check                              validate config, print the effective config (secrets redacted)
  config docs                               print the config reference (markdown)
  import orders FILE [--format csv|ndjson] [--errors FILE]
  exceptions [--status open|resolved] [--type T] [--format table|csv|json] [--limit N]
  carriers list [--search TEXT] [--format table|json]   the carrier table: how a name in an export resolves
  alerts [--format table|json]              open ops alerts (provider auth/quota, carriers nobody recognises)
${CHASES_USAGE}`;

class UsageError extends Error {}

/** Aligned columns for people (CJK characters take two cells); long cells are not cut, the last column is free. */
function printTable(cols: string[], rows: string[][]): void {
  const cells = (v: string) => [...v].reduce((n, ch) => n + (/[\u2e80-\uffff]/u.test(ch) ? 2 : 1), 0);
  const widths = cols.map((c, i) => Math.min(40, Math.max(cells(c), ...rows.map((r) => cells(r[i]!)))));
  const line = (r: string[]) => r.map((v, i) => (i === r.length - 1 ? v : v + ' '.repeat(Math.max(0, widths[i]! - cells(v))))).join('  ');
  process.stdout.write(`${[cols, ...rows].map(line).join('\n')}\n`);
}

function die(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof UsageError) {
    process.stderr.write(`${err.message}\n\n${USAGE}`);
    process.exit(64);
  }
  process.stderr.write(`parcelwatch: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
}

function config(): Config {
  return loadConfig();
}

/** SIGTERM/SIGINT: ordered shutdown within the grace period; a second signal or the timeout exits 1. */
function onSignals(stop: () => Promise<void>, graceMs: number, log: { warn: (o: object, m: string) => void; error: (o: object, m: string) => void }) {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) {
      log.error({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.warn({ signal, graceMs }, 'shutting down');
    const timer = setTimeout(() => {
      log.error({ graceMs }, 'grace period over: exiting with jobs still running');
      process.exit(1);
    }, graceMs);
    timer.unref();
    stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
    case 'demo': {
      const { values } = parseArgs({ args: rest, options: { role: { type: 'string', default: 'all' } } });
      if (!ROLES.includes(values.role as Role)) throw new UsageError(`--role must be one of ${ROLES.join('|')}`);
      const cfg = config();
      const log = createLogger(cfg.log.level);
      process.on('uncaughtException', (err) => {
        log.fatal({ err }, 'uncaught exception');
        process.exit(1);
      });
      process.on('unhandledRejection', (err) => {
        log.fatal({ err }, 'unhandled rejection');
        process.exit(1);
      });
      const daemon = await startDaemon({ config: cfg, clock: systemClock, log, role: values.role as Role });
      onSignals(daemon.stop, cfg.shutdown.graceMs, log);
      if (command === 'demo') {
        const seeded = await seedDemoOrders(daemon.deps);
        log.info(seeded, 'demo order book seeded (sandbox carrier); running a first cycle now, then on the cron schedule');
        const s = await runOnce(daemon.deps);
        log.info({ totals: s.totals, seconds: s.seconds, try: `curl localhost:${daemon.http?.port}/api/exceptions?status=open` }, 'first cycle done');
      }
      return;
    }
    case 'run-once': {
      const { values } = parseArgs({ args: rest, options: { now: { type: 'string' }, json: { type: 'boolean', default: false } } });
      if (!values.now) throw new UsageError('run-once needs --now <ISO-8601>');
      const at = new Date(values.now);
      if (Number.isNaN(at.getTime())) throw new UsageError(`--now ${values.now} is not an ISO-8601 instant`);
      const cfg = config();
      const log = createLogger(values.json ? 'warn' : cfg.log.level, { pretty: false });
      assertJobRegistry();
      await runMigrations(cfg.database.url);
      const { deps, db } = await createDeps(cfg, fixedClock(at), log);
      try {
        const s = await runOnce(deps);
        if (values.json) process.stdout.write(`${JSON.stringify(s)}\n`);
        else {
          process.stdout.write(`cycle at ${s.now}: ${s.ok ? 'ok' : 'FAILED'} in ${s.seconds}s\n`);
          for (const [k, v] of Object.entries(s.totals)) process.stdout.write(`  ${k}: ${v}\n`);
          for (const f of s.failures) process.stdout.write(`  failed ${f.job} (${f.jobId}): ${f.error}\n`);
        }
        process.exitCode = s.ok ? 0 : 1;
      } finally {
        await db.close();
      }
      return;
    }
    case 'migrate': {
      const cfg = config();
      await runMigrations(cfg.database.url);
      process.stdout.write('migrations applied\n');
      return;
    }
    case 'config': {
      const cfg = config();
      if (rest[0] === 'check') process.stdout.write(`# config OK\n${stringify(redactConfig(cfg))}`);
      else if (rest[0] === 'docs') process.stdout.write(renderConfigDocs());
      else throw new UsageError('config check|docs');
      return;
    }
    case 'import': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { format: { type: 'string' }, errors: { type: 'string' } },
      });
      if (positionals[0] === 'chases' && positionals[1]) {
        const cfg = config();
        await runMigrations(cfg.database.url);
        process.exitCode = await importChasesCommand(cfg, positionals[1], values);
        return;
      }
      if (positionals[0] !== 'orders' || !positionals[1]) throw new UsageError('import orders|chases FILE');
      const cfg = config();
      await runMigrations(cfg.database.url);
      const db = await createDb({ url: cfg.database.url, poolSize: 2 });
      const tty = process.stderr.isTTY;
      try {
        const s = await importOrders({
          sql: db.sql,
          clock: systemClock,
          file: positionals[1],
          format: values.format as 'csv' | 'ndjson' | undefined,
          errorReport: values.errors,
          onProgress: tty ? (rows) => process.stderr.write(`\r  ${rows.toLocaleString('en-US')} rows…`) : undefined,
        });
        if (tty) process.stderr.write('\n');
        process.stdout.write(
          `imported ${s.orders} orders (${s.shipments} new shipments) from ${s.rows} rows in ${s.seconds.toFixed(1)}s; ` +
            `${s.rejectedRows} rejected, ${s.warnings} with warnings${s.errorReport ? ` — see ${s.errorReport}` : ''}\n`,
        );
        process.exitCode = s.rejectedRows > 0 ? 3 : 0;
      } finally {
        await db.close();
      }
      return;
    }
    case 'exceptions': {
      const { values } = parseArgs({
        args: rest,
        options: {
          status: { type: 'string', default: 'open' },
          type: { type: 'string' },
          format: { type: 'string', default: 'table' },
          limit: { type: 'string', default: '500' },
        },
      });
      const cfg = config();
      const db = await createDb({ url: cfg.database.url, poolSize: 1 });
      try {
        const { items } = await listExceptions(
          db.sql,
          { status: values.status as 'open' | 'resolved', type: values.type, limit: Number(values.limit) },
          systemClock.now(),
        );
        if (values.format === 'json') process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
        else {
          const cols = ['orderId', 'type', 'severity', 'carrier', 'trackingNo', 'customer', 'lastHub', 'lastEvent', 'ageHours', 'hoursToDeadline', 'penaltyYuan'];
          const rows = items.map((i) => [i.orderId, i.type, i.severity, i.carrier ?? '', i.trackingNo ?? '', `${i.customer.name ?? ''} ${i.customer.phone ?? ''}`.trim(), i.lastHub ?? '', (i.lastEvent ?? '').slice(0, 40), i.ageHours, i.hoursToDeadline ?? '', i.penaltyYuan ?? ''].map(String));
          if (values.format === 'csv') {
            const esc = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
            process.stdout.write(`${cols.join(',')}\n${rows.map((r) => r.map(esc).join(',')).join('\n')}\n`);
          } else {
            const widths = cols.map((c, i) => Math.min(40, Math.max(c.length, ...rows.map((r) => r[i]!.length))));
            const line = (r: string[]) => r.map((v, i) => v.slice(0, widths[i]).padEnd(widths[i]!)).join('  ');
            process.stdout.write(`${line(cols)}\n${rows.map(line).join('\n')}\n${items.length} exceptions\n`);
          }
        }
      } finally {
        await db.close();
      }
      return;
    }
    case 'carriers': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { search: { type: 'string' }, format: { type: 'string', default: 'table' } } });
      if (positionals[0] !== 'list') throw new UsageError('carriers list [--search TEXT] [--format table|json]');
      const { items } = getCarriers(new URLSearchParams(values.search ? { search: values.search } : {}));
      if (values.format === 'json') process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
      else {
        const rows = items.map((c) => [c.code, c.name, c.providers.kuaidi100 ?? '-', c.providers.kdniao ?? '-', c.providers.seventeenTrack === null ? '-' : String(c.providers.seventeenTrack), c.aliases.join(' | ')]);
        printTable(['code', 'name', 'kuaidi100', 'kdniao', '17track', 'aliases'], rows);
        process.stdout.write(`${items.length} carriers\n`);
      }
      return;
    }
    case 'alerts': {
      const { values } = parseArgs({ args: rest, options: { format: { type: 'string', default: 'table' } } });
      const cfg = config();
      const db = await createDb({ url: cfg.database.url, poolSize: 1 });
      try {
        const items = await listOpenAlerts(db.sql);
        if (values.format === 'json') process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
        else {
          printTable(['key', 'count', 'lastAt', 'message'], items.map((a) => [a.key, String(a.count), a.lastAt.toISOString(), a.message]));
          process.stdout.write(`${items.length} open alerts\n`);
        }
      } finally {
        await db.close();
      }
      return;
    }
    case 'chases': {
      const cfg = config();
      try {
        process.exitCode = await chasesCommand(cfg, rest);
      } catch (err) {
        if (err instanceof ChasesUsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) throw new UsageError((err as Error).message);
        throw err;
      }
      return;
    }
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return;
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

main(process.argv.slice(2)).catch(die);
