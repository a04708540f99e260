import type { Config } from '../config/schema.js';
import { MINUTE_MS } from '../domain/clock.js';
import type { FollowUp, JobContext } from './define-job.js';

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

/**
 * A row handed to a job by a planning sweep (plan-polls, plan-subscriptions) is not planned again for this long:
 * it covers the job's queueing, its rate limit and its retries. The job itself moves the row on when it is done.
 */
export const SWEEP_LEASE_MINUTES = 30;

/** Until when a planning sweep's claim at `now` holds its rows (see SWEEP_LEASE_MINUTES). */
export function sweepLeaseUntil(now: Date): Date {
  return new Date(now.getTime() + SWEEP_LEASE_MINUTES * MINUTE_MS);
}

/**
 * The latest instant a sweep claimed at or before `now` can have leased a row to, plus a margin for a replica
 * whose clock runs ahead: a next_poll_at at or before it may be a lease, one after it was set otherwise.
 */
export function sweepLeaseHorizon(now: Date): Date {
  return new Date(now.getTime() + (SWEEP_LEASE_MINUTES + 5) * MINUTE_MS);
}

export interface SweepPages<R> {
  pageSize: number;
  /**
   * Claim the next page of due rows, at most pageSize: the statement takes them FOR UPDATE SKIP LOCKED and leases
   * them forward (sweepLeaseUntil), so a double tick or a second replica finds nothing left to plan.
   */
  claim(): Promise<R[]>;
  /** The follow-ups of a claimed page (and whatever the page settles without a job). */
  plan(rows: R[]): Promise<FollowUp[]>;
  /**
   * Hand a page to BullMQ while the next page is claimed (overlap Redis and Postgres). Otherwise each page is
   * enqueued before the next is claimed.
   */
  overlap?: boolean;
}

/**
 * The claim loop of the planning sweeps: claim a page, plan it, enqueue its follow-ups, until a page comes back
 * short or the process is stopping (the pages claimed so far are enqueued; the next tick plans the rest).
 * Returns the rows claimed and the jobs enqueued.
 */
export async function sweepPages<R>(ctx: JobContext, s: SweepPages<R>): Promise<{ claimed: number; jobs: number }> {
  let claimed = 0;
  let jobs = 0;
  let inFlight: Promise<void> = Promise.resolve();
  for (;;) {
    const rows = await s.claim();
    if (rows.length === 0) break;
    claimed += rows.length;
    const followUps = await s.plan(rows);
    if (s.overlap) {
      await inFlight;
      inFlight = ctx.enqueue(followUps);
      // Awaited on the next page or after the loop; mark it handled so a Redis error cannot surface as an
      // unhandled rejection (which stops the daemon) while the next claim is running.
      inFlight.catch(() => {});
    } else await ctx.enqueue(followUps);
    jobs += followUps.length;
    if (rows.length < s.pageSize || ctx.signal?.aborted) break;
  }
  await inFlight;
  return { claimed, jobs };
}
