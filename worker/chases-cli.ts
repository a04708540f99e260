import type { Config } from '../config/schema.js';
import { createDb, type Sql } from '../db/client.js';
import { ChaseRefused, chasePolicy, endChase, listChases, registerChases, type ChaseView } from '../db/queries/chases.js';
import { systemClock } from '../domain/clock.js';
import { importChases } from '../ingest/import-chases.js';
import { choice, int, parseCommand, text, truncatedNote, UsageError } from './cli-args.js';

export const CHASES_USAGE = `  chases add --order X | --tracking Y [--contact C] [--channel webhook|sms] [--note N]
  chases list [--status active|ended] [--order X] [--format table|json]
  chases remove ID
  import chases FILE [--format csv|ndjson] [--errors FILE]   CSV columns orderId,trackingNo,contact,channel,note
`;

function table(items: ChaseView[], cut: string | null = null): string {
  const cols = ['id', 'orderId', 'trackingNo', 'contact', 'channel', 'status', 'endReason', 'lastHub', 'lastNotifiedHub', 'sent', 'registeredAt'];
  const rows = items.map((i) =>
    [i.id, i.orderId, i.trackingNo, i.contact, i.channel, i.status, i.endReason ?? '', i.lastHub ?? '', i.lastNotifiedHub ?? '', i.notificationsSent, i.registeredAt].map(String),
  );
  const widths = cols.map((c, k) => Math.min(40, Math.max(c.length, ...rows.map((r) => r[k]!.length))));
  const line = (r: string[]) => r.map((v, k) => v.slice(0, widths[k]).padEnd(widths[k]!)).join('  ');
  return `${line(cols)}\n${rows.map(line).join('\n')}${rows.length ? '\n' : ''}${cut ?? `${items.length} chases`}\n`;
}

const CHANNELS = ['webhook', 'sms'] as const;

/** `parcelwatch chases add|list|remove`; arguments are checked before config or database are touched. Returns the exit code. */
export async function chasesCommand(loadConfig: () => Config, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'add') {
    const { values } = parseCommand(
      { command: 'chases add', options: { order: text(), tracking: text(), contact: text(), channel: choice(CHANNELS), note: text() } },
      rest,
    );
    if (!values.order === !values.tracking) throw new UsageError('chases add needs --order X or --tracking Y');
    const cfg = loadConfig();
    return withDb(cfg, async (sql) => {
      try {
        const r = await registerChases(
          sql,
          { orderId: values.order, trackingNo: values.tracking, contact: values.contact, channel: values.channel, note: values.note },
          chasePolicy(cfg),
          systemClock.now(),
        );
        process.stdout.write(`${r.created} chase(s) registered, ${r.items.length - r.created} already active\n${table(r.items)}`);
        return 0;
      } catch (err) {
        if (!(err instanceof ChaseRefused)) throw err;
        process.stderr.write(`${err.message}\n`);
        return err.kind === 'invalid' ? 64 : 1;
      }
    });
  }
  if (sub === 'list') {
    const { values } = parseCommand(
      {
        command: 'chases list',
        options: { status: choice(['active', 'ended']), order: text(), format: choice(['table', 'json'], 'table'), limit: int(1, 10_000, 500) },
      },
      rest,
    );
    return withDb(loadConfig(), async (sql) => {
      const rows = await listChases(sql, { status: values.status, orderId: values.order, limit: values.limit + 1 });
      const items = rows.slice(0, values.limit);
      const cut = rows.length > values.limit ? truncatedNote(items.length, 'chases') : null;
      if (values.format === 'json') {
        if (cut) process.stderr.write(`${cut}\n`);
        process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
      } else process.stdout.write(table(items, cut));
      return 0;
    });
  }
  if (sub === 'remove') {
    const { positionals } = parseCommand({ command: 'chases remove', options: {}, positionals: ['ID'] }, rest);
    const id = positionals[0]!;
    if (!/^[1-9]\d{0,15}$/.test(id)) throw new UsageError(`chases remove: ID must be a chase id (got ${JSON.stringify(id)})`);
    return withDb(loadConfig(), async (sql) => {
      const v = await endChase(sql, Number(id), 'removed', systemClock.now());
      if (!v) {
        process.stderr.write(`chase ${id} not found\n`);
        return 1;
      }
      process.stdout.write(`chase ${v.id} ended (${v.endReason})\n`);
      return 0;
    });
  }
  throw new UsageError('chases add|list|remove');
}

async function withDb<T>(cfg: Config, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const db = await createDb({ url: cfg.database.url, poolSize: 1 });
  try {
    return await fn(db.sql);
  } finally {
    await db.close();
  }
}

/** `parcelwatch import chases FILE`; exit 3 when rows were rejected (like import orders). */
export async function importChasesCommand(cfg: Config, file: string, opts: { format?: string | undefined; errors?: string | undefined }): Promise<number> {
  const db = await createDb({ url: cfg.database.url, poolSize: 2 });
  try {
    const s = await importChases({
      sql: db.sql,
      clock: systemClock,
      file,
      policy: chasePolicy(cfg),
      format: opts.format as 'csv' | 'ndjson' | undefined,
      errorReport: opts.errors,
    });
    process.stdout.write(
      `registered ${s.chasesCreated} chases from ${s.rows} rows (${s.alreadyRegistered} already active); ` +
        `${s.rejectedRows} rejected${s.errorReport ? ` — see ${s.errorReport}` : ''}\n`,
    );
    return s.rejectedRows > 0 ? 3 : 0;
  } finally {
    await db.close();
  }
}
