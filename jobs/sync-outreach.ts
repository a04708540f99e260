import { z } from 'zod';
import { carrierName } from '../carriers/carrier-codes.js';
import { SEVERITIES, type Config, type ExceptionType, type Severity } from '../config/schema.js';
import type { SqlOrTx } from '../db/client.js';
import { MINUTE_MS } from '../domain/clock.js';
import { formatLocal } from '../domain/local-time.js';
import { normalArrival } from '../domain/norms.js';
import { renderTemplate } from '../notify/render.js';
import { deliveryFollowUp, requeueDeliveries } from './deliver-outreach.js';
import { defineJob, type Deps, type FollowUp } from './define-job.js';

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
  /** p50 transit hours of the norm that applies to its parcel (null: no norm, the flat normalTransitDays is said). */
  normP50Hours?: number | null;
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
    normalArrival: normalArrival(worst.normP50Hours == null ? null : { p50Hours: worst.normP50Hours }, config),
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

/**
 * The next page of orders, in id order after `after`, whose task must be created, updated or cancelled:
 * an open exception not yet linked, or an active task one of whose exceptions changed since the task
 * was last synced. Each branch is an ordered scan of a partial index, so a page costs its own size.
 */
async function ordersToSync(sql: SqlOrTx, after: number, limit: number): Promise<number[]> {
  const rows = await sql`
    select order_id from (
      (select order_id from exceptions where status = 'open' and outreach_task_id is null and order_id > ${after}
       order by order_id limit ${limit})
      union
      (select t.order_id from outreach_tasks t
       where t.status in ('open', 'claimed') and t.order_id > ${after}
         and exists (select 1 from exceptions e where e.outreach_task_id = t.id and e.change_seq > t.synced_seq)
       order by t.order_id limit ${limit})
    ) o
    order by order_id limit ${limit}`;
  return rows.map((r) => Number(r.order_id));
}

/**
 * Picks agents for a batch of new tasks: the roster's load is read once, then each assignment updates
 * it in memory, so a batch of 1,000 spreads like 1,000 single picks would.
 */
async function agentPicker(sql: SqlOrTx, config: Config): Promise<() => string | null> {
  const { mode, agents } = config.outreach.assignment;
  if (mode === 'pool' || agents.length === 0) return () => null;
  const load = await sql`
    select agent, count(*) filter (where status in ('open', 'claimed'))::int as active, max(id)::float8 as last
    from outreach_tasks where agent = any(${sql.array(agents)}::text[]) group by agent`;
  const byAgent = new Map(load.map((r) => [r.agent as string, r]));
  // round robin: the agent whose last assignment is oldest (never assigned first), ties in roster order.
  // "Last" is the newest task id, not created_at: a whole page of tasks shares one instant.
  const state = agents.map((agent) => ({ agent, active: byAgent.get(agent)?.active ?? 0, last: (byAgent.get(agent)?.last as number | undefined) ?? -Infinity }));
  let seq = 0;
  return () => {
    const key = mode === 'least_loaded' ? (a: (typeof state)[0]) => a.active : (a: (typeof state)[0]) => a.last;
    const best = state.reduce((b, a) => (key(a) < key(b) ? a : b));
    best.active++;
    // After every task id (ids stay far below 2^52; integers are exact up to 2^53): newest assignment last.
    best.last = 2 ** 52 + seq++;
    return best.agent;
  };
}

interface Turn {
  /** Agents for `n` new tasks, once every page cut earlier has dealt; ends this page's turn. */
  deal(tx: SqlOrTx, n: number): Promise<(string | null)[]>;
  pass(): void;
}

/**
 * Pages in flight at once deal agents in the order they were cut, whichever is ready first, so round robin
 * hands out orders in id order as a one-page-at-a-time pass would. One picker serves the whole pass: pages
 * in flight cannot see each other's uncommitted assignments in the database.
 */
class Dealer {
  private last: Promise<void> = Promise.resolve();
  /**
   * Made on first use, on the transaction of the page that first needs it: a pass that creates no task reads
   * no roster load, and a page waiting for its turn never needs a second connection.
   */
  private picker?: Promise<() => string | null>;

  constructor(private readonly config: Config) {}

  turn(): Turn {
    const previous = this.last;
    let pass!: () => void;
    const passed = new Promise<void>((resolve) => (pass = resolve));
    this.last = previous.then(() => passed);
    return {
      deal: async (tx, n) => {
        try {
          await previous;
          if (n === 0) return [];
          const pick = await (this.picker ??= agentPicker(tx, this.config));
          return Array.from({ length: n }, () => pick());
        } finally {
          pass();
        }
      },
      pass,
    };
  }
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
  return inserted.map((r) => deliveryFollowUp(Number(r.id), 0));
}

