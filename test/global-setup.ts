import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { MIGRATIONS_FOLDER, runMigrations } from '../db/migrate.js';
import { ADMIN_DATABASE_URL, databaseUrl } from './helpers/services.js';

/**
 * Migrate a template database once per migration set; each test file clones it
 * (CREATE DATABASE … TEMPLATE), which takes milliseconds and keeps files isolated.
 * A missing Postgres fails the run: tests never skip for want of a service.
 */
export default async function setup(project: TestProject) {
  const hash = createHash('sha1');
  for (const f of readdirSync(MIGRATIONS_FOLDER).filter((f) => f.endsWith('.sql')).sort()) {
    hash.update(readFileSync(join(MIGRATIONS_FOLDER, f)));
  }
  const name = `pw_tmpl_${hash.digest('hex').slice(0, 12)}`;
  const admin = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    await admin`select pg_advisory_lock(4242)`;
    const [exists] = await admin`select 1 from pg_database where datname = ${name}`;
    if (!exists) {
      await admin.unsafe(`create database "${name}_tmp"`).catch(async () => {
        await admin.unsafe(`drop database if exists "${name}_tmp"`);
        await admin.unsafe(`create database "${name}_tmp"`);
      });
      await runMigrations(databaseUrl(`${name}_tmp`));
      await admin.unsafe(`alter database "${name}_tmp" rename to "${name}"`);
    }
    // Leftover clones of crashed runs (older than a day: parallel runs may be using newer ones).
    // A clone dropped by a parallel run between listing and stat is simply gone: ignore the race.
    const stale = await admin`select datname from pg_database where datname like 'pwclone\_%' and (pg_stat_file('base/' || oid || '/PG_VERSION', true)).modification < now() - interval '1 day'`.catch(() => []);
    for (const { datname } of stale) await admin.unsafe(`drop database if exists "${datname}" with (force)`).catch(() => {});
    await admin`select pg_advisory_unlock(4242)`;
  } finally {
    await admin.end();
  }
  project.provide('templateDb', name);
}

declare module 'vitest' {
  export interface ProvidedContext {
    templateDb: string;
  }
}
