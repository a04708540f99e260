import { z } from 'zod';
import type { ProviderName } from '../carriers/carrier.js';
import { providerFor } from '../carriers/index.js';
import type { Config } from '../config/schema.js';
import { TERMINAL_STATUSES, type Status } from '../domain/status.js';
import { defineJob, slotId, type Deps, type FollowUp } from './define-job.js';
import { sweepLeaseUntil, sweepPages } from './lease.js';
import { modeOf } from './plan-polls.js';
import { subscribeKeyAlert } from './subscribe-tracking.js';

/**
 * Sweep: shipments waiting for a subscription (new, number or carrier changed, retry or re-subscription
 * after an abort due) → subscribe jobs on each provider's subscribe-<provider> queue (17TRACK: 40 numbers a
 * job; the others one; the queue limiter paces the jobs, the client's subscribeGate the requests). Claimed
 * with SKIP LOCKED and leased forward in the claim loop plan-polls uses too (jobs/lease.ts sweepPages).
 * Shipments of poll-mode providers are marked poll_only, finished ones stopped, and nothing is sent to a
 * provider whose key was refused (open alert) until an operator resolves it.
 */
export const planSubscriptions = defineJob({
  name: 'plan-subscriptions',
  queue: 'schedules',
  payload: z.object({ slot: z.string().optional() }),
  schedule: (c) => c.push.subscribe.schedule,
  cycleOrder: 5,
  async handle(payload, deps, ctx) {
    const { sql, clock, config, providers } = deps;
    const now = clock.now();
    // With every provider polling there is nothing to subscribe: the rows wait (pending) until one pushes.
    if (pushProviders(config).length === 0) return { summary: {} };
    const slot = payload.slot ?? slotId(now);
    const lease = sweepLeaseUntil(now);
    const blocked = new Set(
      (await sql`select key from alerts where resolved_at is null and key like 'subscribe-key:%'`).map((r) => String(r.key).slice('subscribe-key:'.length)),
    );
    let planned = 0;
    let pollOnly = 0;
    const { jobs } = await sweepPages(ctx, {
      pageSize: config.push.subscribe.pageSize,
      claim: () => sql`
        with due as (
          select shipment_id from shipment_subscriptions
          where next_attempt_at <= ${now}
          order by next_attempt_at, shipment_id
          limit ${config.push.subscribe.pageSize}
          for update skip locked
        ), leased as (
          update shipment_subscriptions x set next_attempt_at = ${lease}
          from due where x.shipment_id = due.shipment_id
          returning x.shipment_id
        )
        select s.id, s.carrier, s.status from leased join shipments s on s.id = leased.shipment_id`,
      async plan(rows) {
        const settle: { id: number; state: string }[] = [];
        const byProvider = new Map<ProviderName, number[]>();
        for (const r of rows) {
          const provider = providerFor(config, r.carrier);
          const mode = modeOf(config, provider);
          if (mode === 'poll' || !providers.get(provider)?.subscribe) settle.push({ id: Number(r.id), state: 'poll_only' });
          else if (TERMINAL_STATUSES.has(r.status as Status)) settle.push({ id: Number(r.id), state: 'stopped' });
          else if (blocked.has(provider)) settle.push({ id: Number(r.id), state: 'key_error' });
          else {
            let list = byProvider.get(provider);
            if (!list) byProvider.set(provider, (list = []));
            list.push(Number(r.id));
          }
        }
        if (settle.length) {
          pollOnly += settle.filter((s) => s.state === 'poll_only').length;
          await sql`
            update shipment_subscriptions x set state = t.state, next_attempt_at = null, updated_at = ${now}
            from unnest(${sql.array(settle.map((s) => s.id))}::bigint[], ${sql.array(settle.map((s) => s.state))}::text[]) as t(id, state)
            where x.shipment_id = t.id`;
        }
        const followUps: FollowUp[] = [];
        for (const [provider, ids] of byProvider) {
          const size = provider === 'seventeenTrack' ? Math.min(40, providers.get(provider)!.maxBatch) : 1;
          ids.sort((a, b) => a - b);
          for (let i = 0; i < ids.length; i += size) {
            const chunk = ids.slice(i, i + size);
            followUps.push({ job: 'subscribe-tracking', queue: `subscribe-${provider}`, payload: { provider, shipmentIds: chunk }, jobId: `subscribe-${provider}-${slot}-${chunk[0]}` });
          }
          planned += ids.length;
        }
        return followUps;
      },
    });
    await refreshGauges(deps, now);
    return { summary: { subscriptionsPlanned: planned, subscribeJobs: jobs, ...(pollOnly ? { subscriptionsPollOnly: pollOnly } : {}) } };
  },
});

/** Enabled providers that take subscriptions (mode push or both). */
export function pushProviders(config: Config): Exclude<ProviderName, 'sandbox'>[] {
  return (['kuaidi100', 'kdniao', 'seventeenTrack'] as const).filter((p) => config.providers[p].enabled && config.providers[p].mode !== 'poll');
}

/**
 * Subscriptions by provider and state, and the shipments of push-mode providers being polled because
 * their pushes cannot be relied on (not subscribed, or silent past push.fallbackAfterHours).
 */
async function refreshGauges({ sql, config, metrics }: Pick<Deps, 'sql' | 'config' | 'metrics'>, now: Date): Promise<void> {
  const rows = await sql`
    select coalesce(x.provider, '') as provider, x.state, count(*)::int as n,
           count(*) filter (where s.status not in ('delivered', 'returned', 'cancelled')
                            and (x.state <> 'subscribed'
                                 or greatest(x.last_push_at, x.subscribed_at) < ${now}::timestamptz - ${config.push.fallbackAfterHours} * interval '1 hour'))::int as fallback
    from shipment_subscriptions x join shipments s on s.id = x.shipment_id
    where x.state <> 'poll_only'
    group by 1, 2`;
  metrics.subscriptions.reset();
  metrics.fallbackPolling.reset();
  const fallback = new Map<string, number>();
  for (const r of rows) {
    metrics.subscriptions.set({ provider: r.provider, state: r.state }, r.n);
    if (r.provider && modeOf(config, r.provider) === 'push') fallback.set(r.provider, (fallback.get(r.provider) ?? 0) + r.fallback);
  }
  for (const [provider, n] of fallback) metrics.fallbackPolling.set({ provider }, n);
}
