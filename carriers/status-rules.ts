import type { Status } from '../domain/status.js';

/**
 * Chinese event-text rules, used where a provider's own codes are coarse (Kuaidi100 basic `state`,
 * Kdniao 1002 `State`) and by the sandbox simulation.
 *
 * How a text is classified:
 * 1. Courtesy boilerplate is removed first ({@link BOILERPLATE}): "如有疑问请联系…", "感谢使用…",
 *    "期待再次为您服务". Signed-for texts often end with such a clause, and "如有异常请致电…" must not
 *    turn a delivery into a problem.
 * 2. The rules of {@link TEXT_RULES} are tried in order; the FIRST match wins. The order encodes the
 *    precedence between words that occur together in real texts, most specific / most final first:
 *    - refusal and return words beat everything ("拒收(退件)" is a refusal, "退件已签收" a return);
 *    - a failed attempt beats a generic problem ("派件异常" vs "异常");
 *    - a problem beats a station hold ("滞留驿站");
 *    - a signature beats delivery words ("派件已签收", "签收人是:…");
 *    - a locker/station hold beats delivery and arrival words ("快递员已将快件放入丰巢柜", "到达…驿站");
 *    - pre-advice beats collection and courier words ("已下单，等待快递员揽收");
 *    - collection beats courier words ("快递员 李四 已揽件"), but "收件人" is not a collection;
 *    - courier delivery beats hub words ("快件已到达【…营业部】，快递员…正在派件");
 *    - departure beats arrival ("快件离开【广州转运中心】已发往【杭州转运中心】" names two centres).
 * 3. No match → null (the caller keeps the event as `unknown`; we never guess).
 */
export interface TextRule {
  /** Stable id, for the README and tests. */
  id: string;
  status: Status;
  pattern: RegExp;
  /** The words the pattern stands for, human-readable (README table). */
  words: string;
  /** Real or realistic texts this rule must classify (each one is a test case). */
  examples: readonly string[];
  note?: string;
}

/** Courtesy clauses removed before matching (they carry words like 疑问/问题/异常/派件员). */
export const BOILERPLATE: readonly RegExp[] = [
  /(?:如有|若有|如遇|如对|有任何|如您有)[^，,。；;！!]{0,6}(?:疑问|问题|异常|疑难|需要|需求)[^，,。；;！!]*/g,
  /感谢(?:您)?(?:使用|选择)[^，,。；;！!]*/g,
  /期待再次为您服务/g,
];

