import { UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import { carrierName } from '../carriers/carrier-codes.js';
import { formatLocal } from '../domain/local-time.js';
import type { CustomerEvent, CustomerMessage } from '../domain/outreach.js';
import { ChannelError } from '../notify/channel-error.js';
import type { CustomerChannelName } from '../notify/customers/channel.js';
import { businessDayStart } from '../notify/quiet-hours.js';
import type { Sql } from '../db/client.js';
import { defineJob, type FollowUp, type JobResult } from './define-job.js';
import { leaseUntil } from './lease.js';

type Claimed = { result: 'claimed'; n: Record<string, any>; attempts: number };
type Outcome = { result: 'skipped' | 'held' | 'superseded' | 'capped' } | Claimed | { result: 'error'; err: Error; permanent: true };

/** Slack on a lease beyond the channel's timeout. */
const LEASE_MARGIN_MS = 30_000;

/** The job of one retry chain of a customer message (a held or re-armed message starts the next chain). */
export function messageFollowUp(notificationId: number, chain: number, delayMs = 0): FollowUp {
  return { job: 'send-customer-message', payload: { notificationId, chain }, jobId: `notif-${notificationId}-c${chain}`, ...(delayMs > 0 ? { delayMs } : {}) };
}

/**
 * Send one customer notification: decide and claim under the row lock, send with no transaction held,
 * record. The decision (ended chase, quiet hours, a newer move superseding this one, the daily cap) is
 * taken under FOR UPDATE and a per-contact advisory lock, and the claim (status `sending`, a lease of the
 * channel timeout plus a margin) counts toward the cap, so racing sends cannot both take the last slot
 * and two workers handed the same row send it once. One retry chain per message: the BullMQ job retries
 * itself with backoff (chases.delivery), and the row keeps a lease over the backoff so the release sweep
 * (send-notifications) does not start a second chain; a chain that died (lease run out) is replaced by
 * the next chain number. A newer notification of the same chase supersedes this one, so held or
 * coalesced moves end as one message with the latest state.
 */
export const sendCustomerMessage = defineJob({
  name: 'send-customer-message',
  queue: 'notifications',
  payload: z.object({ notificationId: z.number().int().positive(), chain: z.number().int().nonnegative().default(0) }),
  attempts: (c) => c.chases.delivery.attempts,
  backoffMs: (c) => c.chases.delivery.backoffMs,
  // After notify-chasers on the shared notifications queue. FIFO made a hub move wait for the queue twice:
  // its notify-chasers job behind every message already queued, then its own message behind them again.
  // With the messages prioritized, the job that creates them runs as soon as a worker is free, and a move
  // waits once (scenario 6b, README "Push ingestion").
  priority: 1,
  async handle({ notificationId, chain }, deps, ctx): Promise<JobResult> {
    const { sql, clock, config } = deps;
    const now = clock.now();
    const timeoutMs = config.chases.channels.webhook.timeoutMs;
    const outcome: Outcome = await sql.begin(async (tx): Promise<Outcome> => {
      // `newer`: a later move of the same chase already queued or sent supersedes this one (read in the same
      // round trip as the row).
      const [n] = await tx`
        select n.*, c.status as chase_status, c.end_reason, s.tracking_no, s.carrier, o.external_id,
               exists (select 1 from notifications m
                       where m.chase_id = n.chase_id and m.id <> n.id and m.status in ('pending', 'sending', 'sent')
                         and (m.occurred_at, m.id) > (n.occurred_at, n.id)) as newer
        from notifications n join chases c on c.id = n.chase_id join shipments s on s.id = c.shipment_id join orders o on o.id = s.order_id
        where n.id = ${notificationId}
        for update of n`;
      if (!n || n.chain !== chain) return { result: 'skipped' }; // gone, or another chain's
      const stale = n.status === 'sending' && n.lease_until && (n.lease_until as Date) <= now; // its sender died mid-send
      if (n.status !== 'pending' && !stale) return { result: 'skipped' };
      if (n.chase_status === 'ended' && n.end_reason !== 'delivered') {
        // Removed, expired or going back: the customer must not hear about it any more.
        await tx`update notifications set status = 'superseded', lease_until = null, last_error = ${`chase ended: ${n.end_reason}`} where id = ${n.id}`;
        return { result: 'superseded' };
      }
      if (now < n.send_after) {
        // Quiet hours / coalescing: this chain ends; send-notifications releases the next one when it is time.
        await tx`update notifications set chain = chain + 1, lease_until = null where id = ${n.id}`;
        return { result: 'held' };
      }
      if (n.newer) {
        await tx`update notifications set status = 'superseded', lease_until = null where id = ${n.id}`;
        return { result: 'superseded' };
      }
      await tx`select pg_advisory_xact_lock(hashtext(${`pw-contact:${n.contact}`}))`;
      const [{ sent }] = (await tx`
        select count(*)::int as sent from notifications
        where contact = ${n.contact} and id <> ${n.id}
          and (status = 'sent' and sent_at >= ${businessDayStart(now, config.timezone)} or status = 'sending' and lease_until > ${now})`) as unknown as [{ sent: number }];
      if (sent >= config.chases.dailyCapPerContact) {
        await tx`update notifications set status = 'capped', lease_until = null where id = ${n.id}`;
        return { result: 'capped' };
      }
      if (!deps.customerChannels.get(n.channel as CustomerChannelName)) {
        await tx`update notifications set status = 'failed', attempts = attempts + 1, lease_until = null, last_error = 'channel not enabled' where id = ${n.id}`;
        return { result: 'error', err: new Error(`customer channel ${n.channel} is not enabled`), permanent: true };
      }
      const [claimed] = await tx`
        update notifications set status = 'sending', attempts = attempts + 1,
          lease_until = ${leaseUntil(now, timeoutMs + LEASE_MARGIN_MS, config)}
        where id = ${n.id} returning attempts`;
      return { result: 'claimed', n, attempts: Number(claimed!.attempts) };
    });
    if (outcome.result === 'error') {
      ctx.log.warn({ notificationId, err: outcome.err.message }, 'customer message failed');
      throw new UnrecoverableError(outcome.err.message);
    }
    if (outcome.result !== 'claimed') return { summary: { [`messages_${outcome.result}`]: 1 } };

    const { n } = outcome;
    const channel = deps.customerChannels.get(n.channel as CustomerChannelName)!;
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
      const last = permanent || Math.max(ctx.attempt, outcome.attempts) >= config.chases.delivery.attempts;
      // The chain keeps the row through its backoff (the longest BullMQ may wait before the next attempt).
      const leaseMs = config.chases.delivery.backoffMs * 2 ** Math.max(0, ctx.attempt - 1) + timeoutMs + LEASE_MARGIN_MS;
      await sql`
        update notifications set last_error = ${(err as Error).message}, status = ${last ? 'failed' : 'pending'},
          lease_until = ${last ? null : leaseUntil(clock.now(), leaseMs, config)}
        where id = ${n.id} and chain = ${chain}`;
      ctx.log.warn({ notificationId, err: (err as Error).message, last }, 'customer message failed');
      // Permanent: no retry can fix it (bad number, rejected template); transient: BullMQ retries with backoff.
      if (last) throw new UnrecoverableError((err as Error).message);
      throw err;
    }
    // One statement (atomic on its own): a transaction around two updates cost three more round trips per
    // message, and at a peak the messages are the notifications queue's bulk.
    await sql`
      with sent as (
        update notifications set status = 'sent', sent_at = ${now}, lease_until = null, last_error = null
        where id = ${n.id} returning chase_id, kind, hub)
      update chases c set last_notified_hub = sent.hub from sent where c.id = sent.chase_id and sent.kind = 'hub_moved'`;
    return { summary: { messages_sent: 1 } };
  },
});

/**
 * Pending messages whose time has come and that no live chain owns; a chain whose lease ran out (sender
 * killed, job lost) is replaced by the next chain number. Same shape as requeueDeliveries.
 */
export async function releaseMessages(sql: Sql, now: Date, afterId: number, limit: number): Promise<{ followUps: FollowUp[]; lastId: number | null }> {
  const rows = await sql`
    with due as (
      select id from notifications
      where id > ${afterId} and status in ('pending', 'sending') and send_after <= ${now}
        and ((status = 'pending' and lease_until is null) or lease_until <= ${now})
      order by id limit ${limit}
      for update skip locked)
    update notifications n set chain = n.chain + (case when n.lease_until is null then 0 else 1 end), status = 'pending', lease_until = null
    from due where n.id = due.id
    returning n.id, n.chain`;
  const ids = rows.map((r) => Number(r.id)).sort((a, b) => a - b);
  return { followUps: rows.map((r) => messageFollowUp(Number(r.id), Number(r.chain))), lastId: ids.length ? ids.at(-1)! : null };
}
