import { z } from 'zod';
import { PROVIDERS, type SubscribeResult } from '../carriers/carrier.js';
import { raiseAlert } from '../db/queries/tracking.js';
import { localParts } from '../domain/local-time.js';
import { defineJob } from './define-job.js';

/** Alert key of a provider whose key was refused for subscriptions; while open, nothing is subscribed there. */
export const subscribeKeyAlert = (provider: string) => `subscribe-key:${provider}`;

/** YYYY-MM of `at` in the business time zone: the month the per-number subscription cap counts. */
export function businessMonth(at: Date, timeZone: string): string {
  const p = localParts(at, timeZone);
  return `${p.year}-${String(p.month).padStart(2, '0')}`;
}

/** Subscription state after a reply (null = unchanged: a passing failure keeps the shipment waiting). */
export function stateAfter(outcome: SubscribeResult['outcome']): 'subscribed' | 'failed' | 'key_error' | 'pending' {
  switch (outcome) {
    case 'subscribed':
      return 'subscribed';
    case 'refused':
      return 'failed';
    case 'key_error':
      return 'key_error';
    case 'retry':
      return 'pending';
  }
}

/**
 * Subscribe shipments to their provider's push service. Runs on the subscribe-<provider> queue, whose
 * BullMQ limiter (push.subscribe.qps) paces the job starts; the requests themselves are bounded where they
 * are sent, by the provider client's subscribeGate (same rate, shared across workers). The provider call is made
 * outside any transaction; the outcome is written in one statement. Refused numbers and a refused key
 * leave the shipment to polling (poll-policy pushCoverage polls whatever is not subscribed).
 */
export const subscribeTracking = defineJob({
  name: 'subscribe-tracking',
  queue: 'tracking',
  payload: z.object({ provider: z.enum(PROVIDERS), shipmentIds: z.array(z.number().int().positive()).min(1).max(40) }),
  attempts: () => 3,
  async handle({ provider: name, shipmentIds }, { sql, clock, config, providers, metrics }, ctx) {
    const now = clock.now();
    const provider = providers.get(name);
    if (!provider?.subscribe) throw new Error(`provider ${name} does not take subscriptions`);
    const month = businessMonth(now, config.timezone);
    const cap = config.push.maxSubscriptionsPerMonth;
    // Only rows still waiting (a push may have shown meanwhile that the shipment is subscribed).
    const rows = await sql`
      select s.id, s.carrier, s.tracking_no, o.customer_phone,
             case when x.month = ${month} then x.attempts_this_month else 0 end as attempts
      from shipment_subscriptions x join shipments s on s.id = x.shipment_id join orders o on o.id = s.order_id
      where x.shipment_id = any(${sql.array(shipmentIds)}::bigint[]) and x.next_attempt_at is not null
      order by s.id`;
    // The key was refused (by an earlier job of this sweep, or before): stop subscribing, poll instead.
    const [stop] = await sql`select 1 from alerts where key = ${subscribeKeyAlert(name)} and resolved_at is null`;
    const capped = rows.filter((r) => Number(r.attempts) >= cap);
    const due = stop ? [] : rows.filter((r) => Number(r.attempts) < cap);
    const held = stop ? rows.filter((r) => Number(r.attempts) < cap) : [];
    const results: SubscribeResult[] = due.length
      ? await provider.subscribe(
          due.map((r) => ({ shipmentId: Number(r.id), carrier: r.carrier, trackingNo: r.tracking_no, phone: r.customer_phone })),
          { clock, log: ctx.log, timeZone: config.timezone },
        )
      : [];
    const byNo = new Map(results.map((r) => [r.trackingNo, r]));
    const writes = [
      ...capped.map((r) => ({ row: r, state: 'failed', code: 'monthly_cap', message: `${cap} subscriptions of this number this month already`, counted: false, retry: false })),
      ...held.map((r) => ({ row: r, state: 'key_error', code: 'key_refused', message: 'not sent: the subscription key was refused (open alert)', counted: false, retry: false })),
      ...due.map((r) => {
        const res = byNo.get(r.tracking_no) ?? { outcome: 'retry' as const, code: 'missing', message: 'no result for this number' };
        metrics.subscribeRequests.inc({ provider: name, code: res.code });
        const state = stateAfter(res.outcome);
        return { row: r, state, code: res.code, message: res.message, counted: true, retry: state === 'pending' };
      }),
    ];
    if (writes.length) {
      await sql`
        update shipment_subscriptions x set
          state = t.state, provider = ${name}, carrier = t.carrier, tracking_no = t.tracking_no,
          month = ${month},
          attempts_this_month = case when x.month = ${month} then x.attempts_this_month else 0 end + case when t.counted then 1 else 0 end,
          subscribed_at = case when t.state = 'subscribed' then ${now}::timestamptz else x.subscribed_at end,
          -- the one re-subscription after an abort is spent once tried
          resubscribed_after_abort = x.resubscribed_after_abort or (x.state = 'aborted' and t.counted),
          next_attempt_at = case when t.retry then ${now}::timestamptz + ${config.push.subscribe.retryMinutes} * interval '1 minute' else null end,
          last_reply_code = t.code, last_reply_message = left(t.message, 500), updated_at = ${now}::timestamptz
        from unnest(${sql.array(writes.map((w) => Number(w.row.id)))}::bigint[], ${sql.array(writes.map((w) => w.state))}::text[],
                    ${sql.array(writes.map((w) => w.row.carrier as string))}::text[], ${sql.array(writes.map((w) => w.row.tracking_no as string))}::text[],
                    ${sql.array(writes.map((w) => w.counted))}::boolean[], ${sql.array(writes.map((w) => w.retry))}::boolean[],
                    ${sql.array(writes.map((w) => w.code))}::text[], ${sql.array(writes.map((w) => w.message))}::text[])
          as t(id, state, carrier, tracking_no, counted, retry, code, message)
        where x.shipment_id = t.id`;
    }
    const keyError = results.find((r) => r.outcome === 'key_error');
    if (keyError) {
      const created = await raiseAlert(sql, subscribeKeyAlert(name), `${name} refused the subscription key (${keyError.code}: ${keyError.message}); subscriptions stopped, its shipments are polled`, now);
      if (created) ctx.log.error({ provider: name, code: keyError.code }, 'subscription key refused: subscriptions stopped, falling back to polling');
    }
    const count = (o: SubscribeResult['outcome']) => results.filter((r) => r.outcome === o).length;
    return { summary: { subscribed: count('subscribed'), subscribeRefused: count('refused') + capped.length, subscribeKeyErrors: count('key_error'), subscribeRetries: count('retry') } };
  },
});
