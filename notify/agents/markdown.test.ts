import { describe, expect, it } from 'vitest';
import type { OutreachTaskView } from '../../domain/outreach.js';
import { agentLines, agentTitle } from './markdown.js';

const bare: OutreachTaskView = {
  id: 1,
  orderId: 'PDD-1',
  platform: 'pdd',
  status: 'open',
  type: 'late_shipment',
  severity: 'breach',
  priority: 360,
  reason: '订单付款后 80 小时仍未揽收',
  script: '您好，\n非常抱歉',
  dueBy: '2026-11-11T16:00:00.000Z',
  overdue: false,
  agent: null,
  customer: { name: null, phone: null, handle: null },
  carrier: null,
  trackingNo: null,
  lastEvent: null,
  lastHub: null,
  exceptions: [],
  outcome: null,
  compensationYuan: null,
  notes: null,
  cancelReason: null,
  version: 1,
  createdAt: '2026-11-11T00:00:00.000Z',
  updatedAt: '2026-11-11T00:00:00.000Z',
};

describe('agent markdown', () => {
  it('renders missing fields as — and never "null"', () => {
    const text = agentLines('outreach.created', bare, 'Asia/Shanghai').join('\n');
    expect(text).not.toMatch(/null|undefined/);
    expect(text).toContain('**客户**：—');
    expect(text).toContain('**快递**：— 单号 —');
    expect(text).toContain('**截止时间**：2026-11-12 00:00'); // local midnight in Shanghai
    expect(text).toContain('已违约');
    expect(text).toContain('**负责人**：待认领');
    expect(text).toContain('**话术**：您好， 非常抱歉'); // newlines flattened
  });

  it('titles by event', () => {
    expect(agentTitle('outreach.created', bare)).toBe('新外呼任务 · 订单 PDD-1');
    expect(agentTitle('outreach.cancelled', bare)).toBe('任务已取消 · 订单 PDD-1');
  });
});
