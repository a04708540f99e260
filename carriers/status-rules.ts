import type { Status } from '../domain/status.js';

/**
 * Chinese event-text rules for providers whose codes are coarse (Kuaidi100 basic `state`, Kdniao 1002
 * `State`). Order matters: the first matching rule wins, most specific first.
 * (Placeholder table; the carriers work replaces it with the full documented table.)
 */
const TEXT_RULES: [RegExp, Status][] = [
  [/拒签|拒收/, 'rejected'],
  [/退签|已退回|退回成功/, 'returned'],
  [/退回|退件|返回寄件/, 'returning'],
  [/问题件|疑难|异常|破损|丢失|滞留/, 'problem'],
  [/代签收|已签收|签收/, 'delivered'],
  [/快递柜|驿站|丰巢|暂存/, 'at_pickup_point'],
  [/派件|派送|正在投递/, 'out_for_delivery'],
  [/到达|已收入/, 'arrived_at_hub'],
  [/揽收|揽件|已收件|收件/, 'collected'],
  [/离开|发往|已发出|运输|在途/, 'in_transit'],
];

/** Canonical status from an event text, or null when no rule matches. */
export function statusFromText(text: string): Status | null {
  for (const [re, status] of TEXT_RULES) if (re.test(text)) return status;
  return null;
}
