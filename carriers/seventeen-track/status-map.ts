import type { Status } from '../../domain/status.js';

/** 17TRACK v2.2 main `status` → canonical (tracking-apis.md §1c). */
export const SEVENTEEN_MAIN_STATUS: Readonly<Record<string, Status>> = {
  NotFound: 'pending',
  InfoReceived: 'info_received',
  InTransit: 'in_transit',
  Expired: 'problem', // 运输过久: no movement for a long time, worth a look
  AvailableForPickup: 'at_pickup_point',
  OutForDelivery: 'out_for_delivery',
  DeliveryFailure: 'failed_attempt',
  Delivered: 'delivered',
  Exception: 'problem',
};

/** Sub-statuses that refine their main status; the rest fall back to the main status. */
export const SEVENTEEN_SUB_STATUS: Readonly<Record<string, Status>> = {
  NotFound_Other: 'pending',
  NotFound_InvalidCode: 'pending',
  InfoReceived: 'info_received',
  InTransit_PickedUp: 'collected',
  InTransit_Other: 'in_transit',
  InTransit_Departure: 'in_transit',
  InTransit_Arrival: 'arrived_at_hub',
  InTransit_Arrived: 'arrived_at_hub', // seen in one client only
  InTransit_CustomsProcessing: 'in_transit',
  InTransit_CustomsReleased: 'in_transit',
  InTransit_CustomsRequiringInformation: 'problem', // customs needs documents: someone must act
  Expired_Other: 'problem',
  AvailableForPickup_Other: 'at_pickup_point',
  OutForDelivery_Other: 'out_for_delivery',
  DeliveryFailure_Other: 'failed_attempt',
  DeliveryFailure_NoBody: 'failed_attempt',
  DeliveryFailure_Security: 'failed_attempt',
  DeliveryFailure_Rejected: 'rejected',
  DeliveryFailure_InvalidAddress: 'failed_attempt',
  Delivered_Other: 'delivered',
  Exception_Other: 'problem',
  Exception_Returning: 'returning',
  Exception_Returned: 'returned',
  Exception_NoBody: 'problem',
  Exception_Security: 'problem',
  Exception_Damage: 'problem',
  Exception_Rejected: 'rejected',
  Exception_Delayed: 'problem',
  Exception_Lost: 'problem',
  Exception_Destroyed: 'problem',
  Exception_Cancel: 'cancelled',
  Exception_Held: 'problem', // seen in one client only
};

/** Per-event `stage` (same vocabulary as milestone key_stage) → canonical. */
export const SEVENTEEN_STAGE: Readonly<Record<string, Status>> = {
  InfoReceived: 'info_received',
  PickedUp: 'collected',
  Departure: 'in_transit',
  Arrival: 'arrived_at_hub',
  AvailableForPickup: 'at_pickup_point',
  OutForDelivery: 'out_for_delivery',
  Delivered: 'delivered',
  Returning: 'returning',
  Returned: 'returned',
  DeliveryFailure: 'failed_attempt',
  Exception: 'problem',
};

/** Sub-status first; an unknown sub-status counts as `<Main>_Other`, i.e. the main status. */
export function seventeenStatus(main: unknown, sub: unknown): Status | null {
  if (typeof sub === 'string' && SEVENTEEN_SUB_STATUS[sub]) return SEVENTEEN_SUB_STATUS[sub]!;
  if (typeof main === 'string' && SEVENTEEN_MAIN_STATUS[main]) return SEVENTEEN_MAIN_STATUS[main]!;
  if (typeof sub === 'string') {
    const prefix = sub.split('_')[0]!;
    if (SEVENTEEN_MAIN_STATUS[prefix]) return SEVENTEEN_MAIN_STATUS[prefix]!;
  }
  return null;
}
