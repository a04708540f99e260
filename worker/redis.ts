import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/** Redis cannot take the command now (down, unreachable, frozen): the caller fails fast and retries later. */
export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

/** How long a producer command (an add, a readiness ping) may take before it fails. */
export const PRODUCER_COMMAND_TIMEOUT_MS = 3000;
/** While Redis stays down, one reminder per this many ms (the first failure is logged at once). */
const DOWN_REMINDER_MS = 60_000;

const retryStrategy = (times: number) => Math.min(200 * 2 ** Math.min(times, 6), 10_000);

/**
 * Two postures (BullMQ "going to production"): producers (API, scheduler, follow-up enqueues) fail fast
 * while Redis is down — no offline queue, one try, a command timeout — so an HTTP request or a cron tick
 * answers with an error instead of piling up commands in memory; workers wait through outages (offline
 * queue on, unlimited retries per request, as BullMQ requires for blocking connections). Every connection
 * is tracked so shutdown can close them all — BullMQ does not close connections it was given.
 *
 * One outage is one log line, not one per connection and reconnect attempt: the connections share a
 * state (up/down, last reason) that logs the change, a reminder per DOWN_REMINDER_MS, and the recovery.
 */
export class RedisConnections {
  private readonly all = new Set<Redis>();
  private down: { since: number; reason: string; remindedAt: number } | null = null;
  private probe: Redis | null = null;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
  ) {}

  create(kind: 'producer' | 'worker'): Redis {
    const opts: RedisOptions =
      kind === 'producer'
        ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: PRODUCER_COMMAND_TIMEOUT_MS, enableReadyCheck: true, retryStrategy }
        : { enableOfflineQueue: true, maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy };
    const conn = new Redis(this.url, opts);
    conn.on('error', (err) => this.noteDown(err.message));
    conn.on('ready', () => this.noteUp());
    this.all.add(conn);
    return conn;
  }

  /** Whether Redis answered last time we heard (for fail-fast checks before a command). */
  get isDown(): boolean {
    return this.down !== null;
  }

  get downReason(): string | null {
    return this.down?.reason ?? null;
  }

  /**
   * A BullMQ queue or worker reported an error. Connection errors belong to the outage already logged;
   * anything else is logged as it comes.
   */
  reportError(err: Error, context: Record<string, unknown>): void {
    if (isConnectionError(err)) this.noteDown(err.message);
    else this.log.warn({ err: { message: err.message }, ...context }, 'redis command failed');
  }

  /**
   * Resolves once `conn` can take commands; rejects at once (RedisUnavailableError) when Redis is known
   * to be down, or when a fresh connection fails or does not become ready within the command timeout.
   */
  usable(conn: Redis): Promise<void> {
    if (conn.status === 'ready') return Promise.resolve();
    if (this.down || conn.status === 'reconnecting' || conn.status === 'end' || conn.status === 'close') {
      return Promise.reject(new RedisUnavailableError(`Redis unavailable (${this.down?.reason ?? conn.status})`));
    }
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        conn.off('ready', onReady);
        conn.off('error', onError);
        if (err) reject(err);
        else resolve();
      };
      const onReady = () => done();
      const onError = (err: Error) => done(new RedisUnavailableError(`Redis unavailable (${err.message})`));
      const timer = setTimeout(() => done(new RedisUnavailableError('Redis unavailable (connect timed out)')), PRODUCER_COMMAND_TIMEOUT_MS);
      conn.once('ready', onReady);
      conn.once('error', onError);
    });
  }

  /** Readiness: 'ok', or why not — within the command timeout even when Redis is frozen. */
  async check(): Promise<string> {
    const probe = (this.probe ??= this.create('producer'));
    try {
      await this.usable(probe);
      await probe.ping();
      return 'ok';
    } catch (err) {
      const msg = (err as Error).message;
      return /timed out/i.test(msg) ? `down: ping timed out after ${PRODUCER_COMMAND_TIMEOUT_MS} ms` : `down: ${this.down?.reason ?? msg}`;
    }
  }

  /** Wait until Redis answers (start with Redis down); the outage is logged by the shared state. */
  async waitReady(signal?: AbortSignal): Promise<void> {
    const probe = (this.probe ??= this.create('producer'));
    while (probe.status !== 'ready') {
      signal?.throwIfAborted();
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          probe.off('ready', wake);
          signal?.removeEventListener('abort', wake);
          resolve();
        };
        const timer = setTimeout(wake, 1000);
        probe.once('ready', wake);
        signal?.addEventListener('abort', wake, { once: true });
      });
    }
  }

  /** Drop every connection without waiting for Redis (shutdown while it is down). */
  disconnectAll(): void {
    for (const c of this.all) c.disconnect();
  }

  async quitAll(): Promise<void> {
    await Promise.all(
      [...this.all].map(async (c) => {
        // quit() needs Redis to answer; while it is down (or for a connection that never connected) a
        // disconnect is the only way to end, and there is nothing left to flush anyway.
        if (c.status !== 'ready') return c.disconnect();
        try {
          await Promise.race([c.quit(), new Promise((_, reject) => setTimeout(() => reject(new Error('quit timed out')), PRODUCER_COMMAND_TIMEOUT_MS).unref())]);
        } catch {
          c.disconnect();
        }
      }),
    );
    this.all.clear();
    this.probe = null;
  }

  private noteDown(reason: string): void {
    const now = performance.now();
    if (!this.down) {
      this.down = { since: now, reason, remindedAt: now };
      this.log.warn({ redis: redactUrl(this.url), reason }, 'redis unreachable: producers fail fast, workers wait; retrying');
      return;
    }
    this.down.reason = reason;
    if (now - this.down.remindedAt >= DOWN_REMINDER_MS) {
      this.down.remindedAt = now;
      this.log.warn({ redis: redactUrl(this.url), reason, downSeconds: Math.round((now - this.down.since) / 1000) }, 'redis still unreachable');
    }
  }

  private noteUp(): void {
    if (!this.down) return;
    const downSeconds = Math.round((performance.now() - this.down.since) / 1000);
    this.down = null;
    this.log.info({ redis: redactUrl(this.url), downSeconds }, 'redis reachable again');
  }
}

/** Errors that say the connection is gone (not that a command was wrong). */
export function isConnectionError(err: Error): boolean {
  return /ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|EPIPE|Connection is closed|connect timed out|Stream isn't writeable|Command timed out|Redis unavailable/i.test(
    err.message,
  );
}

/** host:port/db of a Redis URL, without credentials (for logs). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 6379}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
  } catch {
    return '(unparsable REDIS_URL)';
  }
}
