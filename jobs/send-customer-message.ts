import { UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import { carrierName } from '../carriers/carrier-codes.js';
import { formatLocal } from '../domain/local-time.js';
import type { CustomerEvent, CustomerMessage } from '../domain/outreach.js';
import { ChannelError } from '../notify/channel-error.js';
import type { CustomerChannelName } from '../notify/customers/channel.js';
import { businessDayStart } from '../notify/quiet-hours.js';
import { defineJob } from './define-job.js';

type Outcome = { result: 'sent' | 'skipped' | 'held' | 'superseded' | 'capped' } | { result: 'error'; err: Error; permanent: boolean };

/**
 * Send one customer notification. Everything happens under the row lock (FOR UPDATE), so two workers
 * handed the same row serialise and the second sees it sent: a message is never duplicated, also after
 * a retry succeeded (the status is checked, not only the queue). A newer notification of the same chase
 * (pending or already sent) supersedes this one, so held or coalesced moves end as one message with the
 * latest state. The daily cap is counted under a per-contact advisory lock so racing sends cannot both
 * take the last slot.
 */
export const sendCustomerMessage = defineJob({
  name: 'send-customer-message',
  queue: 'notifications',
  payload: z.object({ notificationId: z.number().int().positive() }),
  attempts: (c) => c.chases.delivery.attempts,
  backoffMs: (c) => c.chases.delivery.backoffMs,
  async handle({ notificationId }, deps, ctx) {
    const { sql, clock, config } = deps;
    const now = clock.now();
    const outcome: Outcome = await sql.begin(async (tx): Promise<Outcome> => {
      const [n] = await tx`
        select n.*, c.status as chase_status, c.end_reason, s.tracking_no, s.carrier, o.external_id
        from notifications n join chases c on c.id = n.chase_id join shipments s on s.id = c.shipment_id join orders o on o.id = s.order_id
        where n.id = ${notificationId}
        for update of n`;
      if (!n || n.status !== 'pending') return { result: 'skipped' };
      if (n.chase_status === 'ended' && n.end_reason !== 'delivered') {
        // Removed, expired or going back: the customer must not hear about it any more.
        await tx`update notifications set status = 'superseded', last_error = ${`chase ended: ${n.end_reason}`} where id = ${n.id}`;
        return { result: 'superseded' };
      }
      if (now < n.send_after) return { result: 'held' }; // quiet hours / coalescing: send-notifications releases it
      const [newer] = await tx`
        select 1 from notifications m
        where m.chase_id = ${n.chase_id} and m.id <> ${n.id} and m.status in ('pending', 'sent')
          and (m.occurred_at, m.id) > (${n.occurred_at}::timestamptz, ${n.id}::bigint)
        limit 1`;
      if (newer) {
        await tx`update notifications set status = 'superseded' where id = ${n.id}`;
        return { result: 'superseded' };
      }
      await tx`select pg_advisory_xact_lock(hashtext(${`pw-contact:${n.contact}`}))`;
      const [{ sent }] = (await tx`
        select count(*)::int as sent from notifications
        where contact = ${n.contact} and status = 'sent' and sent_at >= ${businessDayStart(now, config.timezone)}`) as unknown as [{ sent: number }];
      if (sent >= config.chases.dailyCapPerContact) {
        await tx`update notifications set status = 'capped' where id = ${n.id}`;
        return { result: 'capped' };
      }
      const channel = deps.customerChannels.get(n.channel as CustomerChannelName);
      if (!channel) {
        await tx`update notifications set status = 'failed', attempts = attempts + 1, last_error = 'channel not enabled' where id = ${n.id}`;
        return { result: 'error', err: new Error(`customer channel ${n.channel} is not enabled`), permanent: true };
      }
      const msg: CustomerMessage = {
        event: `customer.${n.kind}` as CustomerEvent,
        notificationId: Number(n.id),
        orderId: n.external_id,
        trackingNo: n.tracking_no,
        carrier: n.carrier,
        hub: n.hub,
        occurredAt: n.occurred_at ? (n.occurred_at as Date).toISOString() : null,
        message: n.message,
        contact: n.contact,
        idempotencyKey: `pw-notif-${n.id}`,
        params: {
          hub: n.hub ?? '',
          carrierName: carrierName(n.carrier),
          trackingNo: n.tracking_no,
          orderId: n.external_id,
          time: n.occurred_at ? formatLocal(n.occurred_at, config.timezone) : '',
        },
      };
      try {
        await channel.send(msg);
      } catch (err) {
        const permanent = err instanceof ChannelError && err.kind === 'permanent';
        const last = permanent || ctx.attempt >= config.chases.delivery.attempts;
        await tx`update notifications set attempts = attempts + 1, last_error = ${(err as Error).message}, status = ${last ? 'failed' : 'pending'} where id = ${n.id}`;
        return { result: 'error', err: err as Error, permanent };
      }
      await tx`update notifications set status = 'sent', sent_at = ${now}, attempts = attempts + 1, last_error = null where id = ${n.id}`;
      if (n.kind === 'hub_moved') await tx`update chases set last_notified_hub = ${n.hub} where id = ${n.chase_id}`;
      return { result: 'sent' };
    });
    if (outcome.result === 'error') {
      ctx.log.warn({ notificationId, err: outcome.err.message }, 'customer message failed');
      // Permanent: no retry can fix it (bad number, rejected template); transient: BullMQ retries with backoff.
      if (outcome.permanent) throw new UnrecoverableError(outcome.err.message);
      throw outcome.err;
    }
    return { summary: { [`messages_${outcome.result}`]: 1 } };
  },
});
