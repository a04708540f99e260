import type { ExceptionType, Severity } from '../config/schema.js';

export type OutreachStatus = 'open' | 'claimed' | 'done' | 'cancelled';
export type OutreachEvent = 'outreach.created' | 'outreach.updated' | 'outreach.cancelled' | 'outreach.overdue';

/** The outreach task as agents, the API and channel payloads see it (camelCase, stable). */
export interface OutreachTaskView {
  id: number;
  orderId: string;
  platform: string;
  status: OutreachStatus;
  type: ExceptionType;
  severity: Severity;
  priority: number;
  reason: string;
  script: string;
  dueBy: string;
  overdue: boolean;
  agent: string | null;
  customer: { name: string | null; phone: string | null; handle: string | null };
  carrier: string | null;
  trackingNo: string | null;
  lastEvent: string | null;
  lastHub: string | null;
  exceptions: { id: number; type: ExceptionType; severity: Severity; trackingNo: string | null; status: 'open' | 'resolved' }[];
  outcome: string | null;
  compensationYuan: number | null;
  notes: string | null;
  cancelReason: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export type CustomerEvent = 'customer.hub_moved' | 'customer.out_for_delivery' | 'customer.delivered';

/** One message to a customer (webhook body fields per the contract notes). */
export interface CustomerMessage {
  event: CustomerEvent;
  notificationId: number;
  orderId: string;
  trackingNo: string;
  carrier: string;
  hub: string | null;
  occurredAt: string | null;
  message: string;
  contact: string;
  /** Same key on every retry, so the receiver can dedupe. */
  idempotencyKey: string;
  /** Template parameters for SMS providers (hub, carrierName, trackingNo, …). */
  params: Record<string, string>;
}
