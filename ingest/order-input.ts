import { z } from 'zod';
import { normalizeCarrier } from '../carriers/carrier-codes.js';
import { PLATFORMS } from '../config/schema.js';

/** ISO-8601 with an explicit offset or Z: order times must be unambiguous. */
const isoInstant = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/, 'must be ISO-8601 with an offset, e.g. 2026-11-11T00:05:00+08:00')
  .transform((s, ctx) => {
    const d = new Date(s);
    if (Number.isNaN(d.getTime())) {
      ctx.addIssue({ code: 'custom', message: 'is not a valid instant' });
      return z.NEVER;
    }
    return d;
  });

const optionalText = z
  .union([z.string(), z.number()])
  .transform((v) => String(v).trim())
  .optional()
  .nullable()
  .transform((v) => (v ? v : null));

const shipmentInput = z.object({
  carrier: z.string().transform((v, ctx) => {
    const code = normalizeCarrier(v);
    if (!code) {
      ctx.addIssue({ code: 'custom', message: `unknown carrier ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return code;
  }),
  trackingNo: z
    .union([z.string(), z.number()])
    .transform((v) => String(v).trim())
    .pipe(z.string().regex(/^[A-Za-z0-9-]{5,40}$/, 'must be 5–40 letters, digits or -')),
  markedShippedAt: isoInstant.optional().nullable(),
});

/** One order as POSTed to /api/orders or read from an NDJSON/CSV import. */
export const orderInput = z.object({
  orderId: z
    .union([z.string(), z.number()])
    .transform((v) => String(v).trim())
    .pipe(z.string().min(1, 'is required').max(64)),
  platform: z.enum(PLATFORMS).default('taobao'),
  type: z.enum(['normal', 'presale', 'custom']).default('normal'),
  paidAt: isoInstant,
  promisedShipBy: isoInstant.optional().nullable(),
  amount: z.coerce.number().nonnegative().max(10_000_000).default(0),
  currency: z.string().regex(/^[A-Z]{3}$/).default('CNY'),
  customer: z
    .object({ name: optionalText, phone: optionalText, handle: optionalText })
    .default({ name: null, phone: null, handle: null }),
  shipments: z.array(shipmentInput).max(50).default([]),
});

export type OrderInput = z.infer<typeof orderInput>;

/** Validation messages as "field: problem", naming the path inside the order. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.map(String).join('.') || 'order'}: ${i.message}`);
}

export type ParsedOrder = { ok: true; order: OrderInput } | { ok: false; orderId: string | null; errors: string[] };

export function parseOrder(raw: unknown): ParsedOrder {
  const r = orderInput.safeParse(raw);
  if (r.success) return { ok: true, order: r.data };
  const id = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>).orderId : undefined;
  return { ok: false, orderId: id === undefined || id === null ? null : String(id), errors: describeIssues(r.error) };
}
