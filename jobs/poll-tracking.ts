import { z } from 'zod';
import { PROVIDERS, ProviderError, type ProviderName } from '../carriers/carrier.js';
import type { Sql } from '../db/client.js';
import { quarantineReplies, raiseAlert, type ShipmentPollRow } from '../db/queries/tracking.js';
import { MINUTE_MS } from '../domain/clock.js';
import { emptySummary, type IngestItem } from '../ingest/tracking.js';
import { ingestBatcher, pollBatching } from '../ingest/tracking-batch.js';
import { defineJob, type Deps, type JobContext, type JobResult } from './define-job.js';
import { reschedulePolls } from './plan-polls.js';

/** Kuaidi100 locks a number queried more than 48 times in 24 h; the floor and the cap hold across restarts. */
function allowedNow(s: ShipmentPollRow, now: Date, floorMinutes: number, cap: number | null): boolean {
  if (s.lastPolledAt && now.getTime() - s.lastPolledAt.getTime() < floorMinutes * MINUTE_MS) return false;
  if (cap !== null) {
    const recent = s.recentPolls.filter((p) => now.getTime() - p.getTime() < 24 * 60 * MINUTE_MS).length;
    if (recent >= cap) return false;
  }
  return true;
}

/**
 * Daily quota (Kdniao 1002): take up to `n` calls from today's budget in one locked read-modify-write, so
 * workers racing for the last calls never overshoot it; returns how many were granted.
 */
export async function takeQuota(sql: Sql, provider: string, day: string, n: number, quota: number): Promise<number> {
  await sql`insert into provider_usage (provider, day, calls) values (${provider}, ${day}, 0) on conflict (provider, day) do nothing`;
  const [row] = await sql`
    with cur as (select calls from provider_usage where provider = ${provider} and day = ${day} for update)
    update provider_usage u set calls = greatest(u.calls, least(u.calls + ${n}, ${quota}))
    from cur where u.provider = ${provider} and u.day = ${day}
    returning u.calls - cur.calls as granted`;
  return Number(row?.granted ?? 0);
}

export const pollTracking = defineJob({
  name: 'poll-tracking',
  queue: 'tracking',
  payload: z.object({ provider: z.enum(PROVIDERS), shipmentIds: z.array(z.number().int().positive()).min(1).max(100) }),
  // attempts and backoff: providers.retry (the runtime's default)
  async handle({ provider: providerName, shipmentIds }, deps, ctx) {
    // The numbers the job was working on when it failed (all of them until the provider is asked, then the batch).
    let working: string[] = [];
    try {
      return await poll(providerName, shipmentIds, deps, ctx, (numbers) => (working = numbers));
    } catch (err) {
      throw namedFailure(err, providerName, working.length ? numbersNamed(working) : ` (shipments ${shipmentIds.join(', ')})`);
    }
  },
  /**
   * Failed for good: the parcels are not left leased by plan-polls for the rest of LEASE_MINUTES, nor planned
   * again at once (a number whose every query fails must not be hammered): they are due again one per-number
   * floor (minPollIntervalMinutes) from now, like a poll deferred by the floor. Each parcel's poll_failures is
   * counted, so plan-polls polls it alone next time (one poison parcel must not fail its batch-mates again), and
   * a parcel that failed alone backs off exponentially (plan-polls reschedulePolls). Not counted: the breaker's
   * rejections, requests never sent and a shutdown, which say nothing about these parcels (an outage the breaker
   * caught must not isolate and back off every parcel of the provider).
   */
  async onFailed({ provider, shipmentIds }, { sql, clock, config, log }, { jobId, error }) {
    const now = clock.now();
    const floor = config.providers[provider].minPollIntervalMinutes;
    const count = !(error instanceof ProviderError && (error.opts.circuitOpen || error.opts.notSent || error.opts.stopped));
    const moved = await reschedulePolls(sql, shipmentIds, now, floor, count);
    const when = count && shipmentIds.length === 1 ? `in ${floor} min or more (backoff)` : `in ${floor} min`;
    log.info({ job: 'poll-tracking', jobId, provider, shipments: moved, counted: count }, `poll job failed for good: its parcels are due again ${when}`);
  },
});

/** ` (tracking number X)` / ` (tracking numbers A, B and 3 more)`: what ops search for, bounded for a 100-parcel job. */
export function numbersNamed(numbers: string[]): string {
  const shown = numbers.slice(0, 10).join(', ');
  const more = numbers.length > 10 ? ` and ${numbers.length - 10} more` : '';
  return ` (tracking number${numbers.length > 1 ? 's' : ''} ${shown}${more})`;
}

/**
 * The failed reason ops read (console, `parcelwatch jobs`, BullMQ) names the provider and the numbers, not
 * only the error. A ProviderError stays one (the retry backoff reads its Retry-After); it is a new error, not
 * the thrown one changed, because one flush error is thrown to every job sharing the flush.
 */
function namedFailure(err: unknown, provider: ProviderName, which: string): Error {
  if (err instanceof ProviderError) {
    const named = new ProviderError(err.provider, err.kind, '', err.opts);
    named.message = err.message + which;
    return named;
  }
  const cause = err instanceof Error ? err : new Error(String(err));
  return new Error(`${provider}: ${cause.message}${which}`, { cause });
}

