import { z } from 'zod';
import { normalizeCarrier } from '../carriers/carrier-codes.js';
import { showShipments } from '../db/queries/shipment-view.js';
import type { Deps } from '../jobs/define-job.js';
import { HttpError } from './http-kit.js';

/**
 * A tracking number as given on a path or the command line. No stored number is this long or carries a
 * control character (Postgres refuses NUL in text), so such input is simply unknown: no query is sent.
 */
export function plausibleTrackingNo(s: string): boolean {
  return s.length > 0 && s.length <= 100 && !/[\u0000-\u001f]/.test(s);
}

const query = z.object({
  carrier: z
    .string()
    .transform((v, ctx) => {
      const code = normalizeCarrier(v);
      if (code) return code;
      ctx.addIssue({ code: 'custom', message: `unknown carrier ${JSON.stringify(v)}` });
      return z.NEVER;
    })
    .optional(),
});

/** GET /api/shipments/:trackingNo — one item per carrier holding the number; 404 when none does. */
export async function getShipment(deps: Deps, encodedTrackingNo: string, params: URLSearchParams) {
  let trackingNo: string;
  try {
    trackingNo = decodeURIComponent(encodedTrackingNo).trim();
  } catch {
    throw new HttpError(400, `tracking number ${JSON.stringify(encodedTrackingNo)} is not valid percent-encoding`);
  }
  const q = query.safeParse(Object.fromEntries(params));
  if (!q.success) throw new HttpError(400, q.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const items = plausibleTrackingNo(trackingNo) ? await showShipments(deps.sql, trackingNo, { carrier: q.data.carrier }) : [];
  if (items.length === 0) throw new HttpError(404, `tracking number ${JSON.stringify(trackingNo)} not found${q.data.carrier ? ` for carrier ${q.data.carrier}` : ''}`);
  return { items };
}
