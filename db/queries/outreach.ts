import type { SqlOrTx } from '../client.js';
import type { OutreachTaskView } from '../../domain/outreach.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** Task views with their exceptions and the contact facts agents need, in one query. */
export async function loadTaskViews(
  sql: SqlOrTx,
  where: { ids?: number[]; status?: string; agent?: string; type?: string; orderId?: string; cursor?: { priority: number; dueBy: Date; id: number }; limit?: number },
  now: Date,
): Promise<OutreachTaskView[]> {
  const rows = await sql`
    select t.*, o.external_id, o.platform, o.customer_name, o.customer_phone, o.customer_handle,
      coalesce((select json_agg(json_build_object('id', e.id, 'type', e.type, 'severity', e.severity, 'trackingNo', s.tracking_no,
                  'status', e.status, 'carrier', s.carrier, 'lastEvent', s.last_event_text, 'lastHub', s.last_hub) order by e.id)
                from exceptions e left join shipments s on s.id = e.shipment_id where e.outreach_task_id = t.id), '[]') as excs
    from outreach_tasks t join orders o on o.id = t.order_id
    where true
      ${where.ids ? sql`and t.id = any(${sql.array(where.ids)}::bigint[])` : sql``}
      ${where.status ? sql`and t.status = ${where.status}` : sql``}
      ${where.agent ? sql`and t.agent = ${where.agent}` : sql``}
      ${where.type ? sql`and t.type = ${where.type}` : sql``}
      ${where.orderId ? sql`and o.external_id = ${where.orderId}` : sql``}
      ${where.cursor ? sql`and (-t.priority, t.due_by, t.id) > (${-where.cursor.priority}, ${where.cursor.dueBy}, ${where.cursor.id})` : sql``}
    order by t.priority desc, t.due_by, t.id
    limit ${where.limit ?? 1000}`;
  return rows.map((r) => {
    const excs = r.excs as { id: number; type: string; severity: string; trackingNo: string | null; status: string; carrier: string | null; lastEvent: string | null; lastHub: string | null }[];
    const lead = excs.find((e) => e.status === 'open' && e.type === r.type) ?? excs[0];
    return {
      id: Number(r.id),
      orderId: r.external_id,
      platform: r.platform,
      status: r.status,
      type: r.type,
      severity: r.severity,
      priority: r.priority,
      reason: r.reason,
      script: r.script,
      dueBy: r.due_by.toISOString(),
      overdue: r.status === 'open' && r.due_by.getTime() < now.getTime(),
      agent: r.agent,
      customer: { name: r.customer_name, phone: r.customer_phone, handle: r.customer_handle },
      carrier: lead?.carrier ?? null,
      trackingNo: lead?.trackingNo ?? null,
      lastEvent: lead?.lastEvent ?? null,
      lastHub: lead?.lastHub ?? null,
      exceptions: excs.map((e) => ({ id: Number(e.id), type: e.type, severity: e.severity, trackingNo: e.trackingNo, status: e.status })),
      outcome: r.outcome,
      compensationYuan: r.compensation_yuan === null ? null : Number(r.compensation_yuan),
      notes: r.notes,
      cancelReason: r.cancel_reason,
      version: r.version,
      createdAt: r.created_at.toISOString(),
      updatedAt: iso(r.updated_at)!,
    } as OutreachTaskView;
  });
}
