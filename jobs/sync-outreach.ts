import { z } from 'zod';
import { carrierName } from '../carriers/carrier-codes.js';
import { SEVERITIES, type Config, type ExceptionType, type Severity } from '../config/schema.js';
import type { SqlOrTx } from '../db/client.js';
import { MINUTE_MS } from '../domain/clock.js';
import { formatLocal } from '../domain/local-time.js';
import { renderTemplate } from '../notify/render.js';
import { defineJob, type FollowUp } from './define-job.js';

const SEVERITY_BASE: Record<Severity, number> = { info: 0, warning: 100, critical: 200, breach: 300 };
const rank = (s: string) => SEVERITIES.indexOf(s as Severity);

interface OpenExc {
  id: number;
  type: ExceptionType;
  severity: Severity;
  details: Record<string, unknown>;
  deadlineAt: Date | null;
  penaltyYuan: number | null;
  trackingNo: string | null;
  carrier: string | null;
  lastEvent: string | null;
  lastEventAt: Date | null;
  lastHub: string | null;
}

interface OrderRow {
  id: number;
  externalId: string;
  platform: string;
  paidAt: Date;
  customerName: string | null;
}

export interface TaskPlan {
  type: ExceptionType;
  severity: Severity;
  priority: number;
  reason: string;
  script: string;
  dueBy: Date;
}

/**
 * What the one task of an order should say, from its open exceptions: the worst one (severity, then the
 * configured type weight) sets type, script and SLA; each further exception adds 10 to the priority.
 * Pure, so the rule "late-shipment breach and carrier problems first" is testable without a database.
 */
export function planTask(order: OrderRow, open: OpenExc[], now: Date, config: Config): TaskPlan {
  const weight = config.outreach.typeWeight;
  const sorted = [...open].sort((a, b) => rank(b.severity) - rank(a.severity) || weight[b.type] - weight[a.type] || a.id - b.id);
  const worst = sorted[0]!;
  const tz = config.timezone;
  const d = worst.details;
  const vars = {
    customerName: order.customerName ?? '',
    orderId: order.externalId,
    platform: order.platform,
    carrierName: worst.carrier ? carrierName(worst.carrier) : null,
    trackingNo: worst.trackingNo,
    lastEvent: worst.lastEvent,
    lastHub: worst.lastHub,
    lastEventAt: worst.lastEventAt ? formatLocal(worst.lastEventAt, tz) : null,
    paidAt: formatLocal(order.paidAt, tz),
    deadline: worst.deadlineAt ? formatLocal(worst.deadlineAt, tz) : null,
    hoursLeft: typeof d.hoursLeft === 'number' ? d.hoursLeft : null,
    hoursOverdue: typeof d.hoursOverdue === 'number' ? d.hoursOverdue : null,
    ageHours: typeof d.ageHours === 'number' ? d.ageHours : null,
    penaltyYuan: worst.penaltyYuan,
    normalTransitDays: config.outreach.normalTransitDays,
    compensationYuan: worst.type === 'late_shipment' ? config.outreach.compensation.lateShipmentYuan : config.outreach.compensation.perDayLateYuan,
    perDayLateYuan: config.outreach.compensation.perDayLateYuan,
    // Tell the truth about the ship date: the next business day after now, never a delivery date.
    shipDate: formatLocal(new Date(now.getTime() + 24 * 60 * MINUTE_MS), tz).slice(0, 10),
    reason: null,
  };
  const reasons = sorted.map((e) => renderTemplate(config.outreach.reasons[e.type], { ...vars, trackingNo: e.trackingNo, carrierName: e.carrier ? carrierName(e.carrier) : null }));
  return {
    type: worst.type,
    severity: worst.severity,
    priority: SEVERITY_BASE[worst.severity] + weight[worst.type] + 10 * (open.length - 1),
    reason: reasons.join('；'),
    script: renderTemplate(config.outreach.scripts[worst.type], vars),
    dueBy: new Date(now.getTime() + config.outreach.slaMinutes[worst.severity] * MINUTE_MS),
  };
}

/** Orders whose task must be created, updated or cancelled; bounded page. */
async function ordersToSync(sql: SqlOrTx, limit: number, exclude: number[]): Promise<number[]> {
  // `>=`: detection may change an exception at the very instant a task was last touched (run-once judges
  // everything at one instant, and an earlier sync or the overdue flag in the same cycle set updated_at = now).
  const rows = await sql`
    select order_id from (
      select order_id from exceptions where status = 'open' and outreach_task_id is null
      union
      select t.order_id from outreach_tasks t
      where t.status in ('open', 'claimed')
        and exists (select 1 from exceptions e where e.outreach_task_id = t.id and e.updated_at >= t.updated_at)
    ) o
    where o.order_id <> all(${sql.array(exclude)}::bigint[])
    limit ${limit}`;
  return rows.map((r) => Number(r.order_id));
}

