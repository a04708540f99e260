import type { Config } from '../config/schema.js';
import { systemClock, type Clock } from '../domain/clock.js';
import type { ProviderName, TrackingProvider } from './carrier.js';
import { normalizeCarrier } from './carrier-codes.js';
import { CircuitBreaker, withCircuitBreaker } from './circuit-breaker.js';
import { createKdniaoProvider } from './kdniao/client.js';
import { createKuaidi100Provider } from './kuaidi100/client.js';
import { createSandboxProvider } from './sandbox/index.js';
import { createSeventeenTrackProvider } from './seventeen-track/client.js';

export interface CreateProvidersOptions {
  /** Clock for the circuit breakers (tests pass a fixed clock). */
  clock?: Clock;
  /** Skip the breaker wrapping (tests of raw adapters). */
  breaker?: boolean;
}

/**
 * Every enabled provider, each behind its own circuit breaker so one provider's outage never slows
 * polls routed to another.
 */
export function createProviders(config: Config, opts: CreateProvidersOptions = {}): Map<ProviderName, TrackingProvider> {
  const clock = opts.clock ?? systemClock;
  const p = config.providers;
  const built: [ProviderName, () => TrackingProvider][] = [];
  if (p.sandbox.enabled) built.push(['sandbox', () => createSandboxProvider(config)]);
  if (p.kuaidi100.enabled) built.push(['kuaidi100', () => createKuaidi100Provider(config)]);
  if (p.kdniao.enabled) built.push(['kdniao', () => createKdniaoProvider(config)]);
  if (p.seventeenTrack.enabled) built.push(['seventeenTrack', () => createSeventeenTrackProvider(config)]);
  const out = new Map<ProviderName, TrackingProvider>();
  for (const [name, make] of built) {
    const provider = make();
    out.set(name, opts.breaker === false ? provider : withCircuitBreaker(provider, new CircuitBreaker(name, p.circuitBreaker, clock)));
  }
  return out;
}

/**
 * The provider a carrier's numbers go to: `routes[<carrier>]`, else `routes.default`, else sandbox.
 * Route keys may be written in any accepted spelling (`shunfeng`, `顺丰`), so both sides are normalized.
 */
export function providerFor(config: Config, carrierCode: string): ProviderName {
  const routes = config.providers.routes;
  const wanted = normalizeCarrier(carrierCode) ?? carrierCode;
  if (routes[carrierCode]) return routes[carrierCode]!;
  for (const [key, provider] of Object.entries(routes)) {
    if (key !== 'default' && (normalizeCarrier(key) ?? key) === wanted) return provider;
  }
  return routes.default ?? 'sandbox';
}
