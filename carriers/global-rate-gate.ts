import type { Redis } from 'ioredis';
import { GateStopped, type GlobalStage, type RateGate } from './rate-gate.js';

/**
 * A provider's `qps` across every worker process: the same slot scheme as the per-process RateGate
 * (`max` slots; a slot is reused only one window after its request settled, so any `max + 1` requests
 * include two on one slot whose arrivals are a window apart), with the slots kept in Redis and taken by
 * one Lua script (atomic, Redis' own clock, so the processes' clocks do not matter).
 *
 * - acquire: one round trip before the request. The slot is held "in flight" for a lease of one request
 *   timeout plus one window: a process that dies mid-request gives it back by itself, never early.
 * - release: after the answer (or failure), the slot becomes free one window later. Sent without waiting
 *   on the answer's path; if it is lost (Redis gone), the lease frees the slot, later but never early.
 * - waiting: inside a process only the first waiter asks Redis, again when the earliest slot frees (or
 *   every `pollMs` while all are in flight), so waiting costs a few calls a second, not one per job.
 * - hold: a provider's 429 Retry-After, answered to any process, holds every process: the same script
 *   grants no slot while the provider's hold key lives (set with PX by the process that got the 429, never
 *   shortened), and its waiters sleep out what is left of it.
 * - Redis unavailable: fail closed. The request is not sent and the call rejects with a
 *   {@link GlobalRateGateError} (the poll job fails as transient and BullMQ retries it); never sent unmetered.
 *   A hold that cannot be written still holds its own process (the RateGate's local hold).
 *
 * Keys: `<redis.prefix>:rate:{<provider>}:<max>:<durationMs>:slots|owners` (a changed limit starts afresh),
 * expiring once idle for a lease; `<redis.prefix>:rate-hold:{<provider>}` (whatever the limit), expiring with
 * the hold. One hash tag per provider: the script's keys share a Redis Cluster slot.
 */
const ACQUIRE = `
local held = redis.call('PTTL', KEYS[3])
if held > 0 then return {-2, held} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max = tonumber(ARGV[1])
local n = redis.call('ZCARD', KEYS[1])
if n < max then
  for i = 0, max - 1 do redis.call('ZADD', KEYS[1], 'NX', 0, i) end
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = tonumber(first[2]) - now
if wait > 0 then return {-1, wait} end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), first[1])
redis.call('HSET', KEYS[2], first[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return {tonumber(first[1]), 0}
`;

const RELEASE = `
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[3]), ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return 0
`;

/** ACQUIRE's answer while the provider is held (Retry-After): the wait is what is left of the hold. */
const HELD = -2;

/** Hold the provider for ARGV[1] ms, unless a longer hold is already running (two 429s: the later end wins). */
const HOLD = `
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return 0
`;

type GateRedis = Redis & {
  pwGateAcquire(slots: string, owners: string, hold: string, max: number, leaseMs: number, token: string, ttlMs: number): Promise<[number, number]>;
  pwGateHold(hold: string, ms: number): Promise<number>;
  pwGateRelease(slots: string, owners: string, slot: number, token: string, durationMs: number): Promise<number>;
};

/** The shared window could not be asked (Redis down, slow or refusing): the request was not sent. */
export class GlobalRateGateError extends Error {
  override name = "GlobalRateGateError";
}

let tokens = 0;
const processTag = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

export class GlobalRateGate implements GlobalStage {
  private readonly redis: GateRedis;
  private readonly slotsKey: string;
  private readonly ownersKey: string;
  private readonly holdKey: string;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  /** This process's waiters, in arrival order: only the head asks Redis. */
  private tail: Promise<void> = Promise.resolve();