export const TEXT_RULES: readonly TextRule[] = [
  {
    id: 'rejected',
    status: 'rejected',
    pattern: /拒签|拒收/,
    words: '拒签 / 拒收',
    examples: ['收件人拒签，原因：不想要了', '拒收(退件)', '客户拒收，快件将退回'],
    note: 'Before returns: a refusal usually mentions the return that follows.',
  },
  {
    id: 'returned',
    status: 'returned',
    pattern: /退签|已退回(?:至)?寄件[人方]|退回成功|退[回件][^，,。；;]{0,6}签收/,
    words: '退签 / 已退回寄件人 / 退件…签收',
    examples: ['退签', '快件已退回寄件人', '【杭州市余杭区仓前营业部】退件已签收，已退回寄件人', '退回件已签收'],
    note: 'Before the generic 签收 rule: a signed return is back with the sender, not delivered.',
  },
  {
    id: 'returning',
    status: 'returning',
    pattern: /退回|退件|返回寄件|退货/,
    words: '退回 / 退件',
    examples: ['快件退回中，已发往【杭州转运中心】', '退件处理中'],
  },
  {
    id: 'cancelled',
    status: 'cancelled',
    pattern: /销单|取消寄件|寄件已取消|订单已取消/,
    words: '销单 / 取消寄件',
    examples: ['快件已销单', '寄件已取消'],
  },
  {
    id: 'failed_attempt',
    status: 'failed_attempt',
    pattern: /派送不成功|派件不成功|投递失败|派送失败|派件失败|未妥投|无法联系|联系不上|电话无人接听|派件异常|派送异常|投递异常/,
    words: '派送不成功 / 无法联系 / 派件异常',
    examples: [
      '派送不成功,政府机关、学校等特殊单位,正在安排处理中。',
      '【上海市浦东新区张江营业部】派送不成功，收件人电话无法联系，明日再次派送',
      '派件异常，客户不在家',
    ],
    note: 'Before problem: 派件异常 contains 异常; before collected: texts mention 收件人.',
  },
  {
    id: 'problem',
    status: 'problem',
    pattern: /问题件|疑难|滞留|破损|丢失|遗失|丢件|异常/,
    words: '问题件 / 疑难 / 滞留 / 破损 / 丢失 / 异常',
    examples: ['【杭州转运中心】问题件：外包装破损，正在处理中', '疑难件，地址不详', '快件滞留', '快件丢失，已登记理赔', '清关异常'],
    note: '"如有疑问请联系" is boilerplate (removed first) and 疑问 is not 疑难.',
  },
  {
    id: 'delivered_pickup',
    status: 'delivered',
    pattern: /已取出|已被取出|已从[^，,。；;]{0,20}取出|已取件|凭取[货件]码签收|取件码签收/,
    words: '已取出 / 凭取货码签收',
    examples: ['已签收，签收人凭取货码签收。', '快件已从丰巢智能柜取出', '您的快件已取出'],
    note: 'The customer took the parcel from a locker or station.',
  },
  {
    id: 'delivered',
    status: 'delivered',
    pattern: /(?<![未待])签收/,
    words: '签收 / 已签收 / 本人签收 / 代签收 / 他人签收 / 签收人 (not 未签收 / 待签收)',
    examples: [
      '已签收，签收人：本人',
      '派件已签收[深圳市]',
      '签收人是:已签收[深圳市]',
      '客户 签收人 : 本人签收 已签收 感谢使用圆通速递,期待再次为您服务',
      '已签收,签收人是（徐15861196435）先生/女士，如有疑问请联系派件员永红十五，感谢使用申通快递，期待再次为您服务',
      '快件已被 前台 代签收',
      '他人签收',
    ],
    note: 'Beats delivery words (派件已签收). A locker named as signer is a proxy delivery (watch for 误签).',
  },
  {
    id: 'at_pickup_point',
    status: 'at_pickup_point',
    pattern: /快递柜|智能柜|自提柜|驿站|丰巢|暂存|待取件|取件码|自提点|代收点|快递超市/,
    words: '快递柜 / 驿站 / 丰巢 / 暂存 / 待取件',
    examples: [
      '快件已暂存至常州世纪明珠园17-7号店菜鸟驿站，如有疑问请联系15312399123',
      '快件已放入丰巢智能柜，请凭取件码取件',
      '快件已到达【张江家园菜鸟驿站】，请及时领取',
      '快件已存入驿站，请凭取件码及时取出',
    ],
    note: 'Before delivery and arrival words: couriers put parcels in lockers, stations "arrive".',
  },
  {
    id: 'info_received',
    status: 'info_received',
    pattern: /已下单|下单成功|待揽收|等待揽收|待揽件|已打印|打印面单|电子面单/,
    words: '已下单 / 待揽收 / 已打印',
    examples: ['商家已下单，等待快递员揽收', '包裹正在等待揽收', '已打印电子面单'],
    note: 'Pre-advice only, not a carrier scan. Before collected (待揽收 contains 揽收).',
  },
  {
    id: 'collected',
    status: 'collected',
    pattern: /揽收|揽件|已收件|收件(?!人|地址|方|信息|电话)/,
    words: '揽收 / 揽件 / 已收件 / 收件',
    examples: [
      '【江苏省苏州市北桥公司】 已揽收',
      '已收件[深圳市]',
      '江苏省市场部九十四部-大客户13-已收件',
      '【杭州市余杭区仓前营业部】的收件员 李四 已揽件',
    ],
    note: '收件人 (recipient) is not a collection.',
  },
  {
    id: 'out_for_delivery',
    status: 'out_for_delivery',
    pattern: /派件|派送|正在投递|投递中|快递员|派件员|配送员/,
    words: '派件 / 派送中 / 正在投递 / 快递员',
    examples: [
      '【上海市浦东新区张江营业部】快递员 张三 正在派件',
      '正在派件..(派件人:邓裕富,电话:18718866310)[深圳 市]',
      '江苏常州钟楼永红分部-永红十五-派件中',
      '【上海市】快件派送中',
    ],
  },
  {
    id: 'in_transit',
    status: 'in_transit',
    pattern: /离开|发往|已发出|送往|运输中|在途|干线|发车|转投|转寄|清关|航班/,
    words: '离开 / 发往 / 已发出 / 运输中 / 干线 / 转投 / 转寄 / 清关',
    examples: [
      '快件离开【广州转运中心】已发往【杭州转运中心】',
      '【苏州转运中心】 已发出 下一站 【无锡转运中心公司】',
      '江苏南京江宁公司-已装袋发往-江苏南京转运中心',
      '快件在 深圳集散中心 ,准备送往下一站 深圳 [深圳市]',
      '北京七道堰 已发出,下一站 北京大学',
      '快件已转寄至新地址',
      '海关清关中',
    ],
    note: 'Before arrival: departure texts name the next centre too.',
  },
  {
    id: 'arrived_at_hub',
    status: 'arrived_at_hub',
    pattern: /到达|已收入|转运中心|分拨中心|集散中心|中转部|中转场|分拣中心/,
    words: '到达 / 已收入 / …转运中心 / 分拨中心 / 集散中心',
    examples: ['快件已到达【杭州转运中心】', '【苏州转运中心公司】 已收入', '已到达-江苏南京转运中心', '快件在 深圳集散中心 [深圳市]', '北京六和塔 已收入'],
  },
];

/** The text with courtesy boilerplate removed (exported for tests and debugging). */
export function stripBoilerplate(text: string): string {
  let out = text;
  for (const re of BOILERPLATE) out = out.replace(re, ' ');
  return out;
}

/** The first rule matching `text`, or null. */
export function matchTextRule(text: string): TextRule | null {
  const clean = stripBoilerplate(text);
  for (const rule of TEXT_RULES) if (rule.pattern.test(clean)) return rule;
  return null;
}

/** Canonical status from an event text, or null when no rule matches. */
export function statusFromText(text: string): Status | null {
  return matchTextRule(text)?.status ?? null;
}
