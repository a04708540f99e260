import { listCarriers, type CarrierInfo } from '../carriers/carrier-codes.js';
import type { Deps } from '../jobs/define-job.js';
import { listOpenAlerts, type AlertRow } from '../db/queries/tracking.js';

export interface CarrierListItem {
  code: string;
  name: string;
  aliases: string[];
  providers: { kuaidi100: string | null; kdniao: string | null; seventeenTrack: number | null };
  source: string;
}

const item = (c: CarrierInfo): CarrierListItem => ({
  code: c.code,
  name: c.name,
  aliases: c.aliases,
  providers: { kuaidi100: c.kuaidi100, kdniao: c.kdniao, seventeenTrack: c.seventeenTrack },
  source: c.source,
});

/** GET /api/carriers?search=: the carrier table, or the rows matching `search` (how an export's spelling resolves first). */
export function getCarriers(q: URLSearchParams): { items: CarrierListItem[]; total: number } {
  const items = listCarriers(q.get('search') ?? undefined).map(item);
  return { items, total: items.length };
}

/** GET /api/alerts: open ops alerts (provider auth/quota, parcels whose carrier no provider recognises, …). */
export async function getAlerts(deps: Pick<Deps, 'sql'>): Promise<{ items: AlertRow[] }> {
  return { items: await listOpenAlerts(deps.sql) };
}
