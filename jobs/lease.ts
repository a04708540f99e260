import type { Config } from '../config/schema.js';

/**
 * When a lease taken at `now` for `ms` runs out. Leases (a delivery or customer message being sent, or owned by
 * a retry chain through its backoff) are written by one replica and judged by the others, each on its own
 * clock: a replica whose clock is ahead would read a lease written by one behind as run out early and send the
 * row a second time (the fault suite's clock-skew test saw nine agent deliveries sent twice at ±90 s). So every
 * lease is longer by the largest clock difference between replicas (`replicas.clockSkewSeconds`): whoever reads
 * it, it holds at least `ms`. The cost: work of a replica that died is taken over that much later.
 */
export function leaseUntil(now: Date, ms: number, config: Pick<Config, 'replicas'>): Date {
  return new Date(now.getTime() + ms + config.replicas.clockSkewSeconds * 1000);
}
