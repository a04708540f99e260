import { z } from 'zod';
import { defineJob, type FollowUp } from './define-job.js';

const PAGE = 1000;

/**
 * Scheduled sweep: hand every pending notification whose send_after has come to send-customer-message
 * (messages held by quiet hours or coalescing, and rows whose send job was lost), and end chases older than
 * maxAgeDays. The send job re-checks the row under lock, so a row enqueued twice is still sent once.
 */
export const sendNotifications = defineJob({
  name: 'send-notifications',
  queue: 'notifications',
  payload: z.object({ slot: z.string().optional() }),
  schedule: (c) => c.jobs.sendNotifications.schedule,
  cycleOrder: 40,
  async handle(_payload, { sql, clock, config }, ctx) {
    const now = clock.now();
    const expired = await sql`
      update chases set status = 'ended', end_reason = 'expired', ended_at = ${now}
      where status = 'active' and registered_at <= ${now}::timestamptz - ${config.chases.maxAgeDays} * interval '1 day'
      returning id`;
    let released = 0;
    let afterId = 0;
    for (;;) {
      const rows = await sql`
        select id from notifications where status = 'pending' and send_after <= ${now} and id > ${afterId}
        order by id limit ${PAGE}`;
      if (!rows.length) break;
      afterId = Number(rows.at(-1)!.id);
      released += rows.length;
      const followUps: FollowUp[] = rows.map((r) => ({ job: 'send-customer-message', payload: { notificationId: Number(r.id) }, jobId: `notif-${r.id}` }));
      await ctx.enqueue(followUps);
    }
    return { summary: { notificationsReleased: released, chasesExpired: expired.length } };
  },
});
