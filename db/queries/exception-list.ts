import type { Sql } from '../client.js';

export interface ExceptionFilter {
  status?: 'open' | 'resolved';
  type?: string;
  severity?: string;
  carrier?: string;
  since?: Date;
  /** Keyset cursor: the last id of the previous page. */
  cursor?: number;
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

/** The morning list: newest first, keyset-paged. Ages are measured against `now` (the injected clock). */
export async function listExceptions(sql: Sql, f: ExceptionFilter, now: Date): Promise<{ items: ExceptionItem[]; nextCursor: string | null }> {
  const rows = await sql`
    select e.*, o.external_id, o.platform, o.customer_name, o.customer_phone, o.customer_handle,
           s.tracking_no, s.carrier, s.last_event_text, s.last_event_at, s.last_hub
    from exceptions e
    join orders o on o.id = e.order_id
    left join shipments s on s.id = e.shipment_id
    where true
      ${f.status ? sql`and e.status = ${f.status}` : sql``}
      ${f.type ? sql`and e.type = ${f.type}` : sql``}
      ${f.severity ? sql`and e.severity = ${f.severity}` : sql``}
      ${f.carrier ? sql`and s.carrier = ${f.carrier}` : sql``}
      ${f.since ? sql`and e.opened_at >= ${f.since}` : sql``}
      ${f.cursor ? sql`and e.id < ${f.cursor}` : sql``}
    order by e.id desc
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
  return { items, nextCursor: rows.length > f.limit ? String(items.at(-1)!.id) : null };
}
