import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { ChaseRefused, chasePolicy, endChase, listChases, registerChases } from '../db/queries/chases.js';
import type { Deps } from '../jobs/define-job.js';
import { storableString, TEXT_LIMITS } from '../ingest/text.js';
import { HttpError, isSafeIntText, sendJson } from './http-kit.js';

export const chaseBody = z
  .object({
    // Storable text only (no NUL, no lone surrogate): a bad field is a 400 naming it, never a 500.
    orderId: storableString(TEXT_LIMITS.orderId).pipe(z.string().trim().min(1)).optional(),
    trackingNo: storableString(64).pipe(z.string().trim().min(1)).optional(),
    contact: storableString(TEXT_LIMITS.customerHandle).pipe(z.string().trim().min(1)).optional(),
    channel: z.enum(['webhook', 'sms']).optional(),
    note: storableString(TEXT_LIMITS.note).optional(),
  })
  .refine((b) => !b.orderId !== !b.trackingNo, { message: 'give exactly one of orderId or trackingNo' });

const STATUS_OF: Record<ChaseRefused['kind'], number> = {
  not_found: 404,
  delivered: 409,
  invalid: 400,
  channel_disabled: 422,
  contact_not_allowed: 403,
};

/** POST /api/chases — 201 when a chase was created, 200 when it already existed (idempotent per shipment+contact). */
export async function postChase(deps: Deps, body: unknown, res: ServerResponse) {
  const b = chaseBody.safeParse(body);
  if (!b.success) throw new HttpError(400, b.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  try {
    const r = await registerChases(deps.sql, b.data, chasePolicy(deps.config), deps.clock.now());
    sendJson(res, r.created > 0 ? 201 : 200, r);
    return r;
  } catch (err) {
    if (err instanceof ChaseRefused) throw new HttpError(STATUS_OF[err.kind], err.message);
    throw err;
  }
}

const listQuery = z.object({
  status: z.enum(['active', 'ended']).optional(),
  orderId: z.string().min(1).optional(),
  cursor: z.string().regex(/^\d+$/).refine(isSafeIntText, 'is not a chase id').optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** GET /api/chases — newest first; keyset cursor = the last id of the page. */
export async function getChases(deps: Deps, params: URLSearchParams) {
  const q = listQuery.safeParse(Object.fromEntries(params));
  if (!q.success) throw new HttpError(400, q.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const rows = await listChases(deps.sql, {
    status: q.data.status,
    orderId: q.data.orderId,
    beforeId: q.data.cursor ? Number(q.data.cursor) : undefined,
    limit: q.data.limit + 1,
  });
  const items = rows.slice(0, q.data.limit);
  return { items, nextCursor: rows.length > q.data.limit ? String(items.at(-1)!.id) : null };
}

/** DELETE /api/chases/:id — ends the chase (reason removed); it stays queryable as ended. */
export async function deleteChase(deps: Deps, id: number) {
  const v = await endChase(deps.sql, id, 'removed', deps.clock.now());
  if (!v) throw new HttpError(404, `chase ${id} not found`);
  return v;
}
