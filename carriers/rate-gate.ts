/**
 * A provider's `qps` as a window: at most `max` requests in any `durationMs` (qps ≥ 1: floor(qps) per
 * second; below 1: one per 1/qps seconds). The poll queues' BullMQ limiter and the RateGate use the same.
 */
export function rateWindow(qps: number): { max: number; durationMs: number } {
  return qps >= 1 ? { max: Math.floor(qps), durationMs: 1000 } : { max: 1, durationMs: Math.ceil(1000 / qps) };
}

/**
 * Most poll jobs of one provider worth running at once in a process: what its rate lets through within
 * one window plus one request timeout. More would only wait in the RateGate (which counts a request until
 * a window after its answer, so under a backlog it passes fewer per second than the queue's limiter
 * starts), and a graceful shutdown waits for every job started. Binds only at low rates (Kuaidi100's
 * default 1/s with a 10 s timeout: 11).
 */
export function usefulConcurrency(qps: number, timeoutMs: number): number {
  const { max, durationMs } = rateWindow(qps);
  return max * Math.ceil((durationMs + timeoutMs) / durationMs);
}

/**
 * Exact per-process rate limit on the requests themselves: no `durationMs` window, wherever it falls,
 * may see more than `max` of this process's requests arrive at the provider.
 *
 * The BullMQ limiter of a poll queue counts job starts (across processes), but the request leaves later
 * (after the job's shipments are loaded, behind other jobs' batches), so jobs started in two windows can
 * send their requests in one: at 336 jobs/s under a 500/s limit the Kuaidi100 fake counted 558 in one
 * second. And a 17TRACK job makes two calls. The gate is the precise bound at the point of sending.
 *
 * A request counts from when it is sent until one window after its answer (or failure): the provider
 * may count it at any instant in between. There are `max` slots; a slot is reused only one window after
 * its last request settled, so any `max + 1` requests include two on one slot, whose arrivals are at least
 * a window apart. The cost is that a slow answer holds its slot longer (rate ≤ max / (window + latency)).
 * Waiters are served in arrival order. Monotonic time (performance.now), not the injected clock.
 */
/** The shared (cross-process) stage of a gate: resolves with the function that gives the slot back. */
export interface GlobalStage {
  acquire(signal?: AbortSignal): Promise<() => void>;
  /** Hold every process's requests for `ms` (a provider's Retry-After), before this request's slot is given back. */
  hold(ms: number): void;
}

/** A request given up while it waited for the rate limit, because the process is stopping: it was never sent. */
export class GateStopped extends Error {
  override name = 'AbortError';
  constructor() {
    super('stopping: request not sent');
  }
}

export class RateGate {
  private readonly freeAt: number[];
  private readonly waiters: ((slot: number) => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** No request leaves before this instant (performance.now): the provider asked us to wait (429 Retry-After). */
  private heldUntil = -Infinity;
  /**
   * The cross-process stage (carriers/global-rate-gate.ts), attached by the daemon's workers once Redis is
   * known: a request that has its local slot also takes a slot of the provider's shared window in Redis.
   */
  global: GlobalStage | null = null;

  constructor(
    readonly max: number,
    readonly durationMs: number,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`RateGate: max must be a positive integer, got ${max}`);
    this.freeAt = new Array<number>(max).fill(-Infinity);
  }

  static forQps(qps: number): RateGate {
    const { max, durationMs } = rateWindow(qps);
    return new RateGate(max, durationMs);
  }

  /** Requests waiting for a slot and requests in flight (tests, metrics). */
  get state(): { waiting: number; inFlight: number } {
    return { waiting: this.waiters.length, inFlight: this.freeAt.filter((t) => t === Infinity).length };
  }

  /**
   * Run `send` once the window allows it (this process's, then the shared one when attached).
   * `signal` (the daemon stopping) ends the wait: the request is never sent and the call rejects with a
   * {@link GateStopped}; a request already sent is not the gate's to cancel. `holdAfter` reads the answer: a
   * number of ms (a 429's Retry-After) holds every request of this gate for that long, and through the shared
   * stage every other process's, decided before the slot is handed on, so no waiting request slips out between
   * the answer and the hold.
   */
  async run<T>(send: () => Promise<T>, opts: { signal?: AbortSignal; holdAfter?: (answer: T) => number | undefined } = {}): Promise<T> {
    const { signal, holdAfter } = opts;
    if (signal?.aborted) throw new GateStopped();
    const slot = await new Promise<number>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(take);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new GateStopped());
      };
      const take = (s: number) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(s);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(take);
      this.pump();
    });
    let release: (() => void) | null = null;
    try {
      if (this.global) release = await this.global.acquire(signal);
      // Stopped while the shared slot was being taken: give it back unsent.
      if (signal?.aborted) throw new GateStopped();
      const answer = await send();
      const holdMs = holdAfter?.(answer);
      if (holdMs !== undefined && holdMs > 0) {
        this.heldUntil = Math.max(this.heldUntil, performance.now() + holdMs);
        this.global?.hold(holdMs);
      }
      return answer;
    } finally {
      release?.();
      this.freeAt[slot] = performance.now() + this.durationMs;
      this.pump();
    }
  }

  /** Whether requests are held (a provider's Retry-After not yet elapsed). */
  get held(): boolean {
    return this.heldUntil > performance.now();
  }

  private pump(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.waiters.length > 0) {
      let best = 0;
      for (let i = 1; i < this.max; i++) if (this.freeAt[i]! < this.freeAt[best]!) best = i;
      const free = this.freeAt[best]!;
      // A hold (Retry-After) delays every slot; a slot still in flight stays in flight (Infinity).
      const at = Math.max(free, this.heldUntil);
      const now = performance.now();
      if (at <= now) {
        this.freeAt[best] = Infinity; // in flight
        this.waiters.shift()!(best);
        continue;
      }
      // Every slot in flight: the next settle pumps. Else wake when the earliest slot frees.
      if (at !== Infinity) {
        this.timer = setTimeout(
          () => {
            this.timer = null;
            this.pump();
          },
          Math.max(1, Math.ceil(at - now)),
        );
      }
      return;
    }
  }
}
