import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { stringify } from 'yaml';
import { ConfigError, loadConfig, redactConfig } from '../config/load.js';
import { EXCEPTION_TYPES, SEVERITIES, type Config } from '../config/schema.js';
import { createDb, DatabaseUrlError, poolStates } from '../db/client.js';
import { EXCEPTION_SORTS, listExceptions, type ExceptionSort } from '../db/queries/exception-list.js';
import { listOpenAlerts } from '../db/queries/tracking.js';
import { getCarriers } from '../api/carriers.js';
import { runMigrations } from '../db/migrate.js';
import { CLOCK_OFFSET_ENV, daemonClock, fixedClock, systemClock } from '../domain/clock.js';
import { importNormSeeds } from '../ingest/import-norms.js';
import {
  carrierReport,
  carrierTable,
  encodeCsv,
  exceptionReport,
  exceptionTable,
  parseReportQuery,
  renderTable,
  type CarrierReport,
  type CsvEncoding,
  type ExceptionReport,
} from '../api/reports.js';
import { importOrdersCommand } from './import-cli.js';
import { IMPORT_FORMATS, importOption } from '../ingest/read-rows.js';
import { assertJobRegistry } from '../jobs/index.js';
import { seedDemoOrders, startSandboxPusher } from './demo.js';
import { ROLES, startDaemon, type Role } from './daemon.js';
import { createDeps } from './deps.js';
import { createLogger } from './logger.js';
import { runOnce } from './run-once.js';
import { replayRefusal } from './heartbeat.js';
import { retryDeliveries } from '../jobs/deliver-outreach.js';
import { RedisConnections } from './redis.js';
import { QueueRuntime } from './runtime.js';
import { renderConfigDocs } from '../config/docs.js';
import { CHASES_USAGE, chasesCommand, importChasesCommand } from './chases-cli.js';
import { choice, flag, instant, int, parseCommand, text, truncatedNote, UsageError } from './cli-args.js';
import { EXPLAIN_USAGE, explainCommand } from './explain-cli.js';

const USAGE = `parcelwatch <command>

  start [--role all|scheduler|worker|api]   run the daemon (migrates first)
  demo                                      seed a post-Double-11 order book on the sandbox carrier and run the daemon
  run-once --now <ISO-8601> [--json] [--force]
                                            run one full cycle at that instant, print a summary, exit
                                            (--json: only the JSON summary on stdout, logs on stderr)
  migrate                                   apply database migrations
  config check                              validate config, print the effective config (secrets redacted)
  config docs                               print the config reference (markdown)
  import orders FILE [--format csv|ndjson] [--encoding utf8|gbk|gb18030] [--platform taobao|tmall|jd|pdd|douyin|other] [--errors FILE]
  import norms FILE [--errors FILE]        seed transit norms: CSV carrier,origin,destination,p50Hours,p90Hours,samples
  exceptions [--status open|resolved] [--type T] [--severity S] [--sort newest|oldest|severity|penalty|deadline] [--format table|csv|json] [--limit N (1-10000)]
  deliveries retry [--failed] [ID…]         send failed agent deliveries again (new attempt budget)
  report carriers|exceptions [--since 30d|ISO] [--until ISO] [--carrier C] [--type T] [--by carrier|route]
         [--format table|csv|json] [--encoding utf8|gb18030]   scorecards / exception trends (CSV: UTF-8 BOM or GB18030)
  carriers list [--search TEXT] [--format table|json]   the carrier table: how a name in an export resolves
  alerts [--format table|json]              open ops alerts (provider auth/quota, carriers nobody recognises)
${CHASES_USAGE}${EXPLAIN_USAGE}`;