export interface SyncSummary {
  tasksCreated: number;
  tasksUpdated: number;
  tasksCancelled: number;
  tasksOverdue: number;
}

/**
 * Keep exactly one active task per order in step with its open exceptions, a page of orders per
 * transaction. Orders are locked in id order with SKIP LOCKED, so replicas and overlapping cycles split
 * the work instead of waiting; the partial unique index (one open|claimed task per order) is the last
 * line of defence.
 */
export async function syncOutreach(
  deps: Pick<Deps, 'sql' | 'config' | 'clock'>,
  enqueue: (f: FollowUp[]) => Promise<void>,
  signal?: AbortSignal,
): Promise<SyncSummary> {
  const { sql, config } = deps;
  const now = deps.clock.now();
  const page = config.jobs.syncOutreach.batchSize;
  const s: SyncSummary = { tasksCreated: 0, tasksUpdated: 0, tasksCancelled: 0, tasksOverdue: 0 };
  // Keyset over order ids: the pass ends, and an order changed behind the cursor waits for the next run.
  // A task whose exceptions all resolved is found here too: a resolution is a change (change_seq), so no
  // separate scan of every active task for orphans is needed. Pages are cut one after another (the cursor
  // moves before the next cut), so the pages in flight never share an order.
  let after = 0;
  let cutting: Promise<unknown> = Promise.resolve();
  const dealer = new Dealer(config);
  const nextPage = (): Promise<{ ids: number[]; turn: Turn }> => {
    const cut = cutting.then(async () => {
      // The pass is over once a cut comes back empty: the other page runner must not scan again.
      const ids = after < 0 ? [] : await ordersToSync(sql, after, page);
      after = ids.length ? ids[ids.length - 1]! : -1;
      return { ids, turn: dealer.turn() };
    });
    cutting = cut.catch(() => {});
    return cut;
  };
  await Promise.all(
    Array.from({ length: config.jobs.syncOutreach.concurrency }, async () => {
      for (;;) {
        const { ids, turn } = await nextPage();
        try {
          // Stopping: each page is committed; the next run finds what is left (the keyset starts over).
          if (ids.length === 0 || signal?.aborted) break;
          await enqueue(await sql.begin((tx) => syncOrders(tx, config, ids, now, s, turn)));
        } finally {
          turn.pass(); // a page that failed, or was not run, still lets the next one deal
        }
      }
    }),
  );
  // Overdue: past due and still open → flag once and re-notify the channel once. Locked in id order and
  // skipping rows a page transaction holds (another replica's run, or this job's pages on another worker):
  // a plain UPDATE locks in scan order, and a page locks its tasks in id order, so the two could each hold a
  // row the other wanted (a 40P01 seen once in CI in test/lock-order.test.ts "many rounds"). A skipped task
  // is flagged by the next run (overdue_at is null keeps it once).
  const overdue = await sql`
    with due as (
      select id from outreach_tasks
      where status = 'open' and due_by < ${now} and overdue_at is null
      order by id for update skip locked)
    update outreach_tasks t set overdue_at = ${now}, version = t.version + 1, updated_at = ${now}
    from due where t.id = due.id
    returning t.id, t.version`;
  s.tasksOverdue = overdue.length;
  await enqueue(await queueDeliveries(sql, config, overdue.map((o) => ({ taskId: Number(o.id), event: 'outreach.overdue', version: o.version })), now));
  // Deliveries no live chain owns (a transient failure in run-once, which runs each job once; a crash
  // between commit and enqueue or mid-send; a job lost with Redis): hand them to the dispatcher again, on
  // a new chain when the old one's lease ran out (see requeueDeliveries).
  await enqueue(await requeueDeliveries(sql, now));
  return s;
}

/**
 * One page: lock the orders (id order, skipping those another replica holds), then their open
 * exceptions (id order), then their active tasks. Orders before exceptions is the one lock order of every
 * writer of exceptions: the detection sweep takes its orders' key-share locks before any exception lock
 * (db/queries/exceptions.ts lockSubjectOrders), so the two wait on each other at most, never deadlock; decide per order
 * in memory with the pure planTask; write each kind of change with one set-based statement.
 */
