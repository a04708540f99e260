import { z } from 'zod';
import { normalizeCarrier } from '../carriers/carrier-codes.js';
import { providerFor } from '../carriers/index.js';
import { MINUTE_MS } from '../domain/clock.js';
import { carrierDetectors } from './detect-carrier.js';
import { defineJob, slotId, type FollowUp } from './define-job.js';

/** Parcels per detect-carrier job: detection is one call per number per provider. */
const DETECT_BATCH = 20;

/** A shipment handed to a poll job is not re-planned for this long (covers queueing and retries). */
const LEASE_MINUTES = 30;

/**
 * Sweep: shipments whose next_poll_at has come → poll jobs on each provider's queue, in batches the
 * provider's API accepts. Claiming with FOR UPDATE SKIP LOCKED and pushing next_poll_at forward makes a
 * double tick or a second replica find nothing left to plan.
 */
export const planPolls = defineJob({
  name: 'plan-polls',
  queue: 'schedules',
  payload: z.object({ slot: z.string().optional() }),
  schedule: (c) => c.jobs.planPolls.schedule,
  cycleOrder: 10,
  async handle(payload, { sql, clock, config, providers }, ctx) {
    const now = clock.now();
    const slot = payload.slot ?? slotId(now);
    const lease = new Date(now.getTime() + LEASE_MINUTES * MINUTE_MS);
    let planned = 0;
    let jobs = 0;
    // A handful of carriers cover a whole order book: resolve each route once per run, not once per parcel.
    const routeCache = new Map<string, string>();
    let inFlight: Promise<void> = Promise.resolve();
    for (;;) {
      const rows = await sql`
        with due as (
          select shipment_id from shipment_schedule
          where next_poll_at <= ${now}
          order by next_poll_at, shipment_id
          limit ${config.jobs.planPolls.pageSize}
          for update skip locked
        ), leased as (
          update shipment_schedule c set next_poll_at = ${lease}
          from due where c.shipment_id = due.shipment_id
          returning c.shipment_id
        )
        select s.id, s.carrier from leased join shipments s on s.id = leased.shipment_id`;
      if (rows.length === 0) break;
      planned += rows.length;
      const followUps: FollowUp[] = [];
      const byProvider = new Map<string, number[]>();
      const undetected: number[] = [];
      for (const r of rows) {
        // A carrier outside the table (kept as the order gave it, or empty): detect it before it can be routed.
        if (!normalizeCarrier(r.carrier)) {
          undetected.push(Number(r.id));
          continue;
        }
        let p = routeCache.get(r.carrier);
        if (!p) routeCache.set(r.carrier, (p = providerFor(config, r.carrier)));
        let list = byProvider.get(p);
        if (!list) byProvider.set(p, (list = []));
        list.push(Number(r.id));
      }
      for (const [provider, ids] of byProvider) {
        const size = providers.get(provider as never)?.maxBatch ?? 1;
        ids.sort((a, b) => a - b);
        for (let i = 0; i < ids.length; i += size) {
          const chunk = ids.slice(i, i + size);
          followUps.push({
            job: 'poll-tracking',
            queue: `poll-${provider}`,
            payload: { provider, shipmentIds: chunk },
            jobId: `poll-${provider}-${slot}-${chunk[0]}`,
          });
        }
      }
      if (undetected.length) {
        // On the first detector's poll queue, so its rate limit covers detection calls too.
        const queue = `poll-${carrierDetectors(config, providers)[0]?.name ?? providerFor(config, 'default')}`;
        undetected.sort((a, b) => a - b);
        for (let i = 0; i < undetected.length; i += DETECT_BATCH) {
          const chunk = undetected.slice(i, i + DETECT_BATCH);
          followUps.push({ job: 'detect-carrier', queue, payload: { shipmentIds: chunk }, jobId: `detect-carrier-${slot}-${chunk[0]}` });
        }
      }
      // Overlap Redis and Postgres: this page goes to BullMQ while the next page is claimed.
      await inFlight;
      inFlight = ctx.enqueue(followUps);
      // Awaited on the next page or after the loop; mark it handled so a Redis error cannot surface as an
      // unhandled rejection (which stops the daemon) while the next claim is running.
      inFlight.catch(() => {});
      jobs += followUps.length;
      // Stopping: the pages claimed so far are enqueued below; the next tick plans the rest.
      if (rows.length < config.jobs.planPolls.pageSize || ctx.signal?.aborted) break;
    }
    await inFlight;
    return { summary: { pollsPlanned: planned, pollJobs: jobs } };
  },
});
