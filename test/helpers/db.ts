import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { inject } from 'vitest';
import { createDb, type DbHandle } from '../../db/client.js';
import { ADMIN_DATABASE_URL, databaseUrl } from './services.js';

export interface TestDb extends DbHandle {
  url: string;
  name: string;
  /** Close the pool and drop the database. */
  drop(): Promise<void>;
}

/** A fresh, migrated database cloned from the template for one test file (or test). */
export async function createTestDb(): Promise<TestDb> {
  const template = inject('templateDb');
  const name = `pwclone_${randomBytes(6).toString('hex')}`;
  const admin = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}" template "${template}"`);
  } finally {
    await admin.end();
  }
  const url = databaseUrl(name);
  const handle = await createDb({ url, poolSize: 8 });
  return {
    ...handle,
    url,
    name,
    async drop() {
      await handle.close();
      const a = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await a.end();
      }
    },
  };
}
