import { UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import type { Sql } from '../db/client.js';
import { loadTaskViews } from '../db/queries/outreach.js';
import { raiseAlert } from '../db/queries/tracking.js';
import type { OutreachEvent } from '../domain/outreach.js';
import { ChannelError } from '../notify/channel-error.js';
import { defineJob, type FollowUp, type JobResult } from './define-job.js';
import { leaseUntil } from './lease.js';

/** Slack on a lease beyond the channel's timeout (a slow commit, a GC pause). */
const LEASE_MARGIN_MS = 30_000;

/** The job of one retry chain of a delivery row: a new chain gets a new id, so no old job swallows it. */
export function deliveryFollowUp(deliveryId: number, chain: number): FollowUp {
  return { job: 'deliver-outreach', payload: { deliveryId, chain }, jobId: `outreach-delivery-${deliveryId}-c${chain}` };
}

/** The channel's HTTP timeout; before the row is read, the longest of them. */
const channelTimeoutMs = (config: Config, channel?: string) => {
  const all = config.outreach.channels as Record<string, { timeoutMs: number }>;
  return channel && all[channel] ? all[channel].timeoutMs : Math.max(...Object.values(all).map((c) => c.timeoutMs));
};

/**
 * Deliver one task event to one agents' channel: claim, send, record — three short statements, no
 * transaction (nor pooled connection) held while the webhook answers, so a slow agent endpoint cannot stall
 * anything else. The claim marks the row `sending` with a lease of the channel timeout plus a margin;
 * a transient failure puts it back to `pending` with a lease covering the chain's backoff, so the
 * re-queue sweep (requeueDeliveries) does not start a second chain while this one waits. The attempt
 * budget counts the row's attempts (run-once runs a job once per cycle and hands the row back on the
 * next). After the last attempt (or a permanent error) the row is `failed`, an alert is raised, and
 * `parcelwatch deliveries retry` / POST /api/deliveries/retry send it again on a new chain. The
 * Idempotency-Key is the row id, stable across attempts and chains, so the receiver dedupes a send
 * whose answer was lost.
 */
export const deliverOutreach = defineJob({
  name: 'deliver-outreach',
  queue: 'deliveries',
  payload: z.object({ deliveryId: z.number().int().positive(), chain: z.number().int().nonnegative().default(0) }),
  attempts: (c) => c.outreach.delivery.attempts,
  backoffMs: (c) => c.outreach.delivery.backoffMs,
  async handle({ deliveryId, chain }, deps, ctx): Promise<JobResult> {
    const { sql, clock, config } = deps;
    const now = clock.now();
    const [d] = await sql`
      update outreach_deliveries set status = 'sending', attempts = attempts + 1,
        lease_until = ${leaseUntil(now, channelTimeoutMs(config) + LEASE_MARGIN_MS, config)}
      where id = ${deliveryId} and chain = ${chain}
        and (status = 'pending' or (status = 'sending' and lease_until <= ${now}))
      returning *`;
    if (!d) return { summary: { deliveriesSkipped: 1 } }; // sent, failed, another chain's, or in flight elsewhere
    const attempts = Number(d.attempts);
    const record = async (status: 'sent' | 'pending' | 'failed', lastError: string | null, leaseMs: number | null) => {
      await sql`
        update outreach_deliveries set status = ${status}, last_error = ${lastError},
          sent_at = ${status === 'sent' ? now : null},
          lease_until = ${leaseMs === null ? null : leaseUntil(clock.now(), leaseMs, config)}
        where id = ${deliveryId} and chain = ${chain}`;
    };
    const fail = async (message: string, permanent: boolean): Promise<never> => {
      const last = permanent || Math.max(ctx.attempt, attempts) >= config.outreach.delivery.attempts;
      // Covers the longest backoff BullMQ may wait before this chain's next attempt.
      const backoff = config.outreach.delivery.backoffMs * 2 ** Math.max(0, ctx.attempt - 1);
      // The alert first: whoever sees the row failed also finds the alert.
      if (last) await raiseAlert(sql, `delivery:${d.channel}`, `agent delivery ${deliveryId} to ${d.channel} failed after ${attempts} attempts: ${message}`, now);
      await record(last ? 'failed' : 'pending', message, last ? null : backoff + channelTimeoutMs(config, d.channel) + LEASE_MARGIN_MS);
      deps.metrics.deliveries.inc({ channel: d.channel, result: last ? 'failed' : 'retry' });
      if (last) {
        ctx.log.error({ deliveryId, channel: d.channel, attempts, err: message }, 'agent delivery failed; re-send with `parcelwatch deliveries retry`');
        throw new UnrecoverableError(message);
      }
      throw new Error(message);
    };
    const channel = deps.agentChannels.find((c) => c.name === d.channel);
    if (!channel) return fail(`channel ${d.channel} is not enabled`, true);
    const [task] = await loadTaskViews(sql, { ids: [Number(d.task_id)] }, now);
    if (!task) return fail(`task ${d.task_id} not found`, true);
    try {
      await channel.send(d.event as OutreachEvent, task, `pw-outreach-${deliveryId}`);
    } catch (err) {
      return fail((err as Error).message, err instanceof ChannelError && err.kind === 'permanent');
    }
    await record('sent', null, null);
    deps.metrics.deliveries.inc({ channel: d.channel, result: 'sent' });
    return { summary: { delivered: 1 } };
  },
});

/**
 * Rows that need a (new) chain: pending rows no chain owns (never claimed: their job may be waiting, and
 * the same job id dedupes; or lost with a Redis that kept nothing), and rows whose lease ran out (a
 * worker killed mid-send, a chain whose job is gone): those get the next chain number, hence a job id no
 * old job holds. At most `limit` rows per call.
 */
export async function requeueDeliveries(sql: Sql, now: Date, limit = 1000): Promise<FollowUp[]> {
  const rows = await sql`
    with due as (
      select id from outreach_deliveries
      where status in ('pending', 'sending') and ((status = 'pending' and lease_until is null) or lease_until <= ${now})
      order by id limit ${limit}
      for update skip locked)
    update outreach_deliveries d set chain = d.chain + (case when d.lease_until is null then 0 else 1 end), status = 'pending', lease_until = null
    from due where d.id = due.id
    returning d.id, d.chain`;
  return rows.map((r) => deliveryFollowUp(Number(r.id), Number(r.chain)));
}

/**
 * Send failed deliveries again (the given ids, or every failed one with `failed`): a fresh attempt budget
 * on a new chain. A given id that is still pending (stuck) is re-chained too; a sent one is left alone.
 */
export async function retryDeliveries(sql: Sql, opts: { ids?: number[]; failed?: boolean }): Promise<FollowUp[]> {
  const ids = opts.ids ?? [];
  if (!ids.length && !opts.failed) return [];
  const rows = await sql`
    update outreach_deliveries set status = 'pending', attempts = 0, last_error = null, lease_until = null, chain = chain + 1
    where status <> 'sent'
      and (${ids.length ? sql`id = any(${sql.array(ids)}::bigint[])` : sql`false`}
           or (${opts.failed ?? false} and status = 'failed'))
    returning id, chain`;
  return rows.map((r) => deliveryFollowUp(Number(r.id), Number(r.chain)));
}