async function syncOrders(tx: SqlOrTx, config: Config, candidates: number[], now: Date, s: SyncSummary, turn: Turn): Promise<FollowUp[]> {
  const orderRows = await tx`
    select id, external_id, platform, paid_at, customer_name from orders
    where id = any(${tx.array(candidates)}::bigint[]) order by id for update skip locked`;
  if (orderRows.length === 0) return [];
  const ids = tx.array(orderRows.map((o) => Number(o.id)));
  const excRows = await tx`
    select e.id, e.order_id, e.type, e.severity, e.details, e.deadline_at, e.penalty_yuan, e.change_seq, s.tracking_no, s.carrier,
           s.last_event_text, s.last_event_at, s.last_hub, n.p50_hours as norm_p50_hours
    from exceptions e left join shipments s on s.id = e.shipment_id
    -- {normalArrival}: the parcel's route norm, else its carrier's, else the global one (an order not shipped yet)
    left join lateral parcelwatch_route(e.shipment_id) r on true
    left join lateral parcelwatch_norm(s.carrier, r.origin, r.destination, ${config.norms.minSamples}::int) n on true
    where e.order_id = any(${ids}::bigint[]) and e.status = 'open'
      -- an exception an agent already handled in a done task stays with that task (its history);
      -- a new problem on the order gets a new task of its own
      and not exists (select 1 from outreach_tasks d where d.id = e.outreach_task_id and d.status = 'done')
    order by e.id
    for update of e`;
  const taskRows = await tx`
    select * from outreach_tasks where order_id = any(${ids}::bigint[]) and status in ('open', 'claimed') order by id for update`;

  const openByOrder = new Map<number, OpenExc[]>();
  const seqOf = new Map<number, number>();
  for (const r of excRows) {
    const orderId = Number(r.order_id);
    seqOf.set(orderId, Math.max(seqOf.get(orderId) ?? 0, Number(r.change_seq)));
    let list = openByOrder.get(orderId);
    if (!list) openByOrder.set(orderId, (list = []));
    list.push({
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
      normP50Hours: r.norm_p50_hours === null ? null : Number(r.norm_p50_hours),
    });
  }
  const taskByOrder = new Map(taskRows.map((t) => [Number(t.order_id), t]));

  const create: { order: OrderRow; plan: TaskPlan; agent: string | null; excIds: number[]; seq: number }[] = [];
  const update: { id: number; plan: TaskPlan; dueBy: Date }[] = [];
  const link: { excId: number; taskId: number }[] = [];
  const cancel: number[] = [];
  for (const o of orderRows) {
    const order: OrderRow = { id: Number(o.id), externalId: o.external_id, platform: o.platform, paidAt: o.paid_at, customerName: o.customer_name };
    const open = openByOrder.get(order.id) ?? [];
    const task = taskByOrder.get(order.id);
    if (!task) {
      if (open.length === 0) continue;
      create.push({ order, plan: planTask(order, open, now, config), agent: null, excIds: open.map((e) => e.id), seq: seqOf.get(order.id)! });
    } else if (open.length === 0) {
      cancel.push(Number(task.id));
    } else {
      const taskId = Number(task.id);
      const plan = planTask(order, open, now, config);
      // Escalations pull the due time in, never push it out.
      const dueBy = plan.dueBy < task.due_by ? plan.dueBy : task.due_by;
      for (const e of open) link.push({ excId: e.id, taskId });
      const changed =
        plan.type !== task.type || plan.severity !== task.severity || plan.priority !== task.priority || plan.reason !== task.reason || dueBy.getTime() !== task.due_by.getTime();
      if (changed) update.push({ id: taskId, plan, dueBy });
    }
  }

  // `create` is in order id order (orderRows is): deal in that order.
  const agents = await turn.deal(tx, create.length);
  create.forEach((c, i) => (c.agent = agents[i]!));

  const events: { taskId: number; event: string; version: number; orderId: number }[] = [];
  const orderOfTask = new Map(taskRows.map((t) => [Number(t.id), Number(t.order_id)]));
  if (create.length) {
    const created = await tx`
      insert into outreach_tasks (order_id, status, type, severity, priority, reason, script, due_by, agent, synced_seq, created_at, updated_at)
      select t.order_id, 'open', t.type, t.severity, t.priority, t.reason, t.script, t.due_by, t.agent, t.seq, ${now}::timestamptz, ${now}::timestamptz
      from unnest(${tx.array(create.map((c) => c.order.id))}::bigint[], ${tx.array(create.map((c) => c.plan.type))}::text[],
                  ${tx.array(create.map((c) => c.plan.severity))}::text[], ${tx.array(create.map((c) => c.plan.priority))}::int[],
                  ${tx.array(create.map((c) => c.plan.reason))}::text[], ${tx.array(create.map((c) => c.plan.script))}::text[],
                  ${tx.array(create.map((c) => c.plan.dueBy.toISOString()))}::timestamptz[], ${tx.array(create.map((c) => c.agent) as string[])}::text[],
                  ${tx.array(create.map((c) => c.seq))}::bigint[])
        as t(order_id, type, severity, priority, reason, script, due_by, agent, seq)
      order by t.order_id
      on conflict (order_id) where status in ('open', 'claimed') do nothing
      returning id, order_id, version`;
    const taskOf = new Map(created.map((c) => [Number(c.order_id), Number(c.id)]));
    for (const c of create) {
      const taskId = taskOf.get(c.order.id);
      if (taskId !== undefined) for (const excId of c.excIds) link.push({ excId, taskId });
    }
    for (const c of created) events.push({ taskId: Number(c.id), event: 'outreach.created', version: c.version, orderId: Number(c.order_id) });
    s.tasksCreated += created.length;
  }
  if (link.length) {
    await tx`
      update exceptions e set outreach_task_id = l.task_id
      from unnest(${tx.array(link.map((l) => l.excId))}::bigint[], ${tx.array(link.map((l) => l.taskId))}::bigint[]) as l(exc_id, task_id)
      where e.id = l.exc_id and e.outreach_task_id is distinct from l.task_id`;
  }
  if (update.length) {
    const updated = await tx`
      update outreach_tasks t set type = u.type, severity = u.severity, priority = u.priority, reason = u.reason, script = u.script,
             due_by = u.due_by, version = t.version + 1, updated_at = ${now}::timestamptz
      from unnest(${tx.array(update.map((u) => u.id))}::bigint[], ${tx.array(update.map((u) => u.plan.type))}::text[],
                  ${tx.array(update.map((u) => u.plan.severity))}::text[], ${tx.array(update.map((u) => u.plan.priority))}::int[],
                  ${tx.array(update.map((u) => u.plan.reason))}::text[], ${tx.array(update.map((u) => u.plan.script))}::text[],
                  ${tx.array(update.map((u) => u.dueBy.toISOString()))}::timestamptz[])
        as u(id, type, severity, priority, reason, script, due_by)
      where t.id = u.id
      returning t.id, t.version`;
    for (const u of updated) events.push({ taskId: Number(u.id), event: 'outreach.updated', version: u.version, orderId: orderOfTask.get(Number(u.id))! });
    s.tasksUpdated += updated.length;
  }
  // Every task of the page is now in step with its exceptions' changes (a new task took the highest
  // number of the exceptions it was made from); only tasks that saw a new change are written, so a
  // replayed cycle writes nothing.
  const cancelSet = new Set(cancel);
  const synced = taskRows.map((t) => Number(t.id)).filter((id) => !cancelSet.has(id));
  if (synced.length) {
    await tx`
      update outreach_tasks t set synced_seq = m.seq
      from (select outreach_task_id as id, max(change_seq) as seq from exceptions
            where outreach_task_id = any(${tx.array(synced)}::bigint[]) group by 1) m
      where t.id = m.id and t.synced_seq < m.seq`;
  }
  if (cancel.length) {
    const cancelled = await tx`
      update outreach_tasks t
      set status = 'cancelled', cancelled_at = ${now}::timestamptz, version = t.version + 1, updated_at = ${now}::timestamptz,
          cancel_reason = 'resolved before contact: ' || coalesce(
            (select string_agg(distinct e.resolution, '; ') from exceptions e where e.outreach_task_id = t.id), 'exceptions resolved')
      where t.id = any(${tx.array(cancel)}::bigint[])
      returning t.id, t.version`;
    for (const c of cancelled) events.push({ taskId: Number(c.id), event: 'outreach.cancelled', version: c.version, orderId: orderOfTask.get(Number(c.id))! });
    s.tasksCancelled += cancelled.length;
  }
  // Channels receive a page's events in order id order, as if the orders had been synced one by one.
  events.sort((a, b) => a.orderId - b.orderId);
  return queueDeliveries(tx, config, events, now);
}

export const syncOutreachJob = defineJob({
  name: 'sync-outreach',
  queue: 'outreach',
  payload: z.object({ slot: z.string().optional() }),
  schedule: (c) => c.jobs.syncOutreach.schedule,
  cycleOrder: 30,
  async handle(_payload, deps, ctx) {
    const s = await syncOutreach(deps, ctx.enqueue, ctx.signal);
    deps.metrics.outreach.inc({ action: 'created' }, s.tasksCreated);
    deps.metrics.outreach.inc({ action: 'updated' }, s.tasksUpdated);
    deps.metrics.outreach.inc({ action: 'cancelled' }, s.tasksCancelled);
    deps.metrics.outreach.inc({ action: 'overdue' }, s.tasksOverdue);
    return { summary: { ...s } };
  },
});
