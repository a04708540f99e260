import type { Status } from '../../domain/status.js';

/**
 * Kdniao `State` (普通物流状态) and `StateEx` / per-trace `Action` (增值状态) → canonical status
 * (tracking-apis.md §1b; extended codes from a third-party model of the current API).
 */
export const KDNIAO_STATE: Readonly<Record<string, Status>> = {
  '0': 'pending', // 暂无轨迹信息
  '1': 'collected', // 已揽收
  '2': 'in_transit', // 在途中
  '3': 'delivered', // 签收
  '4': 'problem', // 问题件
  '5': 'in_transit', // 转寄
  '6': 'in_transit', // 清关
  '10': 'info_received', // 待揽件
};

export const KDNIAO_STATE_EX: Readonly<Record<string, Status>> = {
  ...KDNIAO_STATE,
  '201': 'arrived_at_hub', // 到达派件城市
  '204': 'arrived_at_hub', // 到达转运中心
  '205': 'arrived_at_hub', // 到达派件网点
  '206': 'in_transit', // 寄件网点发件
  '202': 'out_for_delivery', // 派件中
  '211': 'at_pickup_point', // 已放入快递柜或驿站
  '301': 'delivered', // 正常签收
  '302': 'delivered', // 派件异常后最终签收
  '304': 'delivered', // 代收签收
  '311': 'delivered', // 快递柜或驿站签收
  '401': 'problem', // 发货无信息
  '402': 'problem', // 超时未签收
  '403': 'problem', // 超时未更新
  '404': 'rejected', // 拒收(退件)
  '405': 'failed_attempt', // 派件异常
  '406': 'returned', // 退货签收
  '407': 'returning', // 退货未签收
  '412': 'at_pickup_point', // 快递柜或驿站超时未取: still waiting there; the flag carries the alert
  '413': 'problem', // 单号已拦截
  '414': 'problem', // 破损
  '415': 'cancelled', // 客户取消发货
  '416': 'failed_attempt', // 无法联系
  '417': 'problem', // 配送延迟
  // 418 快件取出 is ambiguous (taken out of a locker by whom?), so it is deliberately absent: text rules decide.
  '419': 'out_for_delivery', // 重新派送
  '420': 'failed_attempt', // 收货地址不详细
  '421': 'failed_attempt', // 收件人电话错误
  '422': 'problem', // 错分件
  '423': 'problem', // 超区件
  '601': 'in_transit', // 待清关
  '602': 'in_transit', // 清关中
  '603': 'in_transit', // 已清关
  '604': 'problem', // 清关异常
};

/** One-digit codes are coarse (the sample's locker hold after signing is Action "2"): text rules go first. */
export const KDNIAO_COARSE_CODES: ReadonlySet<string> = new Set(['0', '1', '2', '3', '4', '5', '6']);

/** StateEx/Action codes surfaced as `kdniao:<code>` flags (timeouts and no-info alerts are signals of their own). */
export const KDNIAO_FLAG_CODES: ReadonlySet<string> = new Set(['401', '402', '403', '412', '417']);

export function kdniaoStatus(code: string | null | undefined): Status | null {
  if (code == null) return null;
  return KDNIAO_STATE_EX[code] ?? null;
}
