import { z } from 'zod';
import { EXCEPTION_TYPES, SEVERITIES } from '../config/schema.js';
import { listExceptions } from '../db/queries/exception-list.js';
import type { Deps } from '../jobs/define-job.js';
import { HttpError } from './http-kit.js';

const query = z.object({
  status: z.enum(['open', 'resolved']).optional(),
  type: z.enum(EXCEPTION_TYPES).optional(),
  severity: z.enum(SEVERITIES).optional(),
  carrier: z.string().optional(),
  since: z.iso.datetime({ offset: true }).transform((s) => new Date(s)).optional(),
  cursor: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** GET /api/exceptions */
export async function getExceptions(deps: Deps, params: URLSearchParams) {
  const parsed = query.safeParse(Object.fromEntries(params));
  if (!parsed.success) {
    throw new HttpError(400, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  return listExceptions(deps.sql, parsed.data, deps.clock.now());
}