async function poll(
  providerName: ProviderName,
  shipmentIds: number[],
  deps: Deps,
  ctx: JobContext,
  working: (numbers: string[]) => void,
): Promise<JobResult> {
  const { sql, clock, config, providers, log } = deps;
  const now = clock.now();
  const provider = providers.get(providerName);
  if (!provider) throw new Error(`provider ${providerName} is not enabled`);
  const pcfg = config.providers[providerName];
  const cap = providerName === 'kuaidi100' ? config.providers.kuaidi100.maxQueriesPer24h : null;
  const all = await pollBatching(deps).load.submit(shipmentIds);
  working(all.map((s) => s.trackingNo));
  let due = all.filter((s) => allowedNow(s, now, pcfg.minPollIntervalMinutes, cap) && s.status !== 'delivered');
  const deferred = all.filter((s) => !due.includes(s));
  if (providerName === 'kdniao' && config.providers.kdniao.requestType === '1002') {
    const granted = await takeQuota(sql, 'kdniao-1002', now.toISOString().slice(0, 10), due.length, config.providers.kdniao.dailyQuota);
    if (granted < due.length) {
      await raiseAlert(sql, 'quota:kdniao-1002', `Kdniao 1002 daily quota of ${config.providers.kdniao.dailyQuota} used up`, now);
      deferred.push(...due.slice(granted));
      due = due.slice(0, granted);
    }
  }
  if (deferred.length) {
    // Too soon for this number (floor or 24 h cap): keep it due at the earliest allowed instant.
    await sql`update shipment_schedule c set next_poll_at = greatest(coalesce(s.last_polled_at, ${now}::timestamptz) + ${pcfg.minPollIntervalMinutes} * interval '1 minute', ${now}::timestamptz + interval '1 minute')
              from shipments s
              where s.id = c.shipment_id and c.shipment_id = any(${sql.array(deferred.map((s) => s.id))}::bigint[]) and c.next_poll_at is not null`;
  }
  const items: IngestItem[] = [];
  const requests = due.map((s) => ({
    shipmentId: s.id,
    carrier: s.carrier,
    trackingNo: s.trackingNo,
    phone: s.phone,
    paidAt: s.paidAt,
    markedShippedAt: s.markedShippedAt,
  }));
  const pctx = { clock, log: ctx.log, timeZone: config.timezone, ...(ctx.signal ? { signal: ctx.signal } : {}) };
  for (let i = 0; i < requests.length; i += provider.maxBatch) {
    const chunk = requests.slice(i, i + provider.maxBatch);
    const chunkRows = due.slice(i, i + provider.maxBatch);
    working(chunkRows.map((s) => s.trackingNo));
    try {
      const results = await provider.track(chunk, pctx);
      deps.metrics.providerRequests.inc({ provider: providerName, result: 'ok' });
      const byNo = new Map(results.map((r) => [r.trackingNo, r]));
      for (const s of chunkRows) {
        items.push({
          shipment: s,
          result: byNo.get(s.trackingNo) ?? { kind: 'malformed', trackingNo: s.trackingNo, error: 'number missing from the provider reply', raw: '' },
        });
      }
    } catch (err) {
      if (!(err instanceof ProviderError)) throw err;
      // A breaker rejection, a request held back by an unreachable shared rate limit, or one given up on
      // shutdown: not provider failures.
      const result = err.opts.circuitOpen ? 'circuit_open' : err.opts.notSent ? 'not_sent' : err.opts.stopped ? 'stopped' : err.kind;
      deps.metrics.providerRequests.inc({ provider: providerName, result });
      if (err.kind === 'transient') {
        // Stopping (SIGTERM): the requests still waiting for the rate limit are never sent; what earlier
        // chunks brought is stored and the job fails so BullMQ retries it (another process, or after restart).
        // Store what earlier chunks brought, then let BullMQ retry this job with backoff.
        if (items.length) await ingestBatcher(deps, providerName).submit({ items, now, jobId: ctx.jobId, enqueue: ctx.enqueue });
        throw err;
      }
      if (err.kind === 'auth' || err.kind === 'quota') {
        const created = await raiseAlert(sql, `${err.kind}:${providerName}`, err.message, now);
        if (created) log.error({ provider: providerName, err }, `provider ${err.kind} failure: polling of this provider is backing off`);
      } else {
        // Named by provider and number: ops must find which parcel's reply broke, and the others go on.
        const numbers = chunkRows.map((s) => s.trackingNo).join(', ');
        const error = err.message + numbersNamed(chunkRows.map((s) => s.trackingNo)); // the message starts with the provider
        await quarantineReplies(sql, [{ shipmentId: chunkRows[0]?.id ?? null, provider: providerName, errorKind: 'malformed', error, raw: err.opts.raw ?? null }], now);
        deps.metrics.quarantined.inc({ provider: providerName, kind: 'call' });
        log.warn({ provider: providerName, trackingNo: numbers, err }, `malformed provider reply quarantined: ${error}`);
      }
      for (const s of chunkRows) items.push({ shipment: s, result: { kind: 'error', errorKind: err.kind, message: err.message } });
    }
  }
  // The shared flush also enqueues detection of what changed (see ingest/tracking-batch.ts).
  working(items.map((it) => it.shipment.trackingNo));
  const summary = items.length ? await ingestBatcher(deps, providerName).submit({ items, now, jobId: ctx.jobId, enqueue: ctx.enqueue }) : emptySummary(0);
  return {
    summary: {
      polled: due.length,
      deferred: deferred.length,
      newEvents: summary.newEvents,
      notFound: summary.notFound,
      rejected: summary.rejected,
      malformed: summary.malformed,
      errors: summary.errors,
      ...Object.fromEntries(Object.entries(summary.errorsByKind).map(([k, v]) => [`errors.${k}`, v])),
    },
  };
}
