/**
 * The sandbox tracking provider: a built-in, deterministic carrier simulation, so parcelwatch runs
 * end to end (demo, tests, first setup) with no credentials and no network.
 *
 * How it works:
 * - Each parcel's whole journey is drawn once from a small seeded PRNG (mulberry32 over a cyrb53 hash
 *   of `providers.sandbox.seed` and the tracking number). A poll reveals the events whose time is
 *   `<= ctx.clock.now()`: the same input and the same now give identical answers, and a later now
 *   gives a superset (history only grows). Nothing reads the system clock.
 * - The journey starts from the order's `paidAt` (else `markedShippedAt`): pre-advice (已下单) at the
 *   marked-shipped time, the collection scan 2–30 h after payment (48–90 h for `rates.lateCollection`,
 *   never for `rates.neverCollected`), 2–4 transit hubs with arrival and departure scans
 *   (快件已到达【X】 / 快件离开【X】已发往【Y】; YTO and STO numbers use their carriers' own styles),
 *   the destination outlet, 快递员…正在派件 in local daytime, then 已签收 or a locker / parcel station hold
 *   that is picked up later.
 * - Exceptions at the configured rates: `stall` (scans stop at a hub), `problem` (问题件 held then
 *   resolved, 丢失, 拒签 → 退回 → 退签, or 派送不成功 then redelivered), `lockerUncollected` (left in the
 *   locker or station). Rates are shares of all parcels; if they add up past 1, later ones shrink.
 * - Numbers starting with `NOTFOUND` (or not 6–32 letters/digits) answer `not_found`, as does a parcel
 *   whose first event is still in the future.
 * - Events carry the status from `statusFromText` (../status-rules.ts) and the hub from `extractHub` (../hub.ts), exactly as a
 *   real text-based provider would; `providerCode` is the simulation step (COLLECT, HUB_ARRIVE, …).
 */
import type { Config } from '../../config/schema.js';
import type { TrackingProvider, TrackResult } from '../carrier.js';
import { simulate } from './simulate.js';

export { planJourney, simulate } from './simulate.js';
export type { Journey, PlannedEvent, SandboxRates, SimInput } from './simulate.js';

export function createSandboxProvider(config: Config): TrackingProvider {
  const { seed, rates } = config.providers.sandbox;
  return {
    name: 'sandbox',
    maxBatch: 50,
    async track(requests, ctx) {
      const now = ctx.clock.now();
      return requests.map((r): TrackResult => {
        const result = simulate(
          {
            seed,
            rates,
            carrier: r.carrier,
            trackingNo: r.trackingNo,
            paidAt: r.paidAt ?? null,
            markedShippedAt: r.markedShippedAt ?? null,
            timeZone: ctx.timeZone,
          },
          now,
        );
        if (result.kind === 'not_found') return { kind: 'not_found', trackingNo: r.trackingNo, message: result.message };
        return { kind: 'ok', trackingNo: r.trackingNo, events: result.events, summaryStatus: null, flags: [] };
      });
    },
  };
}
