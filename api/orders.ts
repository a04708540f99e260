import type { Deps } from '../jobs/define-job.js';
import { upsertOrders } from '../db/queries/orders.js';
import { inputLimits, parseOrder, type OrderInput } from '../ingest/order-input.js';
import { conflictReason } from '../ingest/import-orders.js';
import { HttpError } from './http-kit.js';

export interface IngestAnswer {
  accepted: number;
  rejected: { index: number; orderId: string | null; errors: string[] }[];
}

/** POST /api/orders: valid orders are stored even when others in the batch are rejected. */
export async function postOrders(deps: Deps, body: unknown): Promise<IngestAnswer> {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { orders?: unknown }).orders)) {
    throw new HttpError(400, 'expected {"orders":[...]}');
  }
  const list = (body as { orders: unknown[] }).orders;
  if (list.length > deps.config.http.maxOrdersPerRequest) {
    throw new HttpError(413, `at most ${deps.config.http.maxOrdersPerRequest} orders per request, got ${list.length}`);
  }
  const good: OrderInput[] = [];
  const goodIndex: number[] = [];
  const rejected: IngestAnswer['rejected'] = [];
  const limits = inputLimits(deps.config.input);
  list.forEach((raw, index) => {
    const r = parseOrder(raw, limits);
    if (r.ok) {
      good.push(r.order);
      goodIndex.push(index);
    } else rejected.push({ index, orderId: r.orderId, errors: r.errors });
  });
  const result = await upsertOrders(deps.sql, good, deps.clock.now());
  let accepted = good.length;
  // An order refused for a clashing parcel was stored in no part: every item of it is rejected.
  for (const c of result.conflicts) {
    good.forEach((o, i) => {
      if (o.platform !== c.platform || o.orderId !== c.orderId) return;
      const at = o.shipments.findIndex((x) => x.carrier === c.carrier && x.trackingNo === c.trackingNo);
      rejected.push({ index: goodIndex[i]!, orderId: c.orderId, errors: [`shipments.${at === -1 ? '' : `${at}.`}trackingNo: ${conflictReason(c)}`] });
      accepted--;
    });
  }
  rejected.sort((a, b) => a.index - b.index);
  deps.metrics.ordersIngested.inc({ source: 'api' }, accepted);
  deps.metrics.ordersRejected.inc({ source: 'api' }, rejected.length);
  return { accepted, rejected };
}
