import { z } from 'zod';
import { recomputeNorms, sampleDelivered } from '../db/queries/norms.js';
import { defineJob, type Deps } from './define-job.js';

/**
 * Learned delivery norms, kept up incrementally: parcels signed for since the last run (queued in
 * transit_pending by a trigger) become transit samples, then only the routes they touched, their carriers
 * and the global norm are recomputed (percentile_cont in Postgres). The history never enters Node: a
 * batch returns the few distinct routes it touched, and the set of them is what this run keeps.
 */
export async function refreshNorms(deps: Pick<Deps, 'sql' | 'config' | 'clock'>, signal?: AbortSignal): Promise<{ sampled: number; normsUpdated: number }> {
  const { sql, config } = deps;
  const routes = new Map<string, { carrier: string; origin: string | null; destination: string | null }>();
  let sampled = 0;
  for (;;) {
    const batch = await sampleDelivered(sql, config.jobs.refreshNorms.batchSize);
    sampled += batch.taken;
    for (const r of batch.routes) routes.set(JSON.stringify([r.carrier, r.origin, r.destination]), r);
    if (batch.taken < config.jobs.refreshNorms.batchSize || signal?.aborted) break;
  }
  const normsUpdated = await recomputeNorms(sql, [...routes.values()], deps.clock.now(), config.norms.windowDays);
  return { sampled, normsUpdated };
}

export const refreshNormsJob = defineJob({
  name: 'refresh-norms',
  queue: 'schedules',
  payload: z.object({ slot: z.string().optional() }),
  schedule: (c) => c.jobs.refreshNorms.schedule,
  // After the cycle's polls (which deliver parcels), before detection (which judges against the norms).
  cycleOrder: 15,
  async handle(_payload, deps, ctx) {
    const s = await refreshNorms(deps, ctx.signal);
    if (s.sampled) ctx.log.info(s, 'transit norms refreshed');
    return { summary: { deliveriesSampled: s.sampled, normsUpdated: s.normsUpdated } };
  },
});
