import { z } from 'zod';
import type { ProviderName } from '../carriers/carrier.js';
import { normalizeCarrier } from '../carriers/carrier-codes.js';
import { providerFor } from '../carriers/index.js';
import type { Config } from '../config/schema.js';
import type { Sql } from '../db/client.js';
import { pushCoverage } from '../domain/poll-policy.js';
import { shipDeadlineAt, shipDeadlineSql } from '../rules/late-shipment.js';
import { carrierDetectors } from './detect-carrier.js';
import { defineJob, slotId, type Deps, type FollowUp } from './define-job.js';
import { sweepLeaseHorizon, sweepLeaseUntil, sweepPages } from './lease.js';

/** Parcels per detect-carrier job: detection is one call per number per provider. */
const DETECT_BATCH = 20;

/**
 * Parcels with failed poll jobs (poll_failures > 0) given a job of their own, per provider and plan-polls run.
 * One poison parcel leaves at most one batch (40 at 17TRACK) with failures, all isolated in the next run; a
 * provider-wide outage that the breaker did not catch leaves every parcel with failures, and without a bound
 * the first run after it would send each of them alone: 40 times the requests (100,000 parcels behind 17TRACK's
 * rate limit: hours instead of minutes). Over the bound they are batched as usual, most failures isolated first.
 */
export const ISOLATED_PER_RUN = 50;

/**
 * Sweep: shipments whose next_poll_at has come → poll jobs on each provider's queue, in batches the
 * provider's API accepts. Claiming with FOR UPDATE SKIP LOCKED and pushing next_poll_at forward makes a
 * double tick or a second replica find nothing left to plan. Uncollected parcels within
 * polling.nearDeadlineHours of their ship deadline are claimed first, nearest deadline first; the rest by
 * next_poll_at.
 */
