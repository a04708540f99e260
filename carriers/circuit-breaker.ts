import type { Clock } from '../domain/clock.js';
import { ProviderError, type ProviderContext, type ProviderName, type TrackRequest, type TrackResult, type TrackingProvider } from './carrier.js';

export interface CircuitBreakerOptions {
  /** Consecutive transient failures that open the breaker. */
  failureThreshold: number;
  /** How long an open breaker rejects calls before one trial call. */
  openSeconds: number;
}

type State = { kind: 'closed'; failures: number } | { kind: 'open'; until: number } | { kind: 'half_open'; trialInFlight: boolean };

/**
 * Per-provider circuit breaker. When a provider is down, every poll job would otherwise wait for its
 * own timeout and retry: the breaker fails them fast with a `transient` error carrying retryAfterMs,
 * so the queue backs off without hammering the provider. Only transient failures count: an auth,
 * quota or malformed reply proves the provider is reachable.
 */
export type BreakerState = 'closed' | 'open' | 'half_open';

export class CircuitBreaker {
  private state: State = { kind: 'closed', failures: 0 };
  /** Told of every change of state (worker/deps.ts logs it and sets the metric). */
  onChange?: (to: BreakerState, from: BreakerState) => void;

  constructor(
    readonly provider: ProviderName,
    private readonly opts: CircuitBreakerOptions,
    private readonly clock: Clock,
  ) {}

  get status(): 'closed' | 'open' | 'half_open' {
    if (this.state.kind === 'open' && this.clock.now().getTime() >= this.state.until) return 'half_open';
    return this.state.kind;
  }

  private set(next: State): void {
    const from = this.state.kind;
    this.state = next;
    if (from !== next.kind) this.onChange?.(next.kind, from);
  }

  async exec<T>(fn: () => Promise<T>): Promise<T> {
    const now = this.clock.now().getTime();
    if (this.state.kind === 'open') {
      if (now < this.state.until) throw this.openError(this.state.until - now);
      this.set({ kind: 'half_open', trialInFlight: false });
    }
    let trial = false;
    if (this.state.kind === 'half_open') {
      // One trial at a time: concurrent callers keep failing fast until the trial tells us more.
      if (this.state.trialInFlight) throw this.openError(this.opts.openSeconds * 1000);
      this.state.trialInFlight = true;
      trial = true;
    }
    try {
      const result = await fn();
      this.set({ kind: 'closed', failures: 0 });
      return result;
    } catch (err) {
      const transient = !(err instanceof ProviderError) || err.kind === 'transient';
      if (err instanceof ProviderError && (err.opts.notSent || err.opts.stopped)) {
        // Says nothing of the provider (never sent, or cut by our own shutdown): no change but a trial's turn.
        if (trial && this.state.kind === 'half_open') this.state.trialInFlight = false;
      } else if (!transient) {
        this.set({ kind: 'closed', failures: 0 });
      } else if (trial) {
        this.trip();
      } else if (this.state.kind === 'closed') {
        const failures = this.state.failures + 1;
        if (failures >= this.opts.failureThreshold) this.trip();
        else this.state = { kind: 'closed', failures };
      }
      throw err;
    }
  }

  private trip(): void {
    this.set({ kind: 'open', until: this.clock.now().getTime() + this.opts.openSeconds * 1000 });
  }

  private openError(retryAfterMs: number): ProviderError {
    return new ProviderError(this.provider, 'transient', 'circuit open', { retryAfterMs, circuitOpen: true });
  }
}

/**
 * Wrap a provider so every track() call passes through `breaker`. The wrapper inherits from the
 * provider, so extra members (Kdniao's `requestType`, `close()`) stay reachable for the planner.
 */
export function withCircuitBreaker<P extends TrackingProvider>(provider: P, breaker: CircuitBreaker): P & { readonly breaker: CircuitBreaker } {
  const wrapped = Object.create(provider) as P & { breaker: CircuitBreaker };
  Object.defineProperty(wrapped, 'breaker', { value: breaker, enumerable: true });
  Object.defineProperty(wrapped, 'track', {
    value: (requests: TrackRequest[], ctx: ProviderContext): Promise<TrackResult[]> => breaker.exec(() => provider.track(requests, ctx)),
    enumerable: true,
  });
  const detect = provider.detectCarrier?.bind(provider);
  if (detect) {
    Object.defineProperty(wrapped, 'detectCarrier', {
      value: (trackingNo: string, ctx: ProviderContext): Promise<string[]> => breaker.exec(() => detect(trackingNo, ctx)),
      enumerable: true,
    });
  }
  return wrapped;
}