/** Aligned columns for people (CJK characters take two cells); long cells are not cut, the last column is free. */
function printTable(cols: string[], rows: string[][]): void {
  const cells = (v: string) => [...v].reduce((n, ch) => n + (/[\u2e80-\uffff]/u.test(ch) ? 2 : 1), 0);
  const widths = cols.map((c, i) => Math.min(40, Math.max(cells(c), ...rows.map((r) => cells(r[i]!)))));
  const line = (r: string[]) => r.map((v, i) => (i === r.length - 1 ? v : v + ' '.repeat(Math.max(0, widths[i]! - cells(v))))).join('  ');
  process.stdout.write(`${[cols, ...rows].map(line).join('\n')}\n`);
}

function die(err: unknown): never {
  if (err instanceof ConfigError || err instanceof DatabaseUrlError) {
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
      // What the database pools are doing names a stop held by a statement (a lock, a hung connection).
      log.error({ graceMs, db: poolStates() }, 'grace period over: exiting with jobs still running');
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
      const { values } = parseCommand({ command, options: { role: choice(ROLES, 'all') } }, rest);
      const cfg = config();
      const log = createLogger(cfg.log.level);
      let clock;
      try {
        clock = daemonClock();
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      if (clock.offsetMs !== 0) log.warn({ offsetMs: clock.offsetMs }, `${CLOCK_OFFSET_ENV} set: this process's clock is moved (tests only)`);
      process.on('uncaughtException', (err) => {
        log.fatal({ err }, 'uncaught exception');
        process.exit(1);
      });
      process.on('unhandledRejection', (err) => {
        log.fatal({ err }, 'unhandled rejection');
        process.exit(1);
      });
      // Signals during the start (still waiting for Postgres or Redis) abort it, and the process exits 0 once
      // what was opened is closed; after the start they stop the daemon.
      const starting = new AbortController();
      // The demo's sandbox also pushes to our own hook (worker/demo.ts): it signs with a secret of this run.
      if (command === 'demo' && cfg.demo.pushShare > 0 && !cfg.providers.sandbox.pushSecret) cfg.providers.sandbox.pushSecret = randomBytes(16).toString('hex');
      const started = startDaemon({ config: cfg, clock: clock.clock, log, role: values.role as Role, signal: starting.signal });
      let stop: () => Promise<void> = () => {
        starting.abort();
        return started.then(
          (d) => d.stop(),
          () => log.info('start aborted by signal; parcelwatch stopped'),
        );
      };
      onSignals(() => stop(), cfg.shutdown.graceMs, log);
      let daemon: Awaited<typeof started>;
      try {
        daemon = await started;
      } catch (err) {
        if (starting.signal.aborted) return; // the signal handler exits
        throw err;
      }
      stop = daemon.stop;
      if (command === 'demo') {
        const seeded = await seedDemoOrders(daemon.deps);
        log.info(seeded, 'demo order book seeded (sandbox carrier); running a first cycle now, then on the cron schedule');
        if (daemon.http && cfg.demo.pushShare > 0 && cfg.providers.sandbox.enabled) {
          const host = cfg.http.host === '0.0.0.0' || cfg.http.host === '::' ? '127.0.0.1' : cfg.http.host;
          const pusher = startSandboxPusher(daemon.deps, `http://${host.includes(':') ? `[${host}]` : host}:${daemon.http.port}/hooks/sandbox${cfg.push.hookSecret ? `/${cfg.push.hookSecret}` : ''}`);
          const stopDaemon = daemon.stop;
          stop = () => (pusher.stop(), stopDaemon());
        }
        const s = await runOnce(daemon.deps);
        log.info({ totals: s.totals, seconds: s.seconds, try: `curl localhost:${daemon.http?.port}/api/exceptions?status=open` }, 'first cycle done');
        if (daemon.http) {
          // ?token= once: the console turns it into its session cookie and drops it from the address bar.
          const token = cfg.http.apiToken ? `?token=${encodeURIComponent(cfg.http.apiToken)}` : '';
          process.stdout.write(`\nOps console: http://localhost:${daemon.http.port}/console/${token}\n\n`);
        }
      }
      return;
    }
    case 'run-once': {
      const { values } = parseCommand({ command, options: { now: instant(), json: flag(), force: flag() } }, rest);
      const at = values.now;
      if (!at) throw new UsageError('run-once needs --now <ISO-8601>');
      const cfg = config();
      // stdout carries the summary only (JSON with --json); logs go to stderr.
      const log = createLogger(cfg.log.level, { pretty: false, destination: pino.destination({ dest: 2, sync: true }) });
      assertJobRegistry();
      await runMigrations(cfg.database.url);
      const { deps, db } = await createDeps(cfg, fixedClock(at), log);
      try {
        const refusal = values.force ? null : await replayRefusal(db.sql, at, cfg.replay);
        if (refusal) {
          process.stderr.write(`refused: ${refusal}\n`);
          process.exitCode = 4;
          return;
        }
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
      parseCommand({ command, options: {} }, rest);
      const cfg = config();
      await runMigrations(cfg.database.url);
      process.stdout.write('migrations applied\n');
      return;
    }
    case 'config': {
      const { positionals } = parseCommand({ command, options: {}, positionals: ['check|docs'] }, rest);
      if (positionals[0] !== 'check' && positionals[0] !== 'docs') throw new UsageError('config check|docs');
      const cfg = config();
      if (positionals[0] === 'check') process.stdout.write(`# config OK\n${stringify(redactConfig(cfg))}`);
      else process.stdout.write(renderConfigDocs());
      return;
    }
    case 'import': {
      // --format/--encoding are checked by the importers themselves (exit 2 with the usage, as the issue asks of imports).
      const { values, positionals } = parseCommand(
        { command, options: { format: text(), encoding: text(), platform: text(), errors: text() }, positionals: ['orders|chases|norms', 'FILE'] },
        rest,
      );
      const [kind, file] = positionals as [string, string];
      // Only an order names a marketplace: a --platform given to another import would be silently ignored.
      if (values.platform !== undefined && kind !== 'orders') throw new UsageError(`import ${kind}: --platform is for import orders only`);
      if (kind === 'chases') {
        const cfg = config();
        await runMigrations(cfg.database.url);
        let format;
        try {
          format = importOption('format', values.format, IMPORT_FORMATS);
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        process.exitCode = await importChasesCommand(cfg, file, { format, errors: values.errors });
        return;
      }
      if (kind === 'norms') {
        const cfg = config();
        await runMigrations(cfg.database.url);
        const db = await createDb({ url: cfg.database.url, poolSize: 1 });
        try {
          const s = await importNormSeeds({ sql: db.sql, clock: systemClock, file, errorReport: values.errors });
          process.stdout.write(`${s.upserted} seed norms stored from ${s.rows} rows; ${s.rejectedRows} rejected${s.errorReport ? ` — see ${s.errorReport}` : ''}\n`);
          process.exitCode = s.rejectedRows > 0 ? 3 : 0;
        } finally {
          await db.close();
        }
        return;
      }
      if (kind !== 'orders') throw new UsageError('import orders|chases|norms FILE');
      process.exitCode = await importOrdersCommand(file, values);
      return;
    }
    case 'exceptions': {
      const { values } = parseCommand(
        {
          command,
          options: {
            status: choice(['open', 'resolved'], 'open'),
            type: choice(EXCEPTION_TYPES),
            severity: choice(SEVERITIES),
            sort: choice(EXCEPTION_SORTS, 'newest'),
            format: choice(['table', 'csv', 'json'], 'table'),
            limit: int(1, 10_000, 500),
          },
        },
        rest,
      );
      const cfg = config();
      const db = await createDb({ url: cfg.database.url, poolSize: 1 });
      try {
        const { items, nextCursor } = await listExceptions(
          db.sql,
          { status: values.status, type: values.type, severity: values.severity, sort: values.sort as ExceptionSort, limit: values.limit },
          systemClock.now(),
        );
        const cut = nextCursor !== null ? truncatedNote(items.length, 'exceptions') : null;
        // csv/json keep stdout machine-readable: the cut is said on stderr.
        if (cut && values.format !== 'table') process.stderr.write(`${cut}\n`);
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
            process.stdout.write(`${line(cols)}\n${rows.map(line).join('\n')}\n${cut ?? `${items.length} exceptions`}\n`);
          }
        }
      } finally {
        await db.close();
      }
      return;
    }
    case 'report': {
      const { values, positionals } = parseCommand(
        {
          command,
          options: {
            since: text('30d'),
            until: text(),
            carrier: text(),
            type: text(),
            by: choice(['carrier', 'route'], 'carrier'),
            format: choice(['table', 'csv', 'json'], 'table'),
            encoding: choice(['utf8', 'gb18030'], 'utf8'),
          },
          positionals: ['carriers|exceptions'],
        },
        rest,
      );
      const kind = positionals[0];
      if (kind !== 'carriers' && kind !== 'exceptions') throw new UsageError('report carriers|exceptions');
      const cfg = config();
      const db = await createDb({ url: cfg.database.url, poolSize: 3 });
      try {
        let q;
        try {
          q = parseReportQuery({ since: values.since, until: values.until, carrier: values.carrier, type: values.type, by: values.by }, systemClock.now());
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        const deps = { sql: db.sql, config: cfg };
        const report = kind === 'carriers' ? await carrierReport(deps, q) : await exceptionReport(deps, q);
        const table = kind === 'carriers' ? carrierTable(report as CarrierReport) : exceptionTable(report as ExceptionReport);
        if (values.format === 'json') process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else if (values.format === 'csv') process.stdout.write(encodeCsv(table, values.encoding as CsvEncoding));
        else process.stdout.write(`${kind} ${report.since} → ${report.until}\n${renderTable(table)}`);
      } finally {
        await db.close();
      }
      return;
    }
    case 'carriers': {
      const { values } = parseCommand({ command: 'carriers', options: { search: text(), format: choice(['table', 'json'], 'table') }, positionals: ['list'] }, rest);
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
      const { values } = parseCommand({ command, options: { format: choice(['table', 'json'], 'table') } }, rest);
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
    case 'deliveries': {
      const { values, positionals } = parseCommand({ command: 'deliveries', options: { failed: flag() }, positionals: ['retry', 'ID…?'] }, rest);
      const ids = positionals.slice(1).map((p) => (/^\d{1,15}$/.test(p) ? Number(p) : NaN));
      if (positionals[0] !== 'retry' || ids.some((n) => !Number.isSafeInteger(n) || n <= 0) || (!ids.length && !values.failed)) {
        throw new UsageError('deliveries retry [--failed] [ID…]: give delivery ids or --failed');
      }
      const cfg = config();
      const log = createLogger('warn', { pretty: false });
      const { deps, db } = await createDeps(cfg, systemClock, log);
      const connections = new RedisConnections(cfg.redis.url, log);
      const runtime = new QueueRuntime(deps, connections);
      try {
        const followUps = await retryDeliveries(deps.sql, { ids, failed: values.failed });
        let queued = true;
        try {
          await runtime.enqueue(followUps);
        } catch (err) {
          queued = false; // re-armed in the database: the next sync-outreach run queues them
          process.stderr.write(`could not queue now (${(err as Error).message}); the next sync run sends them\n`);
        }
        process.stdout.write(`${followUps.length} deliveries re-armed${queued ? ' and queued' : ''}: ${followUps.map((f) => (f.payload as { deliveryId: number }).deliveryId).join(' ')}\n`);
      } finally {
        await runtime.close();
        await connections.quitAll();
        await db.close();
      }
      return;
    }
    case 'chases': {
      process.exitCode = await chasesCommand(config, rest);
      return;
    }
    case 'shipment':
    case 'events': {
      process.exitCode = await explainCommand(config(), command, rest, systemClock);
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
