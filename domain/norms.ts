import { renderTemplate } from '../notify/render.js';

/**
 * A transit-time norm (carrier collection → delivery) from the shop's own delivered history, or a seed.
 * `level` says how specific it is: the parcel's route, its carrier overall, or every carrier.
 */
export interface TransitNorm {
  level: 'route' | 'carrier' | 'global';
  source: 'learned' | 'seed';
  carrier: string;
  /** `*` above route level. */
  origin: string;
  destination: string;
  p50Hours: number;
  p90Hours: number;
  samples: number;
  /** The parcel's own route as far as its events tell (destination often unknown while in transit). */
  routeOrigin?: string | null;
  routeDestination?: string | null;
}

/** Whole days a customer is told a parcel normally takes: the p50 rounded up, at least 1. */
export function normalDays(p50Hours: number): number {
  return Math.max(1, Math.ceil(p50Hours / 24 - 1e-9));
}

/**
 * {normalArrival}: "通常 N 天左右送达" from the norm's p50 — usual practice, never a promise of a date.
 * Without a norm it says the configured flat `outreach.normalTransitDays`.
 */
export function normalArrival(norm: Pick<TransitNorm, 'p50Hours'> | null | undefined, cfg: { norms: { arrivalText: string }; outreach: { normalTransitDays: number } }): string {
  const days = norm ? normalDays(norm.p50Hours) : cfg.outreach.normalTransitDays;
  return renderTemplate(cfg.norms.arrivalText, { days });
}

/** The norm in an exception's details (agents and the API read it; hours to one decimal). */
export function normDetails(n: TransitNorm): Record<string, unknown> {
  const r1 = (h: number) => Math.round(h * 10) / 10;
  return {
    level: n.level,
    source: n.source,
    carrier: n.carrier,
    origin: n.origin,
    destination: n.destination,
    p50Hours: r1(n.p50Hours),
    p90Hours: r1(n.p90Hours),
    samples: n.samples,
  };
}

