import { loadConfig } from '../config/load.js';
import { PLATFORMS } from '../config/schema.js';
import { createDb } from '../db/client.js';
import { runMigrations } from '../db/migrate.js';
import { systemClock } from '../domain/clock.js';
import { ImportHeaderError, importOrders } from '../ingest/import-orders.js';
import { UsageError } from './cli-args.js';
import { IMPORT_ENCODINGS, IMPORT_FORMATS, ImportOptionError, importOption } from '../ingest/read-rows.js';

/**
 * `parcelwatch import orders FILE`: the exit code. 0 all stored; 3 some rows refused (see the errors file);
 * 2 nothing imported: a header the importer cannot use. An unknown --format/--encoding/--platform is a usage error (64).
 */
export async function importOrdersCommand(file: string, values: { format?: string; encoding?: string; errors?: string; platform?: string }): Promise<number> {
  let format;
  let encoding;
  let platform;
  try {
    format = importOption('format', values.format, IMPORT_FORMATS);
    encoding = importOption('encoding', values.encoding, IMPORT_ENCODINGS);
    platform = importOption('platform', values.platform, PLATFORMS);
  } catch (err) {
    // A wrong option is a usage error like every other command's (exit 64 with the usage, main.ts).
    if (err instanceof ImportOptionError) throw new UsageError(`import orders: ${err.message}`);
    throw err;
  }
  const cfg = loadConfig();
  await runMigrations(cfg.database.url);
  const db = await createDb({ url: cfg.database.url, poolSize: 2 });
  const tty = process.stderr.isTTY;
  try {
    const s = await importOrders({
      sql: db.sql,
      clock: systemClock,
      input: cfg.input,
      file,
      format,
      encoding,
      platform,
      errorReport: values.errors,
      onProgress: tty ? (rows) => process.stderr.write(`\r  ${rows.toLocaleString('en-US')} rows…`) : undefined,
    });
    if (tty) process.stderr.write('\n');
    process.stdout.write(
      `${file} (${s.format}, ${s.encoding}): read ${s.rows} rows; orders: ${s.stored} stored (new or changed), ${s.unchanged} unchanged; ` +
        `${s.shipments} new parcels; ${s.rejectedRows} rejected${s.errorReport ? ` — see ${s.errorReport}` : ''}; ${s.seconds.toFixed(1)}s\n`,
    );
    return s.rejectedRows > 0 ? 3 : 0;
  } catch (err) {
    if (!(err instanceof ImportHeaderError)) throw err;
    process.stderr.write(`parcelwatch import orders: ${err.message}; nothing was imported\n`);
    return 2;
  } finally {
    await db.close();
  }
}
