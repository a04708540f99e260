import { UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import { loadTaskViews } from '../db/queries/outreach.js';
import type { OutreachEvent } from '../domain/outreach.js';
import { ChannelError } from '../notify/channel-error.js';
import { defineJob } from './define-job.js';

/**
 * Deliver one task event to one agents' channel. Each attempt is recorded on the delivery row; a
 * transient failure throws so BullMQ retries with backoff; after the last attempt the row shows failed.
 * A row already sent is never sent again (the idempotency key is the row id, stable across retries),
 * and the row is locked while it is being sent, so two processes handed the same row send it once.
 * The attempt budget counts the row's attempts, so run-once (which runs each job once per cycle and
 * hands pending rows back on the next cycle) ends failed after the same number of tries as BullMQ.
 */
export const deliverOutreach = defineJob({
  name: 'deliver-outreach',
  queue: 'outreach',
  payload: z.object({ deliveryId: z.number().int().positive() }),
  attempts: (c) => c.outreach.delivery.attempts,
  backoffMs: (c) => c.outreach.delivery.backoffMs,
  async handle({ deliveryId }, deps, ctx) {
    const { sql, clock, config } = deps;
    const now = clock.now();
    type Outcome = { ok: true; summary: Record<string, number> } | { ok: false; err: Error; permanent: boolean };
    const outcome: Outcome = await sql.begin(async (tx): Promise<Outcome> => {
      const [d] = await tx`select * from outreach_deliveries where id = ${deliveryId} and status <> 'sent' for update skip locked`;
      if (!d) return { ok: true, summary: { deliveriesSkipped: 1 } };
      const attempts = Number(d.attempts) + 1;
      await tx`update outreach_deliveries set attempts = ${attempts} where id = ${deliveryId}`;
      const channel = deps.agentChannels.find((c) => c.name === d.channel);
      if (!channel) {
        await tx`update outreach_deliveries set status = 'failed', last_error = 'channel not enabled' where id = ${deliveryId}`;
        return { ok: false, err: new Error(`channel ${d.channel} is not enabled`), permanent: true };
      }
      const [task] = await loadTaskViews(tx, { ids: [Number(d.task_id)] }, now);
      if (!task) return { ok: false, err: new Error(`task ${d.task_id} not found`), permanent: true };
      try {
        await channel.send(d.event as OutreachEvent, task, `pw-outreach-${deliveryId}`);
      } catch (err) {
        const permanent = err instanceof ChannelError && err.kind === 'permanent';
        const last = permanent || Math.max(ctx.attempt, attempts) >= (config.outreach.delivery.attempts ?? 1);
        await tx`update outreach_deliveries set last_error = ${(err as Error).message}, status = ${last ? 'failed' : 'pending'} where id = ${deliveryId}`;
        deps.metrics.deliveries.inc({ channel: d.channel, result: last ? 'failed' : 'retry' });
        return { ok: false, err: err as Error, permanent: last };
      }
      await tx`update outreach_deliveries set status = 'sent', sent_at = ${now}, last_error = null where id = ${deliveryId}`;
      deps.metrics.deliveries.inc({ channel: d.channel, result: 'sent' });
      return { ok: true, summary: { delivered: 1 } };
    });
    if (outcome.ok) return { summary: outcome.summary };
    // Thrown after the commit, so the recorded attempt and error survive the failure.
    if (outcome.permanent) throw new UnrecoverableError(outcome.err.message);
    throw outcome.err;
  },
});
