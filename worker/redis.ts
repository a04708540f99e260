import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Two postures (BullMQ "going to production"): producers (API, scheduler) fail fast while Redis is down;
 * workers wait through outages. Every connection is tracked so shutdown can quit them all —
 * BullMQ does not close connections it was given.
 */
export class RedisConnections {
  private readonly all = new Set<Redis>();
  constructor(
    private readonly url: string,
    private readonly log: Logger,
  ) {}

  create(kind: 'producer' | 'worker'): Redis {
    const opts: RedisOptions = {
      maxRetriesPerRequest: null,
      enableReadyCheck: true,
      retryStrategy: (times) => Math.min(200 * 2 ** Math.min(times, 6), 10_000),
      ...(kind === 'producer' ? { enableOfflineQueue: true } : {}),
    };
    const conn = new Redis(this.url, opts);
    let lastLogged = 0;
    conn.on('error', (err) => {
      // Reconnects are automatic; log at most every 10 s so an outage is visible but not a flood.
      const t = performance.now();
      if (t - lastLogged > 10_000) {
        lastLogged = t;
        this.log.warn({ err: { message: err.message }, kind }, 'redis connection error, retrying');
      }
    });
    this.all.add(conn);
    return conn;
  }

  async quitAll(): Promise<void> {
    await Promise.all(
      [...this.all].map(async (c) => {
        try {
          await c.quit();
        } catch {
          c.disconnect();
        }
      }),
    );
    this.all.clear();
  }
}
