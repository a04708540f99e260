import { z } from 'zod';
import { defineJob } from './define-job.js';
import { releaseMessages } from './send-customer-message.js';
import { notifyChasers } from './notify-chasers.js';

const PAGE = 1000;

/**
 * Scheduled sweep, three duties:
 * - end chases older than maxAgeDays (end_reason expired);
 * - safety net for notify-chasers: chased shipments with events seen in the last day are judged again,
 *   so a trigger lost with a failed poll attempt or a crashed worker is made up (dedupe keys make this a
 *   no-op when nothing was missed);
 * - hand every pending notification whose send_after has come and that no live retry chain owns to
 *   send-customer-message (messages held by quiet hours or coalescing, chains that died). One chain per
 *   message: a chain retrying with backoff holds a lease, so this sweep does not start another; the job
 *   id carries the chain number, so a new chain is never swallowed by an old job.
 */
export const sendNotifications = defineJob({
  name: 'send-notifications',
  queue: 'notifications',
  payload: z.object({ slot: z.string().optional() }),
  schedule: (c) => c.jobs.sendNotifications.schedule,
  cycleOrder: 40,
  async handle(_payload, deps, ctx) {
    const { sql, clock, config } = deps;
    const now = clock.now();
    const expired = await sql`
      update chases set status = 'ended', end_reason = 'expired', ended_at = ${now}
      where status = 'active' and registered_at <= ${now}::timestamptz - ${config.chases.maxAgeDays} * interval '1 day'
      returning id`;

    const recent = await sql`
      select distinct c.shipment_id from chases c
      join tracking_events e on e.shipment_id = c.shipment_id and e.seen_at >= c.registered_at and e.seen_at > ${now}::timestamptz - interval '1 day'
      where c.status = 'active'`;
    const ids = recent.map((r) => Number(r.shipment_id));
    let madeUp = 0;
    for (let i = 0; i < ids.length; i += 500) {
      const r = await notifyChasers(deps, ids.slice(i, i + 500));
      madeUp += r.summary.notificationsQueued;
      await ctx.enqueue(r.followUps);
    }

    let released = 0;
    let afterId = 0;
    for (;;) {
      const { followUps, lastId } = await releaseMessages(sql, now, afterId, PAGE);
      if (lastId === null) break;
      afterId = lastId;
      released += followUps.length;
      await ctx.enqueue(followUps);
    }
    return { summary: { notificationsReleased: released, notificationsMadeUp: madeUp, chasesExpired: expired.length } };
  },
});
