import { isCarrierScan, nextShipmentStatus, type Status } from './status.js';

export interface ShipmentTrackState {
  status: Status;
  statusSince: Date | null;
  collectedAt: Date | null;
  deliveredAt: Date | null;
  lastEventAt: Date | null;
  lastEventText: string | null;
  lastHub: string | null;
}

export interface FoldableEvent {
  occurredAt: Date;
  status: Status;
  hub: string | null;
  text: string;
}

/**
 * Apply newly stored events to a shipment's state. Only events newer than the latest known one move the
 * current status (a late-arriving older scan fills history but never moves the status backwards);
 * collected_at / delivered_at take the earliest such scan whenever it arrives.
 */
export function foldEvents(state: ShipmentTrackState, events: FoldableEvent[]): ShipmentTrackState {
  if (events.length === 0) return state;
  const next = { ...state };
  const sorted = [...events].sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime());
  for (const e of sorted) {
    if (isCarrierScan(e.status) && (!next.collectedAt || e.occurredAt < next.collectedAt)) next.collectedAt = e.occurredAt;
    if (e.status === 'delivered' && (!next.deliveredAt || e.occurredAt < next.deliveredAt)) next.deliveredAt = e.occurredAt;
    if (!next.lastEventAt || e.occurredAt >= next.lastEventAt) {
      const status = nextShipmentStatus(next.status, e.status === 'unknown' ? next.status : e.status);
      if (status !== next.status) next.statusSince = e.occurredAt;
      next.status = status;
      next.lastEventAt = e.occurredAt;
      next.lastEventText = e.text;
      if (e.hub) next.lastHub = e.hub;
    }
  }
  if (next.status === 'delivered' && !next.deliveredAt) next.deliveredAt = next.statusSince;
  return next;
}
