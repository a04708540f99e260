import { systemClock } from '../domain/clock.js';
import { z } from 'zod';
import { normalizeCarrier } from '../carriers/carrier-codes.js';
import { PLATFORMS } from '../config/schema.js';
import type { Config } from '../config/schema.js';
import type { OrderRows } from '../db/queries/orders.js';
import { storableString, TEXT_LIMITS, textProblem } from './text.js';

/** ISO-8601 with an explicit offset or Z: order times must be unambiguous. */
const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(?:Z|([+-])(\d{2}):?(\d{2}))$/;
const TRACKING_NO = /^[A-Za-z0-9-]{5,40}$/;
const CURRENCY = /^[A-Z]{3}$/;
const ORDER_TYPES = ['normal', 'presale', 'custom'] as const;
const MAX_AMOUNT = 10_000_000;
/** An amount as text: digits with at most two decimals (fen). No sign, exponent, hex, thousands separator. */
const PLAIN_DECIMAL = /^\d{1,12}(\.\d{1,2})?$/;
const DAY_MS = 86_400_000;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const daysIn = (year: number, month: number) =>
  DAYS_IN_MONTH[month - 1]! + (month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 1 : 0);

/**
 * The instant an ISO-8601 text with an offset names, or why it names none. Every field is checked against the
 * calendar first: Date itself rolls `2026-02-30` over to March 2 and `T24:00` to the next day.
 */
export function parseInstant(s: string): Date | string {
  const m = ISO_INSTANT.exec(s);
  if (!m) return 'must be ISO-8601 with an offset, e.g. 2026-11-11T00:05:00+08:00';
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number, number];
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return `is not a calendar date (${m[1]}-${m[2]}-${m[3]})`;
  if (hour > 23 || minute > 59 || second > 59) return 'is not a time of day (hours 00–23, minutes and seconds 00–59)';
  let offsetMin = 0;
  if (m[8] !== undefined) {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 14 || om > 59) return `has an offset out of range (${m[8]}${m[9]}:${m[10]}; at most ±14:00)`;
    offsetMin = (m[8] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const ms = m[7] === undefined ? 0 : Math.floor(Number(`0${m[7]}`) * 1000);
  const d = new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMin * 60_000);
  if (year < 100) d.setUTCFullYear(year, month - 1, day); // Date.UTC maps 0–99 to 1900–1999
  return d;
}

/** The instants an order may carry, relative to the wall-clock time of receipt (see config `input`). */
export interface InputLimits {
  earliest: Date;
  /** Receipt time plus the allowed clock skew: nothing paid or shipped after it. */
  latest: Date;
  promiseWithinMs: number;
  /** The two bounds as toISOString gives them: the import's fast path compares its ISO strings directly. */
  earliestIso: string;
  latestIso: string;
}

/**
 * Limits for orders received now. Wall time, not the injected clock, on purpose: the question is whether the
 * sending system's instant can be real at the moment we receive it, and what the daemon learns is usable at any
 * replay instant (a replay in the past must not refuse an order paid an hour ago).
 */
// Wall time on purpose: what the API or an import learns is judged against the moment it arrives, whatever
// instant a replay judges (shared/README contract note), so it comes from the wall clock, not the injected one.
export function inputLimits(c: Config['input'], wallNow: Date = systemClock.now()): InputLimits {
  const earliest = new Date(c.earliestPaidAt);
  const latest = new Date(wallNow.getTime() + c.futureSkewMinutes * 60_000);
  return { earliest, latest, promiseWithinMs: c.promiseWithinDays * DAY_MS, earliestIso: earliest.toISOString(), latestIso: latest.toISOString() };
}

// A missing instant says so plainly: an export's unpaid order (empty 订单付款时间) is the usual case, and zod's
// own "Invalid input: expected string, received undefined" means nothing to a shop.
const isoInstant = z.string({ error: (iss) => (iss.input === undefined ? 'is required' : undefined) }).transform((s, ctx) => {
  const d = parseInstant(s);
  if (typeof d === 'string') {
    ctx.addIssue({ code: 'custom', message: d });
    return z.NEVER;
  }
  return d;
});