  constructor(
    redis: Redis,
    opts: { prefix: string; provider: string; max: number; durationMs: number; timeoutMs: number; pollMs?: number },
    /** A write sent without waiting on it (a release, a hold) failed: the caller logs it. */
    private readonly onWriteError: (err: unknown, op: 'release' | 'hold') => void = () => {},
  ) {
    this.redis = redis as GateRedis;
    if (!this.redis.pwGateAcquire) {
      redis.defineCommand('pwGateAcquire', { numberOfKeys: 3, lua: ACQUIRE });
      redis.defineCommand('pwGateRelease', { numberOfKeys: 2, lua: RELEASE });
      redis.defineCommand('pwGateHold', { numberOfKeys: 1, lua: HOLD });
    }
    const base = `${opts.prefix}:rate:{${opts.provider}}:${opts.max}:${opts.durationMs}`;
    this.slotsKey = `${base}:slots`;
    this.ownersKey = `${base}:owners`;
    this.holdKey = `${opts.prefix}:rate-hold:{${opts.provider}}`;
    this.max = opts.max;
    this.durationMs = opts.durationMs;
    this.leaseMs = opts.timeoutMs + opts.durationMs;
    this.pollMs = opts.pollMs ?? Math.min(100, Math.max(10, Math.floor(opts.durationMs / 10)));
  }

  readonly max: number;
  readonly durationMs: number;

  async acquire(signal?: AbortSignal): Promise<() => void> {
    const before = this.tail;
    let done!: () => void;
    this.tail = new Promise<void>((r) => (done = r));
    try {
      await untilAborted(before, signal);
      const token = `${processTag}-${++tokens}`;
      for (;;) {
        if (signal?.aborted) throw new GateStopped();
        let slot: number;
        let waitMs: number;
        try {
          [slot, waitMs] = await this.redis.pwGateAcquire(this.slotsKey, this.ownersKey, this.holdKey, this.max, this.leaseMs, token, this.leaseMs + this.durationMs);
        } catch (err) {
          throw new GlobalRateGateError(`shared rate limit unavailable (${(err as Error).message})`);
        }
        if (slot >= 0) {
          let released = false;
          return () => {
            if (released) return;
            released = true;
            this.redis.pwGateRelease(this.slotsKey, this.ownersKey, slot, token, this.durationMs).catch((err) => this.onWriteError(err, 'release'));
          };
        }
        // A hold and a slot freed by a release end at their exact time; a slot in flight is asked about again soon.
        await untilAborted(sleep(slot === HELD || waitMs <= this.durationMs ? waitMs : this.pollMs), signal);
      }
    } finally {
      done();
    }
  }

  /**
   * Hold every process's requests for `ms` (a 429's Retry-After). Sent without waiting, on the connection the
   * slot's release follows on, so Redis has the hold before the slot is free again.
   */
  hold(ms: number): void {
    this.redis.pwGateHold(this.holdKey, Math.ceil(ms)).catch((err) => this.onWriteError(err, 'hold'));
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `p`, or a GateStopped as soon as `signal` aborts. */
function untilAborted(p: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new GateStopped());
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(new GateStopped());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (err) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/**
 * Give each provider's RateGate its shared stage (worker processes of the daemon; run-once stays one
 * process and keeps the local gate alone). `redis` should fail fast (the producer posture): an
 * unreachable Redis then holds requests back at once instead of queueing them.
 */
export function attachGlobalRateGates(
  providers: Map<string, unknown>,
  redis: Redis,
  opts: { prefix: string; timeoutMs: (provider: string) => number; onWriteError?: (err: unknown, op: 'release' | 'hold') => void },
): void {
  for (const [name, p] of providers) {
    // The subscription requests' own rate (push.subscribe.qps) is held across processes the same way.
    const gates = p as { gate?: RateGate; subscribeGate?: RateGate };
    for (const [gate, key] of [
      [gates.gate, name],
      [gates.subscribeGate, `${name}-subscribe`],
    ] as const) {
      if (!gate) continue;
      gate.global = new GlobalRateGate(
        redis,
        { prefix: opts.prefix, provider: key, max: gate.max, durationMs: gate.durationMs, timeoutMs: opts.timeoutMs(name) },
        opts.onWriteError,
      );
    }
  }
}
