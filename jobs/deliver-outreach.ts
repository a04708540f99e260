import { UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import { loadTaskViews } from '../db/queries/outreach.js';
import type { OutreachEvent } from '../domain/outreach.js';
import { ChannelError } from '../notify/channel-error.js';
import { defineJob } from './define-job.js';

/**
 * Deliver one task event to one agents' channel. Each attempt is recorded on the delivery row; a
 * transient failure throws so BullMQ retries with backoff; after the last attempt the row shows failed.
 * A row already sent is never sent again (the idempotency key is the row id, stable across retries).
 */
export const deliverOutreach = defineJob({
  name: 'deliver-outreach',
  queue: 'outreach',
  payload: z.object({ deliveryId: z.number().int().positive() }),
  attempts: 6,
  backoffMs: 5000,
  async handle({ deliveryId }, deps, ctx) {
    const { sql, clock, config } = deps;
    const now = clock.now();
    const [d] = await sql`update outreach_deliveries set attempts = attempts + 1 where id = ${deliveryId} and status <> 'sent' returning *`;
    if (!d) return { summary: { deliveriesSkipped: 1 } as Record<string, number> };
    const channel = deps.agentChannels.find((c) => c.name === d.channel);
    if (!channel) {
      await sql`update outreach_deliveries set status = 'failed', last_error = 'channel not enabled' where id = ${deliveryId}`;
      throw new UnrecoverableError(`channel ${d.channel} is not enabled`);
    }
    const [task] = await loadTaskViews(sql, { ids: [Number(d.task_id)] }, now);
    if (!task) throw new UnrecoverableError(`task ${d.task_id} not found`);
    try {
      await channel.send(d.event as OutreachEvent, task, `pw-outreach-${deliveryId}`);
    } catch (err) {
      const permanent = err instanceof ChannelError && err.kind === 'permanent';
      const last = permanent || ctx.attempt >= (config.outreach.delivery.attempts ?? 1);
      await sql`update outreach_deliveries set last_error = ${(err as Error).message}, status = ${last ? 'failed' : 'pending'} where id = ${deliveryId}`;
      deps.metrics.deliveries.inc({ channel: d.channel, result: last ? 'failed' : 'retry' });
      if (permanent) throw new UnrecoverableError((err as Error).message);
      throw err;
    }
    await sql`update outreach_deliveries set status = 'sent', sent_at = ${now}, last_error = null where id = ${deliveryId}`;
    deps.metrics.deliveries.inc({ channel: d.channel, result: 'sent' });
    return { summary: { delivered: 1 } };
  },
});
