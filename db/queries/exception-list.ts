import { SEVERITIES } from '../../config/schema.js';
import type { Sql } from '../client.js';

/** Orders of the list. Every one pages over the whole filtered set (keyset), not just the page in hand. */
export const EXCEPTION_SORTS = ['newest', 'oldest', 'severity', 'penalty', 'deadline'] as const;
export type ExceptionSort = (typeof EXCEPTION_SORTS)[number];

export interface ExceptionFilter {
  status?: 'open' | 'resolved';
  type?: string;
  severity?: string;
  carrier?: string;
  since?: Date;
  /** Default newest (by id, which is opening order). */
  sort?: ExceptionSort;
  /** Keyset cursor from the previous page's nextCursor (opaque; for newest/oldest it is the last id). */
  cursor?: string;
  limit: number;
}

export interface ExceptionItem {
  id: number;
  orderId: string;
  platform: string;
  trackingNo: string | null;
  carrier: string | null;
  type: string;
  severity: string;
  status: string;
  openedAt: string;
  escalatedAt: string | null;
  resolvedAt: string | null;
  resolution: string | null;
  deadlineAt: string | null;
  penaltyYuan: number | null;
  details: Record<string, unknown>;
  customer: { name: string | null; phone: string | null; handle: string | null };
  lastEvent: string | null;
  lastEventAt: string | null;
  lastHub: string | null;
  ageHours: number;
  hoursToDeadline: number | null;
  outreachTaskId: number | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const round1 = (n: number) => Math.round(n * 10) / 10;

/**
 * A sort: the key it orders by (besides id, which breaks ties and keeps pages disjoint), its direction, and
 * the SQL type the key's text form is read back as from a cursor. Null keys sort as the least urgent.
 */
const SORT_KEYS: Record<Exclude<ExceptionSort, 'newest' | 'oldest'>, { key: string; dir: 'asc' | 'desc'; cast: string }> = {
  // Most severe first: the position in the vocabulary (info … breach).
  severity: { key: `array_position(array['${SEVERITIES.join("','")}']::text[], e.severity::text)`, dir: 'desc', cast: 'int' },
  // Largest expected penalty first (the 72-hour rule's 5 %, capped); none last.
  penalty: { key: 'coalesce(e.penalty_yuan, -1)', dir: 'desc', cast: 'numeric' },
  // Nearest deadline first; no deadline last.
  deadline: { key: "coalesce(e.deadline_at, 'infinity'::timestamptz)", dir: 'asc', cast: 'timestamptz' },
};

export class BadCursor extends Error {}

/** Ages are measured against `now` (the injected clock). */
export async function listExceptions(sql: Sql, f: ExceptionFilter, now: Date): Promise<{ items: ExceptionItem[]; nextCursor: string | null }> {
  const sort = f.sort ?? 'newest';
  const keyed = sort === 'newest' || sort === 'oldest' ? null : SORT_KEYS[sort];
  let after = sql``;
  if (f.cursor) {
    if (!keyed) {
      const id = Number(f.cursor);
      if (!Number.isSafeInteger(id) || id < 1) throw new BadCursor('cursor: not a cursor of this list');
      after = sort === 'newest' ? sql`and e.id < ${id}` : sql`and e.id > ${id}`;
    } else {
      const [value, id] = decodeCursor(f.cursor);
      const cmp = keyed.dir === 'desc' ? sql`<` : sql`>`;
      // ::text first: the parameter must reach Postgres as text ('infinity' is not a JS Date), then its type.
      after = sql`and (${sql.unsafe(keyed.key)}, e.id) ${cmp} (${value}::text::${sql.unsafe(keyed.cast)}, ${id})`;
    }
  }
  const order = keyed
    ? sql.unsafe(`${keyed.key} ${keyed.dir}, e.id ${keyed.dir}`)
    : sql.unsafe(sort === 'newest' ? 'e.id desc' : 'e.id asc');
  const rows = await sql`
    select e.*, o.external_id, o.platform, o.customer_name, o.customer_phone, o.customer_handle,
           s.tracking_no, s.carrier, s.last_event_text, s.last_event_at, s.last_hub
           ${keyed ? sql`, (${sql.unsafe(keyed.key)})::text as sort_key` : sql``}
    from exceptions e
    join orders o on o.id = e.order_id
    left join shipments s on s.id = e.shipment_id
    where true
      ${f.status ? sql`and e.status = ${f.status}` : sql``}
      ${f.type ? sql`and e.type = ${f.type}` : sql``}
      ${f.severity ? sql`and e.severity = ${f.severity}` : sql``}
      ${f.carrier ? sql`and s.carrier = ${f.carrier}` : sql``}
      ${f.since ? sql`and e.opened_at >= ${f.since}` : sql``}
      ${after}
    order by ${order}
    limit ${f.limit + 1}`;
  const page = rows.slice(0, f.limit);
  const items = page.map((r) => ({
    id: Number(r.id),
    orderId: r.external_id,
    platform: r.platform,
    trackingNo: r.tracking_no ?? null,
    carrier: r.carrier ?? null,
    type: r.type,
    severity: r.severity,
    status: r.status,
    openedAt: r.opened_at.toISOString(),
    escalatedAt: iso(r.escalated_at),
    resolvedAt: iso(r.resolved_at),
    resolution: r.resolution,
    deadlineAt: iso(r.deadline_at),
    penaltyYuan: r.penalty_yuan === null ? null : Number(r.penalty_yuan),
    details: r.details,
    customer: { name: r.customer_name, phone: r.customer_phone, handle: r.customer_handle },
    lastEvent: r.last_event_text ?? null,
    lastEventAt: iso(r.last_event_at ?? null),
    lastHub: r.last_hub ?? null,
    ageHours: round1((now.getTime() - r.opened_at.getTime()) / 3_600_000),
    hoursToDeadline: r.deadline_at ? round1((r.deadline_at.getTime() - now.getTime()) / 3_600_000) : null,
    outreachTaskId: r.outreach_task_id === null ? null : Number(r.outreach_task_id),
  }));
  if (rows.length <= f.limit) return { items, nextCursor: null };
  const last = page.at(-1)!;
  return { items, nextCursor: keyed ? encodeCursor(String(last.sort_key), Number(last.id)) : String(Number(last.id)) };
}

// A keyed cursor carries the last row's sort key (as Postgres printed it) and id, base64url-encoded JSON.
function encodeCursor(value: string, id: number): string {
  return Buffer.from(JSON.stringify([value, id])).toString('base64url');
}

function decodeCursor(cursor: string): [string, number] {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && v[0].length <= 64 && Number.isSafeInteger(v[1])) return [v[0], v[1] as number];
  } catch {
    // falls through to the error below
  }
  throw new BadCursor('cursor: not a cursor of this list (it belongs to the sort it came from)');
}
