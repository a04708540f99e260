import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { TEST_REDIS_URL } from './services.js';

/** A queue key prefix of one's own, so test files running in parallel never see each other's jobs. */
export function uniquePrefix(): string {
  return `pwtest-${randomBytes(5).toString('hex')}`;
}

/** Delete every key under a prefix (after a test). */
export function dropPrefix(prefix: string): Promise<void> {
  return dropRedisPrefix(TEST_REDIS_URL, prefix);
}

/** Delete every key under a prefix on the given Redis (the bench uses it too). */
export async function dropRedisPrefix(redisUrl: string, prefix: string): Promise<void> {
  const r = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}
