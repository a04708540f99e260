import { z } from 'zod';
import { EXCEPTION_TYPES, SEVERITIES } from '../config/schema.js';
import { BadCursor, EXCEPTION_SORTS, listExceptions } from '../db/queries/exception-list.js';
import type { Deps } from '../jobs/define-job.js';
import { HttpError } from './http-kit.js';

const query = z.object({
  status: z.enum(['open', 'resolved']).optional(),
  type: z.enum(EXCEPTION_TYPES).optional(),
  severity: z.enum(SEVERITIES).optional(),
  carrier: z.string().optional(),
  since: z.iso.datetime({ offset: true }).transform((s) => new Date(s)).optional(),
  sort: z.enum(EXCEPTION_SORTS).optional(),
  cursor: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** GET /api/exceptions */
export async function getExceptions(deps: Deps, params: URLSearchParams) {
  const parsed = query.safeParse(Object.fromEntries(params));
  if (!parsed.success) {
    throw new HttpError(400, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  try {
    return await listExceptions(deps.sql, parsed.data, deps.clock.now());
  } catch (err) {
    // A cursor from another sort, or typed by hand, is the caller's mistake (400), and a cast of a forged key
    // value fails in Postgres (22P02/22007/22008): also the caller's.
    if (err instanceof BadCursor) throw new HttpError(400, err.message);
    if (['22P02', '22007', '22008', '22003'].includes((err as { code?: string }).code ?? '')) throw new HttpError(400, 'cursor: not a cursor of this list');
    throw err;
  }
}
