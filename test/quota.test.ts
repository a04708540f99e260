import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeQuota } from '../jobs/poll-tracking.js';
import { createTestDb, type TestDb } from './helpers/db.js';

/* The Kdniao 1002 daily quota holds across processes: workers racing for the last calls never overshoot. */
let db: TestDb;
let others: TestDb['sql'][] = [];
beforeAll(async () => {
  db = await createTestDb();
  const postgres = (await import('postgres')).default;
  // Separate pools stand for separate worker processes.
  others = Array.from({ length: 4 }, () => postgres(db.url, { max: 3, onnotice: () => {} }));
});
afterAll(async () => {
  await Promise.all(others.map((o) => o.end()));
  await db?.drop();
});

describe('takeQuota', () => {
  it('grants exactly the quota to 24 racing requests of 3 calls from 4 pools', async () => {
    const grants = await Promise.all(Array.from({ length: 24 }, (_, i) => takeQuota(others[i % 4]!, 'kdniao-1002', '2026-11-12', 3, 10)));
    expect(grants.reduce((a, b) => a + b, 0)).toBe(10);
    const [row] = await db.sql`select calls from provider_usage where provider = 'kdniao-1002' and day = '2026-11-12'`;
    expect(row!.calls).toBe(10);
    expect(await takeQuota(db.sql, 'kdniao-1002', '2026-11-12', 5, 10)).toBe(0);
    expect(await takeQuota(db.sql, 'kdniao-1002', '2026-11-13', 5, 10)).toBe(5); // a new day, a new budget
  });
});
