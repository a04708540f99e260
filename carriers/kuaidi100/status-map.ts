import type { Status } from '../../domain/status.js';

/**
 * Kuaidi100 status codes → canonical status (see /work/shared/tracking-apis.md §1a).
 * The top-level `state` is documented as the basic set but may carry advanced codes; per-event
 * `statusCode` (resultv2 ≥ 4) is usually advanced but real payloads also carry basic ones ("0", "1").
 * One table covers both because the code spaces do not collide.
 */
export const KUAIDI100_STATUS: Readonly<Record<string, Status>> = {
  // basic
  '0': 'in_transit', // 在途
  '1': 'collected', // 揽收
  '2': 'problem', // 疑难
  '3': 'delivered', // 签收
  '4': 'returned', // 退签
  '5': 'out_for_delivery', // 派件
  '6': 'returning', // 退回
  '7': 'in_transit', // 转投: handed to another carrier, still moving
  '8': 'in_transit', // 清关
  '10': 'in_transit', // 待清关
  '11': 'in_transit', // 清关中
  '12': 'in_transit', // 已清关
  '13': 'problem', // 清关异常
  '14': 'rejected', // 拒签
  // advanced children
  '101': 'info_received', // 已下单
  '102': 'info_received', // 待揽收: pre-advice, not a carrier scan
  '103': 'collected', // 已揽收
  '1001': 'arrived_at_hub', // 到达派件城市
  '1002': 'in_transit', // 干线
  '1003': 'in_transit', // 转递 (forwarded to a new address)
  '501': 'at_pickup_point', // 投柜或驿站
  '301': 'delivered', // 本人签收
  '302': 'delivered', // 派件异常后签收
  '303': 'delivered', // 代签
  '304': 'delivered', // 投柜或站签收
  '401': 'cancelled', // 已销单
  // 疑难 children: from a third-party copy of the vendor table (UNCONFIRMED against the vendor page).
  '201': 'problem', // 超时未签收
  '202': 'problem', // 超时未更新
  '203': 'rejected', // 拒收
  '204': 'failed_attempt', // 派件异常
  '205': 'at_pickup_point', // 柜或驿站超时未取: still in the locker; the flag carries the alert, pickup_overdue rule the clock
  '206': 'failed_attempt', // 无法联系
  '207': 'problem', // 超区
  '208': 'problem', // 滞留
  '209': 'problem', // 破损
  '210': 'cancelled', // 销单
};

/**
 * Basic parent codes are coarse ("0 在途" covers hub arrivals and departures alike), so for events
 * carrying one the text rules get the first say; advanced codes are specific and win over text.
 */
export const KUAIDI100_COARSE_CODES: ReadonlySet<string> = new Set(['0', '1', '2', '5', '7', '8']);

/** Codes surfaced as TrackResult flags (`kuaidi100:<code>`): the 疑难 children are detection signals of their own. */
export const KUAIDI100_FLAG_CODES: ReadonlySet<string> = new Set(['201', '202', '203', '204', '205', '206', '207', '208', '209', '210']);

/** Chinese status names in per-event `status` (resultv2 ≥ 1), used when neither code nor text decide. */
export const KUAIDI100_STATUS_NAMES: Readonly<Record<string, Status>> = {
  在途: 'in_transit',
  干线: 'in_transit',
  揽收: 'collected',
  已揽收: 'collected',
  已下单: 'info_received',
  待揽收: 'info_received',
  疑难: 'problem',
  签收: 'delivered',
  退签: 'returned',
  派件: 'out_for_delivery',
  退回: 'returning',
  转投: 'in_transit',
  清关: 'in_transit',
  拒签: 'rejected',
};

export function kuaidi100Status(code: string | null | undefined): Status | null {
  if (code == null) return null;
  return KUAIDI100_STATUS[code] ?? null;
}