async function pickAgent(sql: SqlOrTx, config: Config): Promise<string | null> {
  const { mode, agents } = config.outreach.assignment;
  if (mode === 'pool' || agents.length === 0) return null;
  const load = await sql`
    select agent, count(*) filter (where status in ('open', 'claimed'))::int as active, max(created_at) as last
    from outreach_tasks where agent = any(${sql.array(agents)}::text[]) group by agent`;
  const byAgent = new Map(load.map((r) => [r.agent as string, r]));
  if (mode === 'least_loaded') {
    return [...agents].sort((a, b) => (byAgent.get(a)?.active ?? 0) - (byAgent.get(b)?.active ?? 0))[0]!;
  }
  // round robin: the agent whose last assignment is oldest (never assigned first), in roster order.
  return [...agents].sort((a, b) => (byAgent.get(a)?.last?.getTime() ?? -1) - (byAgent.get(b)?.last?.getTime() ?? -1))[0]!;
}

export const CHANNEL_NAMES = (config: Config) =>
  (['webhook', 'wecom', 'dingtalk'] as const).filter((c) => config.outreach.channels[c].enabled);

/** Record one delivery row per enabled channel for a task event/version; returns follow-up jobs for the new rows. */
export async function queueDeliveries(sql: SqlOrTx, config: Config, items: { taskId: number; event: string; version: number }[], now: Date): Promise<FollowUp[]> {
  const channels = CHANNEL_NAMES(config);
  if (!items.length || !channels.length) return [];
  const rows = items.flatMap((i) => channels.map((c) => ({ ...i, channel: c })));
  const inserted = await sql`
    insert into outreach_deliveries (task_id, channel, event, version, created_at)
    select * , ${now}::timestamptz from unnest(${sql.array(rows.map((r) => r.taskId))}::bigint[], ${sql.array(rows.map((r) => r.channel))}::text[],
                         ${sql.array(rows.map((r) => r.event))}::text[], ${sql.array(rows.map((r) => r.version))}::int[])
    on conflict (task_id, channel, event, version) do nothing
    returning id`;
  return inserted.map((r) => ({ job: 'deliver-outreach', payload: { deliveryId: Number(r.id) }, jobId: `outreach-delivery-${r.id}` }));
}

export interface SyncSummary {
  tasksCreated: number;
  tasksUpdated: number;
  tasksCancelled: number;
  tasksOverdue: number;
}

/**
 * Keep exactly one active task per order in step with its open exceptions. Runs per order inside a
 * transaction that locks the order row, so replicas and overlapping cycles serialise per order; the
 * partial unique index (one open|claimed task per order) is the last line of defence.
 */
export async function syncOutreach(deps: { sql: import('../db/client.js').Sql; config: Config; clock: { now(): Date } }, enqueue: (f: FollowUp[]) => Promise<void>): Promise<SyncSummary> {
  const { sql, config } = deps;
  const now = deps.clock.now();
  const s: SyncSummary = { tasksCreated: 0, tasksUpdated: 0, tasksCancelled: 0, tasksOverdue: 0 };
  const done = new Set<number>();
  for (;;) {
    const ids = (await ordersToSync(sql, 500, [...done])).filter((id) => !done.has(id));
    if (ids.length === 0) break;
    for (const orderId of ids) {
      done.add(orderId);
      const follow: FollowUp[] = await sql.begin(async (tx) => syncOrder(tx, config, orderId, now, s));
      await enqueue(follow);
    }
  }
  // Cancel active tasks whose exceptions all resolved (nothing open is linked any more).
  const orphaned = await sql`
    select t.order_id from outreach_tasks t
    where t.status in ('open', 'claimed')
      and not exists (select 1 from exceptions e where e.outreach_task_id = t.id and e.status = 'open')`;
  for (const r of orphaned) {
    // No lock on the task here: syncOrder locks the order first, then its task, like every other path.
    const follow: FollowUp[] = await sql.begin(async (tx) => syncOrder(tx, config, Number(r.order_id), now, s));
    await enqueue(follow);
  }
  // Overdue: past due and still open → flag once and re-notify the channel once.
  const overdue = await sql`
    update outreach_tasks set overdue_at = ${now}, version = version + 1, updated_at = ${now}
    where status = 'open' and due_by < ${now} and overdue_at is null
    returning id, version`;
  s.tasksOverdue = overdue.length;
  await enqueue(await queueDeliveries(sql, config, overdue.map((o) => ({ taskId: Number(o.id), event: 'outreach.overdue', version: o.version })), now));
  // Deliveries still pending (a transient channel failure in run-once, which runs each job once; a crash
  // between commit and enqueue; a row recorded by the API process): hand them to the dispatcher again.
  // The jobId is the row's, so on BullMQ a job still waiting or retrying is not duplicated.
  const pending = await sql`select id from outreach_deliveries where status = 'pending' order by id limit 1000`;
  await enqueue(pending.map((r) => ({ job: 'deliver-outreach', payload: { deliveryId: Number(r.id) }, jobId: `outreach-delivery-${r.id}` })));
  return s;
}

