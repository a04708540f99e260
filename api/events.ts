import { z } from 'zod';
import { listUnclassified } from '../db/queries/shipment-view.js';
import { HOUR_MS, MINUTE_MS } from '../domain/clock.js';
import type { Deps } from '../jobs/define-job.js';
import { HttpError } from './http-kit.js';

const UNIT_MS: Record<string, number> = { m: MINUTE_MS, h: HOUR_MS, d: 24 * HOUR_MS };

/**
 * `--since` / `?since=`: a look-back such as `7d`, `36h`, `90m` (from `now`), or an ISO-8601 instant with
 * offset. Null when it is neither.
 */
export function parseSince(value: string, now: Date): Date | null {
  const rel = /^(\d{1,6})([mhd])$/.exec(value.trim());
  if (rel) return new Date(now.getTime() - Number(rel[1]) * UNIT_MS[rel[2]!]!);
  if (!z.iso.datetime({ offset: true }).safeParse(value).success) return null;
  return new Date(value);
}

export const UNCLASSIFIED_DEFAULTS = { since: '7d', limit: 100, maxLimit: 1000 };

const query = z.object({
  since: z.string().default(UNCLASSIFIED_DEFAULTS.since),
  limit: z.coerce.number().int().min(1).max(UNCLASSIFIED_DEFAULTS.maxLimit).default(UNCLASSIFIED_DEFAULTS.limit),
});

/** GET /api/events/unclassified — texts stored as `unknown`, grouped, most frequent first. */
export async function getUnclassified(deps: Deps, params: URLSearchParams) {
  const q = query.safeParse(Object.fromEntries(params));
  if (!q.success) throw new HttpError(400, q.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const now = deps.clock.now();
  const since = parseSince(q.data.since, now);
  if (!since) throw new HttpError(400, `since: ${JSON.stringify(q.data.since)} is neither a look-back like 7d / 36h / 90m nor an ISO-8601 instant`);
  return { since: since.toISOString(), items: await listUnclassified(deps.sql, { since, limit: q.data.limit }) };
}
