import { z } from 'zod';
import { normalizeCarrier } from '../carriers/carrier-codes.js';
import { PLATFORMS } from '../config/schema.js';
import type { OrderRows } from '../db/queries/orders.js';

/** ISO-8601 with an explicit offset or Z: order times must be unambiguous. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;
const TRACKING_NO = /^[A-Za-z0-9-]{5,40}$/;
const CURRENCY = /^[A-Z]{3}$/;
const ORDER_TYPES = ['normal', 'presale', 'custom'] as const;
const MAX_AMOUNT = 10_000_000;

const isoInstant = z
  .string()
  .regex(ISO_INSTANT, 'must be ISO-8601 with an offset, e.g. 2026-11-11T00:05:00+08:00')
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
  // A carrier outside the table (or none) is not a reason to leave a parcel unwatched: the text is kept as
  // given, the answer carries a warning (carrierWarnings), and the carrier is detected from the number.
  carrier: z
    .string()
    .nullish()
    .transform((v) => {
      const t = (v ?? '').trim();
      return normalizeCarrier(t) ?? t;
    }),
  trackingNo: z
    .union([z.string(), z.number()])
    .transform((v) => String(v).trim())
    .pipe(z.string().regex(TRACKING_NO, 'must be 5–40 letters, digits or -')),
  markedShippedAt: isoInstant.optional().nullable(),
});

/** One order as POSTed to /api/orders or read from an NDJSON/CSV import. */
export const orderInput = z.object({
  orderId: z
    .union([z.string(), z.number()])
    .transform((v) => String(v).trim())
    .pipe(z.string().min(1, 'is required').max(64)),
  platform: z.enum(PLATFORMS).default('taobao'),
  type: z.enum(ORDER_TYPES).default('normal'),
  paidAt: isoInstant,
  promisedShipBy: isoInstant.optional().nullable(),
  amount: z.coerce.number().nonnegative().max(MAX_AMOUNT).default(0),
  currency: z.string().regex(CURRENCY).default('CNY'),
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

/** Per-parcel warnings of an accepted order: carriers the table does not know (detected later from the number). */
export function carrierWarnings(order: OrderInput): string[] {
  const out: string[] = [];
  order.shipments.forEach((s, i) => {
    if (normalizeCarrier(s.carrier)) return;
    const what = s.carrier ? `unknown carrier ${JSON.stringify(s.carrier)}` : 'no carrier';
    out.push(`shipments.${i}.carrier: ${what}; accepted, the carrier will be detected from trackingNo ${s.trackingNo}`);
  });
  return out;
}

export type ParsedOrder = { ok: true; order: OrderInput } | { ok: false; orderId: string | null; errors: string[] };

export function parseOrder(raw: unknown): ParsedOrder {
  const r = orderInput.safeParse(raw);
  if (r.success) return { ok: true, order: r.data };
  const id = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>).orderId : undefined;
  return { ok: false, orderId: id === undefined || id === null ? null : String(id), errors: describeIssues(r.error) };
}

/**
 * The columns of one flat order row (the CSV import's columns, in order): one row per parcel, the order's
 * columns repeated on each; an order with no parcel has empty carrier and trackingNo.
 */
export const FLAT_ORDER_COLUMNS = [
  'orderId',
  'platform',
  'type',
  'paidAt',
  'promisedShipBy',
  'amount',
  'currency',
  'customerName',
  'customerPhone',
  'customerHandle',
  'carrier',
  'trackingNo',
  'markedShippedAt',
] as const;

const blank = (v: string | undefined) => {
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
};

/** A flat row (column name → cell, absent = undefined) as the nested input `orderInput` validates. */
export function flatRowToOrder(r: Partial<Record<(typeof FLAT_ORDER_COLUMNS)[number], string>>): unknown {
  return {
    orderId: blank(r.orderId),
    platform: blank(r.platform),
    type: blank(r.type),
    paidAt: blank(r.paidAt),
    promisedShipBy: blank(r.promisedShipBy),
    amount: blank(r.amount),
    currency: blank(r.currency),
    customer: { name: blank(r.customerName), phone: blank(r.customerPhone), handle: blank(r.customerHandle) },
    shipments:
      blank(r.trackingNo) || blank(r.carrier)
        ? [{ carrier: r.carrier ?? '', trackingNo: r.trackingNo ?? '', markedShippedAt: blank(r.markedShippedAt) }]
        : [],
  };
}

const PLATFORM_SET: ReadonlySet<string> = new Set(PLATFORMS);
const TYPE_SET: ReadonlySet<string> = new Set(ORDER_TYPES);

/** Cell `k` (a FLAT_ORDER_COLUMNS index) of a row, undefined when the file has no such column or the row ends before it. */
function cell(cells: readonly string[], col: readonly number[], k: number): string | undefined {
  const i = col[k]!;
  return i >= 0 && i < cells.length ? cells[i] : undefined;
}

const CANONICAL_UTC = 'dddd-dd-ddTdd:dd:dd.dddZ'; // what toISOString gives; d = a digit
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const two = (s: string, i: number) => (s.charCodeAt(i) - 48) * 10 + s.charCodeAt(i + 1) - 48;

/** `s` is already `new Date(s).toISOString()`: the canonical UTC form with every field in range (Date would roll 02-30 over). */
function isCanonicalUtc(s: string): boolean {
  if (s.length !== 24) return false;
  for (let i = 0; i < 24; i++) {
    const c = s.charCodeAt(i);
    const want = CANONICAL_UTC.charCodeAt(i);
    if (want === 100 ? c < 48 || c > 57 : c !== want) return false;
  }
  const year = two(s, 0) * 100 + two(s, 2);
  const month = two(s, 5);
  const day = two(s, 8);
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 1 : 0;
  return month >= 1 && month <= 12 && day >= 1 && day <= DAYS_IN_MONTH[month - 1]! + leap && two(s, 11) < 24 && two(s, 14) < 60 && two(s, 17) < 60;
}

/** `new Date(s).toISOString()` for an instant the schema accepts, else null. */
function isoOf(s: string): string | null {
  if (isCanonicalUtc(s)) return s; // an ERP export's usual form: no Date to make
  if (!ISO_INSTANT.test(s)) return null;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/**
 * The fast path of `parseOrder(flatRowToOrder(row))` for a flat row given as its cells and the position of each
 * FLAT_ORDER_COLUMNS column among them (-1: no such column): when it is sure the schema accepts the row, it adds
 * to `rows` exactly what `rows.add(order)` adds for the schema's order, and returns true. It returns false (adding
 * nothing) for anything it is not sure of — every invalid row, and valid ones it does not bother with — and the
 * caller then runs the schema for the result and its messages. It spends a fraction of the schema's time and
 * makes no object per row. ingest/order-input.test.ts checks the equivalence.
 */
export function addFlatOrderFast(cells: readonly string[], col: readonly number[], rows: OrderRows, source: number): boolean {
  const orderId = blank(cell(cells, col, 0));
  if (orderId === undefined || orderId.length > 64) return false;
  const platform = blank(cell(cells, col, 1)) ?? 'taobao';
  if (!PLATFORM_SET.has(platform)) return false;
  const type = blank(cell(cells, col, 2)) ?? 'normal';
  if (!TYPE_SET.has(type)) return false;
  const paidText = blank(cell(cells, col, 3));
  const paidAt = paidText === undefined ? null : isoOf(paidText);
  if (paidAt === null) return false;
  const promisedText = blank(cell(cells, col, 4));
  let promisedShipBy: string | null = null;
  if (promisedText !== undefined) {
    promisedShipBy = isoOf(promisedText);
    if (promisedShipBy === null) return false;
  }
  const amountText = blank(cell(cells, col, 5));
  let amount = 0;
  if (amountText !== undefined) {
    amount = Number(amountText);
    if (!Number.isFinite(amount) || amount < 0 || amount > MAX_AMOUNT) return false;
  }
  const currency = blank(cell(cells, col, 6)) ?? 'CNY';
  if (!CURRENCY.test(currency)) return false;
  const carrierCell = cell(cells, col, 10);
  const trackingCell = cell(cells, col, 11);
  let carrier: string | null = null;
  let trackingNo: string | null = null;
  let markedShippedAt: string | null = null;
  if (blank(trackingCell) !== undefined || blank(carrierCell) !== undefined) {
    carrier = normalizeCarrier(carrierCell ?? '');
    if (!carrier) return false;
    trackingNo = (trackingCell ?? '').trim();
    if (!TRACKING_NO.test(trackingNo)) return false;
    const markedText = blank(cell(cells, col, 12));
    if (markedText !== undefined) {
      markedShippedAt = isoOf(markedText);
      if (markedShippedAt === null) return false;
    }
  }
  rows.push(
    platform,
    orderId,
    type,
    paidAt,
    promisedShipBy,
    String(amount),
    currency,
    blank(cell(cells, col, 7)) ?? null,
    blank(cell(cells, col, 8)) ?? null,
    blank(cell(cells, col, 9)) ?? null,
    carrier,
    trackingNo,
    markedShippedAt,
    source,
  );
  return true;
}
