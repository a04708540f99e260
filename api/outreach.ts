import { z } from 'zod';
import { EXCEPTION_TYPES } from '../config/schema.js';
import { loadTaskViews } from '../db/queries/outreach.js';
import { queueDeliveries } from '../jobs/sync-outreach.js';
import type { Deps, FollowUp } from '../jobs/define-job.js';
import { storableString, TEXT_LIMITS } from '../ingest/text.js';
import { HttpError, isSafeIntText } from './http-kit.js';

const listQuery = z.object({
  status: z.enum(['open', 'claimed', 'done', 'cancelled']).optional(),
  agent: z.string().optional(),
  type: z.enum(EXCEPTION_TYPES).optional(),
  /** The marketplace order id: the tasks of one order (the console's parcel timeline). */
  orderId: z.string().min(1).optional(),
  cursor: z
    .string()
    .regex(/^-?\d+_\d+_\d+$/)
    .refine((c) => c.split('_').every(isSafeIntText), 'has a part beyond a safe integer')
    .optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** GET /api/outreach — priority first, then due time; keyset cursor "priority_dueMs_id". */
export async function listOutreach(deps: Deps, params: URLSearchParams) {
  const q = listQuery.safeParse(Object.fromEntries(params));
  if (!q.success) throw new HttpError(400, q.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const cursor = q.data.cursor?.split('_').map(Number);
  const items = await loadTaskViews(
    deps.sql,
    {
      status: q.data.status,
      agent: q.data.agent,
      type: q.data.type,
      orderId: q.data.orderId,
      cursor: cursor ? { priority: cursor[0]!, dueBy: new Date(cursor[1]!), id: cursor[2]! } : undefined,
      limit: q.data.limit + 1,
    },
    deps.clock.now(),
  );
  const page = items.slice(0, q.data.limit);
  const last = page.at(-1);
  return { items: page, nextCursor: items.length > q.data.limit && last ? `${last.priority}_${new Date(last.dueBy).getTime()}_${last.id}` : null };
}

const claimBody = z.object({ agent: storableString(TEXT_LIMITS.agent).pipe(z.string().min(1, 'required')) });
const completeBody = z.object({
  outcome: storableString(TEXT_LIMITS.note).pipe(z.string().min(1)),
  note: storableString(TEXT_LIMITS.note).optional(),
  compensationYuan: z.number().nonnegative().optional(),
});
const issues = (e: z.ZodError) => e.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');

async function current(deps: Deps, id: number) {
  const [t] = await loadTaskViews(deps.sql, { ids: [id] }, deps.clock.now());
  if (!t) throw new HttpError(404, `outreach task ${id} not found`);
  return t;
}

/**
 * State transitions are single conditional UPDATEs: two agents claiming at once race inside Postgres and
 * exactly one wins; the loser (and any invalid transition) gets 409 with the current state.
 */
export async function transition(deps: Deps, id: number, action: string, body: unknown, enqueue: (f: FollowUp[]) => Promise<void>) {
  const now = deps.clock.now();
  let rows;
  if (action === 'claim') {
    const b = claimBody.safeParse(body);
    if (!b.success) throw new HttpError(400, issues(b.error));
    rows = await deps.sql`update outreach_tasks set status = 'claimed', agent = ${b.data.agent}, claimed_at = ${now}, updated_at = ${now}
                          where id = ${id} and status = 'open' returning id`;
  } else if (action === 'complete') {
    const b = completeBody.safeParse(body);
    if (!b.success) throw new HttpError(400, issues(b.error));
    rows = await deps.sql`update outreach_tasks set status = 'done', outcome = ${b.data.outcome}, notes = ${b.data.note ?? null},
                          compensation_yuan = ${b.data.compensationYuan ?? null}, completed_at = ${now}, updated_at = ${now}
                          where id = ${id} and status in ('open', 'claimed') returning id`;
  } else if (action === 'release') {
    rows = await deps.sql`update outreach_tasks set status = 'open', agent = null, claimed_at = null, version = version + 1, updated_at = ${now}
                          where id = ${id} and status = 'claimed' returning id, version`;
    if (rows.length) await enqueue(await queueDeliveries(deps.sql, deps.config, [{ taskId: id, event: 'outreach.updated', version: rows[0]!.version }], now));
  } else throw new HttpError(404, `unknown action ${action}`);
  const task = await current(deps, id);
  if (!rows.length) throw new HttpError(409, `cannot ${action} a task that is ${task.status}${task.agent ? ` (agent ${task.agent})` : ''}`, { task });
  return task;
}