export const planPolls = defineJob({
  name: 'plan-polls',
  queue: 'schedules',
  payload: z.object({ slot: z.string().optional() }),
  schedule: (c) => c.jobs.planPolls.schedule,
  cycleOrder: 10,
  async handle(payload, { sql, clock, config, providers, metrics }, ctx) {
    const now = clock.now();
    const slot = payload.slot ?? slotId(now);
    const lease = sweepLeaseUntil(now);
    let leftToPushes = 0;
    // A handful of carriers cover a whole order book: resolve each route once per run, not once per parcel.
    const routeCache = new Map<string, string>();
    // What is left of ISOLATED_PER_RUN, per provider, for this run.
    const isolatedLeft = new Map<string, number>();
    const pageSize = config.jobs.planPolls.pageSize;
    // Near-deadline parcels first: a fresh book can have 100,000 parcels due at once behind a provider that
    // answers about one request a second, and an uncollected parcel whose ship deadline falls within
    // polling.nearDeadlineHours must get its fresh answer while an agent can still act. They are ranked once a
    // run (nearDeadlineDue) and claimed page by page in that order; ranked again for every page, the window's
    // parcels were read once per page (2.2 s a page with 50,000 of them in a 1,000,000-parcel book).
    const near = await nearDeadlineDue(sql, config, now);
    let nearAt = 0;
    const claimPage = (nearIds: string[], limit: number) => sql`
      with near as (
        select c.shipment_id from unnest(${sql.array(nearIds)}::bigint[]) as n(id)
        join shipment_schedule c on c.shipment_id = n.id
        where c.next_poll_at <= ${now}
        for update of c skip locked
      ), rest as (
        -- our own locks are not skipped: the near rows are left out by id
        select shipment_id from shipment_schedule
        where next_poll_at <= ${now} and shipment_id not in (select shipment_id from near)
        order by next_poll_at, shipment_id
        limit ${limit} - (select count(*) from near)
        for update skip locked
      ), due as (
        select shipment_id from near union all select shipment_id from rest
      ), leased as (
        -- the limit, never exceeded, tells the planner the page is small: without it, guessing rest's size
        -- from a computed limit, it hashed all of shipment_schedule for every page (1.7 s at 1,000,000 parcels)
        update shipment_schedule c set next_poll_at = ${lease}
        from (select shipment_id from due limit ${limit}) d where c.shipment_id = d.shipment_id
        returning c.shipment_id, c.poll_failures
      )
      select s.id, s.carrier, leased.poll_failures from leased join shipments s on s.id = leased.shipment_id`;
    const { claimed, jobs } = await sweepPages(ctx, {
      pageSize,
      // Overlap Redis and Postgres: a page goes to BullMQ while the next page is claimed.
      overlap: true,
      async claim() {
        const rows = [];
        // A near parcel claimed meanwhile by another replica (skipped, or no longer due) leaves room in the page:
        // the next near ones fill it before the page can come back short.
        do {
          const slice = near.slice(nearAt, nearAt + pageSize - rows.length);
          nearAt += slice.length;
          rows.push(...(await claimPage(slice, pageSize - rows.length)));
        } while (rows.length < pageSize && nearAt < near.length);
        return rows;
      },
      async plan(rows) {
        const followUps: FollowUp[] = [];
        const byProvider = new Map<string, number[]>();
        const undetected: number[] = [];
        const failures = new Map<number, number>();
        for (const r of rows) {
          if (r.poll_failures > 0) failures.set(Number(r.id), r.poll_failures);
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
          if (modeOf(config, provider) !== 'push') continue;
          const polled = await leaveCoveredToPushes({ sql, config, metrics }, provider as ProviderName, ids, now);
          leftToPushes += ids.length - polled.length;
          byProvider.set(provider, polled);
        }
        for (const [provider, ids] of byProvider) {
          const size = providers.get(provider as never)?.maxBatch ?? 1;
          const { alone, batched } = isolateFailing(ids, failures, size, isolatedLeft.get(provider) ?? ISOLATED_PER_RUN);
          if (size > 1) isolatedLeft.set(provider, (isolatedLeft.get(provider) ?? ISOLATED_PER_RUN) - alone.length);
          for (const chunk of [...alone.map((id) => [id]), ...chunksOf(batched, size)]) {
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
        return followUps;
      },
    });
    await refreshFailingGauge({ sql, config, providers, metrics });
    return { summary: { pollsPlanned: claimed - leftToPushes, pollJobs: jobs, ...(leftToPushes ? { leftToPushes } : {}) } };
  },
});

/**
 * parcelwatch_poll_failing_shipments: parcels still polled (next_poll_at set) with poll_failures > 0, by the
 * provider their carrier is routed to. A parcel whose polling stopped is left out: a push can deliver it without
 * resetting the count, which then says nothing about a poll to come. One statement a run: poll_failures is not
 * indexed (an index on it would make the poll path's schedule update non-HOT), so this scans shipment_schedule's
 * narrow rows and joins shipments only for the few failing ones. Every provider of the process is set (0 when
 * none fail), so an alert on the series sees it go back to 0 instead of vanishing.
 */
async function refreshFailingGauge({ sql, config, providers, metrics }: Pick<Deps, 'sql' | 'config' | 'providers' | 'metrics'>): Promise<void> {
  const rows = await sql`
    select s.carrier, count(*)::int as n
    from shipment_schedule c join shipments s on s.id = c.shipment_id
    where c.poll_failures > 0 and c.next_poll_at is not null
    group by s.carrier`;
  const byProvider = new Map<string, number>([...providers.keys()].map((p) => [p, 0]));
  for (const r of rows) {
    const p = providerFor(config, r.carrier);
    byProvider.set(p, (byProvider.get(p) ?? 0) + r.n);
  }
  metrics.pollFailing.reset();
  for (const [provider, n] of byProvider) metrics.pollFailing.set({ provider }, n);
}

/**
 * A provider's planned parcels split into those polled alone (each a job of its own: a parcel whose poll jobs
 * failed, so that if it is what breaks them it fails alone) and the rest, in id order. At most `budget` are
 * isolated (ISOLATED_PER_RUN), most failures first: the parcel that failed alone before is the likeliest poison.
 */
export function isolateFailing(ids: number[], failures: Map<number, number>, size: number, budget: number): { alone: number[]; batched: number[] } {
  const sorted = [...ids].sort((a, b) => a - b);
  if (size <= 1) return { alone: [], batched: sorted };
  const alone = sorted
    .filter((id) => failures.has(id))
    .sort((a, b) => failures.get(b)! - failures.get(a)! || a - b)
    .slice(0, Math.max(0, budget));
  const isolated = new Set(alone);
  return { alone, batched: sorted.filter((id) => !isolated.has(id)) };
}

function chunksOf(ids: number[], size: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < ids.length; i += size) out.push(ids.slice(i, i + size));
  return out;
}

/**
 * The due parcels near their ship deadline, nearest first: uncollected, the deadline (rules/late-shipment.ts
 * shipDeadlineSql: paid_at + the platform's shipWithinHours, or the promise of a presale/custom order) ahead of
 * `now` by at most polling.nearDeadlineHours. A parcel past its deadline is not among them: its breach is
 * measured by the carrier's collection scan whenever it is polled.
 */
async function nearDeadlineDue(sql: Sql, config: Config, now: Date): Promise<string[]> {
  const windowHours = config.polling.nearDeadlineHours;
  // The deadline uses the orders row alone: orders are narrowed by it before they are joined to their parcels.
  const rows = await sql`
    select c.shipment_id
    from (select o.id, ${shipDeadlineSql(sql, config, 'o')} as deadline from orders o) o
    join shipments s on s.order_id = o.id
    join shipment_schedule c on c.shipment_id = s.id
    where o.deadline > ${now} and o.deadline <= ${now}::timestamptz + ${windowHours} * interval '1 hour'
      and s.collected_at is null and c.next_poll_at <= ${now}
    order by o.deadline, c.next_poll_at, c.shipment_id`;
  return rows.map((r) => String(r.shipment_id));
}

/** The ingest mode of a provider; the sandbox only polls. */
export function modeOf(config: Config, provider: string): 'poll' | 'push' | 'both' {
  return provider === 'kuaidi100' || provider === 'kdniao' || provider === 'seventeenTrack' ? config.providers[provider].mode : 'poll';
}

/**
 * Due shipments of a push-mode provider: those whose pushes are flowing are not polled (domain/poll-policy.ts
 * pushCoverage); their next poll moves to when they would fall silent or near their ship deadline.
 * Returns the ids to poll (fallback: unsubscribed, silent, deadline).
 */
async function leaveCoveredToPushes(deps: Pick<Deps, 'sql' | 'config' | 'metrics'>, provider: ProviderName, ids: number[], now: Date): Promise<number[]> {
  const { sql, config } = deps;
  const rows = await sql`
    select s.id, s.collected_at, o.paid_at, o.type, o.promised_ship_by, o.platform, x.state, x.subscribed_at, x.last_push_at
    from shipments s join orders o on o.id = s.order_id left join shipment_subscriptions x on x.shipment_id = s.id
    where s.id = any(${sql.array(ids)}::bigint[])`;
  const poll: number[] = [];
  const later: { id: number; at: Date }[] = [];
  for (const r of rows) {
    const shipDeadline = shipDeadlineAt({ orderType: r.type, paidAt: r.paid_at, promisedShipBy: r.promised_ship_by, platform: r.platform }, config);
    const c = pushCoverage(
      { mode: 'push', state: r.state, subscribedAt: r.subscribed_at, lastPushAt: r.last_push_at, collectedAt: r.collected_at, shipDeadline },
      now,
      { fallbackAfterHours: config.push.fallbackAfterHours, nearDeadlineHours: config.polling.nearDeadlineHours },
    );
    if (c.poll) {
      poll.push(Number(r.id));
      if (c.fallback) deps.metrics.fallbackPolls.inc({ provider, why: c.fallback });
    } else later.push({ id: Number(r.id), at: c.until });
  }
  await deferPolls(sql, later);
  return poll.sort((a, b) => a - b);
}

async function deferPolls(sql: Sql, rows: { id: number; at: Date }[]): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    update shipment_schedule c set next_poll_at = t.at
    from unnest(${sql.array(rows.map((r) => r.id))}::bigint[], ${sql.array(rows.map((r) => r.at.toISOString()))}::timestamptz[]) as t(id, at)
    where c.shipment_id = t.id and c.next_poll_at is not null`;
}

/** Rows per statement when leases are released. */
const RELEASE_BATCH = 5000;

/**
 * Redis lost its data (restarted without persistence, flushed, replaced by an empty server): the poll jobs
 * of parcels leased by plan-polls are gone, and without this those parcels wait out SWEEP_LEASE_MINUTES before
 * they are planned again (4,605 parcels for 30 minutes in issue 13's trial). Every lease is released:
 * next_poll_at inside the lease horizon (plus a margin for a replica whose clock runs ahead) becomes now,
 * so the next plan-polls run plans them again. Parcels merely due inside the horizon are polled a little
 * early, which costs one poll each; parcels due later are not touched. Batched, SKIP LOCKED (a plan-polls
 * run holding rows plans them itself). Called by worker/redis-epoch.ts; returns the rows released.
 */
export async function releasePollLeases(sql: Sql, now: Date): Promise<number> {
  const horizon = sweepLeaseHorizon(now);
  let released = 0;
  for (;;) {
    const r = await sql`
      with b as (
        select shipment_id from shipment_schedule
        where next_poll_at > ${now} and next_poll_at <= ${horizon}
        order by next_poll_at, shipment_id
        limit ${RELEASE_BATCH}
        for update skip locked
      )
      update shipment_schedule c set next_poll_at = ${now} from b where c.shipment_id = b.shipment_id`;
    released += r.count;
    if (r.count < RELEASE_BATCH) return released;
  }
}

/** Longest backoff of a parcel whose poll jobs keep failing alone: it is still asked once a day. */
export const POLL_BACKOFF_CAP_MINUTES = 24 * 60;

/**
 * A poll job failed for good (its attempts used; jobs/poll-tracking.ts onFailed): its parcels, leased until
 * now + up to SWEEP_LEASE_MINUTES, become due again one per-number floor from now instead (a parcel whose every
 * query fails is not asked again at once, nor left to the lease). With `count`, each parcel's poll_failures
 * goes up by one, so plan-polls gives it a job of its own; a parcel of a one-parcel job (it failed alone: the
 * failure is its own) is due floor × 2^(failures − 1) from now instead, at most POLL_BACKOFF_CAP_MINUTES (and
 * never less than the floor). A row due later than the lease horizon was given that instant since (a push
 * answered meanwhile) and keeps it; a row no longer scheduled (delivered) stays so. Returns the rows moved.
 */
export async function reschedulePolls(sql: Sql, shipmentIds: number[], now: Date, floorMinutes: number, count: boolean): Promise<number> {
  const horizon = sweepLeaseHorizon(now);
  const alone = count && shipmentIds.length === 1;
  // The exponent is bounded before the power so a long run of failures cannot overflow the interval.
  const r = await sql`
    update shipment_schedule set
      poll_failures = least(poll_failures + ${count ? 1 : 0}, 32767),
      next_poll_at = ${now}::timestamptz + interval '1 minute' * case when ${alone}::boolean
        then greatest(${floorMinutes}::float8, least(${floorMinutes}::float8 * power(2, least(poll_failures, 30)), ${POLL_BACKOFF_CAP_MINUTES}::float8))
        else ${floorMinutes}::float8 end
    where shipment_id = any(${sql.array(shipmentIds)}::bigint[]) and next_poll_at is not null and next_poll_at <= ${horizon}`;
  return r.count;
}