/** Free text: a string (or a number, as spreadsheets give ids and phones), trimmed, storable, capped at `max`. */
const text = (max: number) =>
  z
    .union([z.string(), z.number()])
    .transform((v) => String(v).trim())
    .pipe(storableString(max));

const optionalText = (max: number) =>
  text(max)
    .optional()
    .nullable()
    .transform((v) => (v ? v : null));

/** A short description of a refused value for a message (never the whole value). */
function shown(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return v === '' ? 'an empty string' : JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}…` : v);
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

/** Yuan: a JSON number or a plain decimal string ("12.50"); absent = 0. `null`, booleans, "", "1e3", "0x10" are refused. */
const amount = z.unknown().optional().transform((v, ctx) => {
  if (v === undefined) return 0;
  const t = typeof v === 'string' ? v.trim() : null;
  const n = typeof v === 'number' ? v : t !== null && PLAIN_DECIMAL.test(t) ? Number(t) : NaN;
  if (!Number.isFinite(n)) {
    ctx.addIssue({ code: 'custom', message: `must be a number or a plain decimal string such as "12.50", got ${shown(v)}` });
    return z.NEVER;
  }
  if (n < 0 || n > MAX_AMOUNT) {
    ctx.addIssue({ code: 'custom', message: `must be between 0 and ${MAX_AMOUNT}, got ${n}` });
    return z.NEVER;
  }
  return n;
});

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

/**
 * One order as POSTed to /api/orders or read from an NDJSON/CSV import: its shape and each field alone. The
 * instants' window (which depends on the time of receipt) is `checkInstants`; `parseOrder` applies both.
 */
export const orderInput = z.object({
  orderId: text(TEXT_LIMITS.orderId).pipe(z.string().min(1, 'is required')),
  platform: z.enum(PLATFORMS).default('taobao'),
  type: z.enum(ORDER_TYPES).default('normal'),
  paidAt: isoInstant,
  promisedShipBy: isoInstant.optional().nullable(),
  amount,
  currency: z.string().regex(CURRENCY).default('CNY'),
  customer: z
    .object({
      name: optionalText(TEXT_LIMITS.customerName),
      phone: optionalText(TEXT_LIMITS.customerPhone),
      handle: optionalText(TEXT_LIMITS.customerHandle),
    })
    .default({ name: null, phone: null, handle: null }),
  shipments: z.array(shipmentInput).max(50).default([]),
});

export type OrderInput = z.infer<typeof orderInput>;

/**
 * The window checks of a well-formed order, as "field: problem" messages: paid between the configured earliest
 * instant and receipt (plus skew), each parcel marked shipped between payment and receipt, the promise between
 * payment and payment + promiseWithinDays. An instant outside them is a typo or a placeholder (9999-12-31), and
 * one such order made every detection sweep fail on date arithmetic beyond year 9999.
 */
export function checkInstants(o: OrderInput, l: InputLimits): string[] {
  const out: string[] = [];
  const paid = o.paidAt.getTime();
  if (paid < l.earliest.getTime()) out.push(`paidAt: is before ${l.earliestIso}, the earliest accepted payment (config input.earliestPaidAt)`);
  if (paid > l.latest.getTime()) out.push(`paidAt: is in the future (after ${l.latestIso}, receipt time plus input.futureSkewMinutes)`);
  if (o.promisedShipBy) {
    const p = o.promisedShipBy.getTime();
    if (p < paid) out.push('promisedShipBy: is before paidAt');
    else if (p > paid + l.promiseWithinMs) out.push(`promisedShipBy: is more than ${l.promiseWithinMs / DAY_MS} days after paidAt (config input.promiseWithinDays)`);
  }
  o.shipments.forEach((s, i) => {
    const t = s.markedShippedAt?.getTime();
    if (t === undefined) return;
    if (t < paid) out.push(`shipments.${i}.markedShippedAt: is before paidAt`);
    else if (t > l.latest.getTime()) out.push(`shipments.${i}.markedShippedAt: is in the future (after ${l.latestIso})`);
  });
  return out;
}

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

export function parseOrder(raw: unknown, limits: InputLimits): ParsedOrder {
  const r = orderInput.safeParse(raw);
  const errors = r.success ? checkInstants(r.data, limits) : describeIssues(r.error);
  if (r.success && errors.length === 0) return { ok: true, order: r.data };
  const id = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>).orderId : undefined;
  const orderId = typeof id === 'string' || typeof id === 'number' ? String(id) : null;
  // The id is echoed back in the answer and the errors file: only when it could be stored itself.
  return { ok: false, orderId: orderId !== null && textProblem(orderId, TEXT_LIMITS.orderId) === null ? orderId : null, errors };
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
  return month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month) && two(s, 11) < 24 && two(s, 14) < 60 && two(s, 17) < 60;
}

/** The instant as toISOString gives it, for an instant the schema accepts, else null. */
function isoOf(s: string): string | null {
  if (isCanonicalUtc(s)) return s; // an ERP export's usual form: no Date to make
  const d = parseInstant(s);
  return typeof d === 'string' || d.getUTCFullYear() < 1000 || d.getUTCFullYear() > 9999 ? null : d.toISOString();
}

/** A cell of free text as the schema would store it (trimmed, blank = null), or undefined when the schema refuses it. */
function freeText(v: string | undefined, max: number): string | null | undefined {
  const t = blank(v);
  if (t === undefined) return null;
  return textProblem(t, max) === null ? t : undefined;
}

/**
 * The fast path of `parseOrder(flatRowToOrder(row))` for a flat row given as its cells and the position of each
 * FLAT_ORDER_COLUMNS column among them (-1: no such column): when it is sure the schema accepts the row, it adds
 * to `rows` exactly what `rows.add(order)` adds for the schema's order, and returns true. It returns false (adding
 * nothing) for anything it is not sure of — every invalid row, and valid ones it does not bother with — and the
 * caller then runs the schema for the result and its messages. It spends a fraction of the schema's time and
 * makes no object per row. ingest/order-input.test.ts checks the equivalence.
 */
export function addFlatOrderFast(cells: readonly string[], col: readonly number[], rows: OrderRows, source: number, limits: InputLimits): boolean {
  const orderId = freeText(cell(cells, col, 0), TEXT_LIMITS.orderId);
  if (!orderId) return false;
  const platform = blank(cell(cells, col, 1)) ?? 'taobao';
  if (!PLATFORM_SET.has(platform)) return false;
  const type = blank(cell(cells, col, 2)) ?? 'normal';
  if (!TYPE_SET.has(type)) return false;
  const paidText = blank(cell(cells, col, 3));
  const paidAt = paidText === undefined ? null : isoOf(paidText);
  // Canonical ISO strings of four-digit years compare as their instants do.
  if (paidAt === null || paidAt < limits.earliestIso || paidAt > limits.latestIso) return false;
  const promisedText = blank(cell(cells, col, 4));
  let promisedShipBy: string | null = null;
  if (promisedText !== undefined) {
    promisedShipBy = isoOf(promisedText);
    if (promisedShipBy === null || promisedShipBy < paidAt || Date.parse(promisedShipBy) - Date.parse(paidAt) > limits.promiseWithinMs) return false;
  }
  const amountText = blank(cell(cells, col, 5));
  let amount = 0;
  if (amountText !== undefined) {
    if (!PLAIN_DECIMAL.test(amountText)) return false;
    amount = Number(amountText);
    if (amount > MAX_AMOUNT) return false;
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
      if (markedShippedAt === null || markedShippedAt < paidAt || markedShippedAt > limits.latestIso) return false;
    }
  }
  const name = freeText(cell(cells, col, 7), TEXT_LIMITS.customerName);
  const phone = freeText(cell(cells, col, 8), TEXT_LIMITS.customerPhone);
  const handle = freeText(cell(cells, col, 9), TEXT_LIMITS.customerHandle);
  if (name === undefined || phone === undefined || handle === undefined) return false;
  rows.push(
    platform,
    orderId,
    type,
    paidAt,
    promisedShipBy,
    String(amount),
    currency,
    name,
    phone,
    handle,
    carrier,
    trackingNo,
    markedShippedAt,
    source,
  );
  return true;
}
