import type { ExceptionType, Severity } from '../../config/schema.js';
import { formatLocal } from '../../domain/local-time.js';
import type { OutreachEvent, OutreachTaskView } from '../../domain/outreach.js';
import { maskPhone } from '../../domain/phone.js';

export const EVENT_TITLES: Record<OutreachEvent, string> = {
  'outreach.created': '新外呼任务',
  'outreach.updated': '任务更新',
  'outreach.cancelled': '任务已取消',
  'outreach.overdue': '任务超时',
};

export const SEVERITY_LABELS: Record<Severity, string> = {
  info: '提示',
  warning: '预警',
  critical: '严重',
  breach: '已违约',
};

export const TYPE_LABELS: Record<ExceptionType, string> = {
  late_shipment: '延迟发货',
  fake_shipment_risk: '虚假发货风险',
  undelivered_3d: '超3天未签收',
  tracking_stalled: '物流停滞',
  carrier_problem: '快递异常件',
  delivery_overdue: '派送超时',
  pickup_overdue: '超时未取件',
  route_overdue: '慢于线路时效',
};

const DASH = '—';

function orDash(v: string | null | undefined): string {
  return v === null || v === undefined || v.trim() === '' ? DASH : v;
}

/** Keep user-supplied text on one line so it cannot break the markdown layout. */
function oneLine(v: string): string {
  return v.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

function dueText(task: OutreachTaskView, timeZone: string): string {
  const due = new Date(task.dueBy);
  const text = Number.isNaN(due.getTime()) ? orDash(task.dueBy) : formatLocal(due, timeZone);
  return task.overdue ? `${text}（已超时）` : text;
}

/** The short title shown in notifications: "新外呼任务 · 订单 TB123". */
export function agentTitle(event: OutreachEvent, task: OutreachTaskView): string {
  return `${EVENT_TITLES[event]} · 订单 ${task.orderId}`;
}

/**
 * The zh-CN lines of an agent message (no heading), for the group robots. The customer's phone is masked
 * (138****1234) unless `showPhone`: a group chat is read by everyone in it, not only the agent who calls;
 * agents find the full number on the task (API, console, signed webhook). The number is masked wherever
 * it appears (a handle or a note may repeat it).
 */
export function agentLines(event: OutreachEvent, task: OutreachTaskView, timeZone: string, opts: { showPhone?: boolean } = {}): string[] {
  const lines = buildLines(event, task, timeZone);
  const phone = task.customer.phone?.trim();
  if (opts.showPhone || !phone) return lines;
  const masked = maskPhone(phone)!;
  return lines.map((l) => l.split(phone).join(masked));
}

function buildLines(event: OutreachEvent, task: OutreachTaskView, timeZone: string): string[] {
  const c = task.customer;
  const customer = [c.name, c.phone, c.handle ? `（${c.handle}）` : null].filter((x) => x && x.trim() !== '').join(' ');
  const lastEvent = task.lastEvent ? oneLine(task.lastEvent) + (task.lastHub ? `（${task.lastHub}）` : '') : orDash(task.lastHub);
  const lines = [
    `**优先级**：${task.priority}（${SEVERITY_LABELS[task.severity] ?? task.severity} · ${TYPE_LABELS[task.type] ?? task.type}）`,
    `**原因**：${orDash(oneLine(task.reason))}`,
    `**订单**：${task.orderId}（${task.platform}）`,
    `**客户**：${orDash(customer)}`,
    `**快递**：${orDash(task.carrier)} 单号 ${orDash(task.trackingNo)}`,
    `**最新物流**：${lastEvent}`,
    `**截止时间**：${dueText(task, timeZone)}`,
    `**负责人**：${task.agent ?? '待认领'}`,
  ];
  if (event === 'outreach.cancelled' && task.cancelReason) lines.push(`**取消原因**：${oneLine(task.cancelReason)}`);
  if (task.exceptions.length > 1) {
    lines.push(`**异常**：${task.exceptions.map((e) => `${TYPE_LABELS[e.type] ?? e.type}${e.status === 'resolved' ? '（已解决）' : ''}`).join('、')}`);
  }
  lines.push(`**话术**：${orDash(oneLine(task.script))}`);
  return lines;
}
