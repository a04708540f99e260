import type { NormalizedEvent, ProviderContext, TrackingProvider, TrackRequest, TrackResult } from '../../carriers/carrier.js';
import type { Status } from '../../domain/status.js';

/** Test timelines start at T0 (00:00 Shanghai on 11.11); instants are hours after it. */
export const T0 = Date.parse('2026-11-11T00:00:00+08:00');
export const at = (h: number) => new Date(T0 + h * 3_600_000);

export interface ScriptedEvent {
  h: number;
  status: Status;
  text: string;
  hub?: string;
  /** The provider's structured location (Kuaidi100 areaName, Kdniao Location), if it gives one. */
  location?: string;
  /** When the provider first reports it (default: when it happens). Later = arrives out of order. */
  visibleH?: number;
}

/**
 * A provider whose reply per tracking number is scripted on the timeline: it reports every scripted
 * event that has become visible at the clock instant of the poll, like a carrier API would.
 */
export function scriptedProvider(script: Map<string, ScriptedEvent[]>): TrackingProvider {
  return {
    name: 'sandbox',
    maxBatch: 50,
    async track(reqs: TrackRequest[], ctx: ProviderContext): Promise<TrackResult[]> {
      const now = ctx.clock.now().getTime();
      return reqs.map((r) => {
        const events = (script.get(r.trackingNo) ?? []).filter((e) => at(e.visibleH ?? e.h).getTime() <= now);
        if (events.length === 0) return { kind: 'not_found', trackingNo: r.trackingNo, message: 'no record yet' };
        return {
          kind: 'ok',
          trackingNo: r.trackingNo,
          summaryStatus: null,
          flags: [],
          events: events.map(
            (e): NormalizedEvent => ({ occurredAt: at(e.h), status: e.status, hub: e.hub ?? null, location: e.location ?? null, text: e.text, providerCode: null, raw: e }),
          ),
        };
      });
    },
  };
}