async function syncOrder(tx: SqlOrTx, config: Config, orderId: number, now: Date, s: SyncSummary): Promise<FollowUp[]> {
  const [o] = await tx`select id, external_id, platform, paid_at, customer_name from orders where id = ${orderId} for update`;
  if (!o) return [];
  const order: OrderRow = { id: Number(o.id), externalId: o.external_id, platform: o.platform, paidAt: o.paid_at, customerName: o.customer_name };
  const open: OpenExc[] = (
    await tx`
      select e.id, e.type, e.severity, e.details, e.deadline_at, e.penalty_yuan, s.tracking_no, s.carrier,
             s.last_event_text, s.last_event_at, s.last_hub
      from exceptions e left join shipments s on s.id = e.shipment_id
      where e.order_id = ${orderId} and e.status = 'open'
        -- an exception an agent already handled in a done task stays with that task (its history);
        -- a new problem on the order gets a new task of its own
        and not exists (select 1 from outreach_tasks d where d.id = e.outreach_task_id and d.status = 'done')
      -- lock order: order, then exceptions in id order (as the detection sweep), then the task
      order by e.id
      for update of e`
  ).map((r) => ({
    id: Number(r.id),
    type: r.type,
    severity: r.severity,
    details: r.details ?? {},
    deadlineAt: r.deadline_at,
    penaltyYuan: r.penalty_yuan === null ? null : Number(r.penalty_yuan),
    trackingNo: r.tracking_no,
    carrier: r.carrier,
    lastEvent: r.last_event_text,
    lastEventAt: r.last_event_at,
    lastHub: r.last_hub,
  }));
  const [task] = await tx`select * from outreach_tasks where order_id = ${orderId} and status in ('open', 'claimed') for update`;
  const events: { taskId: number; event: string; version: number }[] = [];
  if (!task) {
    if (open.length === 0) return [];
    const plan = planTask(order, open, now, config);
    const agent = await pickAgent(tx, config);
    const [created] = await tx`
      insert into outreach_tasks (order_id, status, type, severity, priority, reason, script, due_by, agent, created_at, updated_at)
      values (${orderId}, 'open', ${plan.type}, ${plan.severity}, ${plan.priority}, ${plan.reason}, ${plan.script}, ${plan.dueBy}, ${agent}, ${now}, ${now})
      on conflict (order_id) where status in ('open', 'claimed') do nothing
      returning id, version`;
    if (!created) return [];
    await tx`update exceptions set outreach_task_id = ${created.id} where id = any(${tx.array(open.map((e) => e.id))}::bigint[])`;
    s.tasksCreated++;
    events.push({ taskId: Number(created.id), event: 'outreach.created', version: created.version });
  } else if (open.length === 0) {
    const [reason] = await tx`select string_agg(distinct resolution, '; ') as r from exceptions where outreach_task_id = ${task.id}`;
    const [c] = await tx`
      update outreach_tasks set status = 'cancelled', cancelled_at = ${now}, cancel_reason = ${`resolved before contact: ${reason?.r ?? 'exceptions resolved'}`},
             version = version + 1, updated_at = ${now}
      where id = ${task.id} returning version`;
    s.tasksCancelled++;
    events.push({ taskId: Number(task.id), event: 'outreach.cancelled', version: c!.version });
  } else {
    const plan = planTask(order, open, now, config);
    // Escalations pull the due time in, never push it out.
    const dueBy = plan.dueBy < task.due_by ? plan.dueBy : task.due_by;
    await tx`update exceptions set outreach_task_id = ${task.id} where id = any(${tx.array(open.map((e) => e.id))}::bigint[]) and outreach_task_id is distinct from ${task.id}`;
    const changed =
      plan.type !== task.type || plan.severity !== task.severity || plan.priority !== task.priority || plan.reason !== task.reason || dueBy.getTime() !== task.due_by.getTime();
    if (changed) {
      const [u] = await tx`
        update outreach_tasks set type = ${plan.type}, severity = ${plan.severity}, priority = ${plan.priority}, reason = ${plan.reason},
               script = ${plan.script}, due_by = ${dueBy}, version = version + 1, updated_at = ${now}
        where id = ${task.id} returning version`;
      s.tasksUpdated++;
      events.push({ taskId: Number(task.id), event: 'outreach.updated', version: u!.version });
    } else {
      await tx`update outreach_tasks set updated_at = ${now} where id = ${task.id}`;
    }
  }
  return queueDeliveries(tx, config, events, now);
}

export const syncOutreachJob = defineJob({
  name: 'sync-outreach',
  queue: 'outreach',
  payload: z.object({ slot: z.string().optional() }),
  schedule: (c) => c.jobs.syncOutreach.schedule,
  cycleOrder: 30,
  async handle(_payload, deps, ctx) {
    const s = await syncOutreach(deps, ctx.enqueue);
    deps.metrics.outreach.inc({ action: 'created' }, s.tasksCreated);
    deps.metrics.outreach.inc({ action: 'updated' }, s.tasksUpdated);
    deps.metrics.outreach.inc({ action: 'cancelled' }, s.tasksCancelled);
    deps.metrics.outreach.inc({ action: 'overdue' }, s.tasksOverdue);
    return { summary: { ...s } };
  },
});
