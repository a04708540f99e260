import { parseArgs } from 'node:util';
import type { Config } from '../config/schema.js';
import { createDb } from '../db/client.js';
import { ChaseRefused, endChase, listChases, registerChases, type ChaseView } from '../db/queries/chases.js';
import { systemClock } from '../domain/clock.js';
import { importChases } from '../ingest/import-chases.js';

export const CHASES_USAGE = `  chases add --order X | --tracking Y [--contact C] [--channel webhook|sms] [--note N]
  chases list [--status active|ended] [--order X] [--format table|json]
  chases remove ID
  import chases FILE [--format csv|ndjson] [--errors FILE]   CSV columns orderId,trackingNo,contact,channel,note
`;

/** A command-line mistake: main.ts prints it with the usage and exits 64. */
export class ChasesUsageError extends Error {}

function table(items: ChaseView[]): string {
  const cols = ['id', 'orderId', 'trackingNo', 'contact', 'channel', 'status', 'endReason', 'lastHub', 'lastNotifiedHub', 'sent', 'registeredAt'];
  const rows = items.map((i) =>
    [i.id, i.orderId, i.trackingNo, i.contact, i.channel, i.status, i.endReason ?? '', i.lastHub ?? '', i.lastNotifiedHub ?? '', i.notificationsSent, i.registeredAt].map(String),
  );
  const widths = cols.map((c, k) => Math.min(40, Math.max(c.length, ...rows.map((r) => r[k]!.length))));
  const line = (r: string[]) => r.map((v, k) => v.slice(0, widths[k]).padEnd(widths[k]!)).join('  ');
  return `${line(cols)}\n${rows.map(line).join('\n')}${rows.length ? '\n' : ''}${items.length} chases\n`;
}

/** `parcelwatch chases add|list|remove`; returns the exit code. */
export async function chasesCommand(cfg: Config, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      order: { type: 'string' },
      tracking: { type: 'string' },
      contact: { type: 'string' },
      channel: { type: 'string' },
      note: { type: 'string' },
      status: { type: 'string' },
      format: { type: 'string', default: 'table' },
      limit: { type: 'string', default: '500' },
    },
  });
  if (sub === 'add' && !values.order === !values.tracking) throw new ChasesUsageError('chases add needs --order X or --tracking Y');
  if (values.channel && values.channel !== 'webhook' && values.channel !== 'sms') throw new ChasesUsageError('--channel must be webhook or sms');
  if (values.status && values.status !== 'active' && values.status !== 'ended') throw new ChasesUsageError('--status must be active or ended');
  if (sub === 'remove' && !/^\d+$/.test(positionals[0] ?? '')) throw new ChasesUsageError('chases remove ID');
  if (sub !== 'add' && sub !== 'list' && sub !== 'remove') throw new ChasesUsageError('chases add|list|remove');
  const db = await createDb({ url: cfg.database.url, poolSize: 1 });
  try {
    const now = systemClock.now();
    if (sub === 'add') {
      try {
        const r = await registerChases(
          db.sql,
          { orderId: values.order, trackingNo: values.tracking, contact: values.contact, channel: values.channel as 'webhook' | 'sms' | undefined, note: values.note },
          cfg.chases.defaultChannel,
          now,
        );
        process.stdout.write(`${r.created} chase(s) registered, ${r.items.length - r.created} already active\n${table(r.items)}`);
        return 0;
      } catch (err) {
        if (!(err instanceof ChaseRefused)) throw err;
        process.stderr.write(`${err.message}\n`);
        return err.kind === 'invalid' ? 64 : 1;
      }
    }
    if (sub === 'list') {
      const items = await listChases(db.sql, { status: values.status as 'active' | 'ended' | undefined, orderId: values.order, limit: Number(values.limit) });
      process.stdout.write(values.format === 'json' ? `${JSON.stringify(items, null, 2)}\n` : table(items));
      return 0;
    }
    const v = await endChase(db.sql, Number(positionals[0]), 'removed', now);
    if (!v) {
      process.stderr.write(`chase ${positionals[0]} not found\n`);
      return 1;
    }
    process.stdout.write(`chase ${v.id} ended (${v.endReason})\n`);
    return 0;
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
      defaultChannel: cfg.chases.defaultChannel,
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
