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

/**
 * Forward-looking phrases about a signature that has NOT happened: "正在派送途中,请您准备签收",
 * "请保持电话畅通并注意签收", "预计今日签收", "等待签收". They are removed before matching like the
 * boilerplate (the rest of the text, e.g. 正在派送, then decides); a text that says nothing else is
 * {@link FORWARD_SIGN_RULE}. 未签收 / 待签收 are handled by the delivered rule itself.
 */
/** "正在积极为您安排派送", "快件将很快进行派送": a delivery announced, not started (removed like FORWARD_SIGN; nothing is read from them). */
export const FORWARD_DELIVERY = /(?:正在)?(?:积极)?为您安排派送|将很快进行派送|即将(?:为您)?派送/g;

export const FORWARD_SIGN = /(?:准备|请|等待|等候|预计|即将|将于|将在|稍后|需要|需|注意|方便时?|及时)[^，,。；;！!签已]{0,6}签收/g;

export const TEXT_RULES: readonly TextRule[] = [
  {
    id: 'delivered_after_issue',
    status: 'delivered',
    pattern: /(?:异常|失败|不成功|滞留)后[^。；;]{0,12}(?<![未待])(?:签收|妥投)/,
    words: '…异常后…签收',
    examples: ['派件异常后已签收', '派送不成功后再次派送，已签收'],
    note: 'A signature after a failure is a delivery (Kuaidi100 302 / Kdniao 302); before the failure rules.',
  },
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
    pattern: /派送不成功|派件不成功|投递不成功|投递失败|派送失败|派件失败|配送失败|未妥投|无法联系|联系不上|电话无人接听|无人接听|派件异常|派送异常|投递异常|(?:未能|没能)[^，,。；;]{0,3}(?:派送|投递|派件|配送|送达)/,
    words: '派送不成功 / 无法联系 / 派件异常',
    examples: [
      '派送不成功,政府机关、学校等特殊单位,正在安排处理中。',
      '【上海市浦东新区张江营业部】派送不成功，收件人电话无法联系，明日再次派送',
      '派件异常，客户不在家',
    ],
    note: 'Before problem: 派件异常 contains 异常; before collected: texts mention 收件人. 未能派送 is a tried-and-failed delivery.',
  },
  {
    id: 'delivery_blocked',
    status: 'problem',
    pattern: /(?:无法|不能|不可|暂停|暂缓|暂不|延迟|延误|停止|停发)[^，,。；;]{0,3}(?:派送|投递|派件|配送|送达|发出|转运|运输)/,
    words: '无法 / 不能 / 暂停 / 延迟 … 派送 / 投递',
    examples: ['快件地址不详，无法派送，请联系寄件方', '受天气影响，暂停派送', '因疫情管控，快件延迟派送', '收件地址超区，不能派送'],
    note: 'A negated or suspended delivery is a problem, never out_for_delivery (the words 派送/投递 are in it).',
  },
  {
    id: 'problem',
    status: 'problem',
    pattern: /问题件|疑难|滞留|破损|丢失|遗失|丢件|异常|超区|地址不详|地址不全|地址错误|错分|拦截/,
    words: '问题件 / 疑难 / 滞留 / 破损 / 丢失 / 异常',
    examples: ['【杭州转运中心】问题件：外包装破损，正在处理中', '疑难件，地址不详', '快件滞留', '快件丢失，已登记理赔', '清关异常'],
    note: '"如有疑问请联系" is boilerplate (removed first) and 疑问 is not 疑难.',
  },
  {
    id: 'transferred',
    status: 'in_transit',
    pattern: /签收人是?[:：]?\s*转(?:交)?(?:EMS|邮政|[A-Z]{2,}|[\u4e00-\u9fa5]{2,4}快递)|转(?:交)?(?:EMS|邮政)\d*/,
    words: '签收人是: 转EMS… (handed to another carrier)',
    examples: ['已签收,签收人是: 转EMS1133969112997'],
    note: 'A "signature" by another carrier is a hand-over (Kuaidi100 7 转投), not a delivery. Before the 签收 rules.',
  },
  {
    id: 'delivered_pickup',
    status: 'delivered',
    pattern: /已取出|已被取出|已从[^，,。；;]{0,20}取出|(?:客户|您|用户|收件人|本人)已?取件|凭取[货件]码签收|取件码签收|用户提货|已提货|客户提货|(?:驿站|快递柜|自提柜|智能柜|丰巢)[^，,。；;]{0,6}出库/,
    words: '已取出 / 凭取货码签收 / 用户提货',
    examples: ['已签收，签收人凭取货码签收。', '快件已从丰巢智能柜取出', '您的快件已取出', '【用户提货】快件已被取出'],
    note: 'The customer took the parcel from a locker or station.',
  },
  {
    id: 'delivered',
    status: 'delivered',
    pattern: /(?<![未待没])签收|(?<![未])妥投|完成配送|配送完成/,
    words: '签收 / 已签收 / 本人签收 / 代签收 / 他人签收 / 签收人 / 妥投 (not 未签收 / 待签收 / 未妥投; forward phrases removed first)',
    examples: [
      '已签收，签收人：本人',
      '派件已签收[深圳市]',
      '签收人是:已签收[深圳市]',
      '客户 签收人 : 本人签收 已签收 感谢使用圆通速递,期待再次为您服务',
      '已签收,签收人是（徐15861196435）先生/女士，如有疑问请联系派件员永红十五，感谢使用申通快递，期待再次为您服务',
      '快件已被 前台 代签收',
      '他人签收',
      '投递并签收，签收人：他人收 快递柜',
      '已妥投',
      '货物已完成配送，感谢您选择京东物流',
    ],
    note: 'Beats delivery words (派件已签收). A locker named as signer is a proxy delivery (watch for 误签).',
  },
  {
    id: 'at_pickup_point',
    status: 'at_pickup_point',
    pattern: /快递柜|智能柜|自提柜|驿站|丰巢|暂存|待取件|取件码|自提点|代收点|快递超市|入柜|投柜|柜子|(?<!货款|款)代收(?!货款|款)/,
    words: '快递柜 / 驿站 / 丰巢 / 暂存 / 待取件 / 入柜',
    examples: [
      '快件已暂存至常州世纪明珠园17-7号店菜鸟驿站，如有疑问请联系15312399123',
      '快件已放入丰巢智能柜，请凭取件码取件',
      '快件已到达【张江家园菜鸟驿站】，请及时领取',
      '快件已存入驿站，请凭取件码及时取出',
      '【入柜】快件已投递到小区快递柜',
      '您的快件已由【三和苑柜子】代收，感谢您使用京东物流',
    ],
    note: 'Before delivery and arrival words: couriers put parcels in lockers, stations "arrive".',
  },
  {
    id: 'info_received',
    status: 'info_received',
    pattern: /已下单|下单成功|已接单|待揽收|等待揽收|待揽件|等待揽件|已打印|打印面单|电子面单|揽收任务|(?:分配|安排|指派|通知|预约|调度)[^，,。；;]{0,12}(?:揽收|揽件|取件|上门)|等待[^，,。；;]{0,8}(?:揽收|揽件|上门|取件)|即将上门/,
    words: '已下单 / 待揽收 / 已打印 / 揽收任务已分配 / 已通知快递员上门',
    examples: ['商家已下单，等待快递员揽收', '包裹正在等待揽收', '已打印电子面单', '揽收任务已分配给张三', '已安排快递员上门揽收', '您的快件已分配给快递员李四，等待上门取件'],
    note: 'Pre-advice and a courier ASSIGNED to collect: not a carrier scan, the 72 h clock keeps running. Before collected (待揽收 contains 揽收).',
  },
  {
    id: 'collected',
    status: 'collected',
    pattern: /揽收|揽件|已收件|已取件|收件(?!人|地址|方|信息|电话|网点)|已收寄|收寄|收取快件|已收取|(?:已|货物已|快件已)交付[^，,。；;]{0,6}(?:快递|物流|速运|快运|邮政)/,
    words: '揽收 / 揽件 / 已收件 / 收件 / 收寄 / 收取快件',
    examples: [
      '【江苏省苏州市北桥公司】 已揽收',
      '已收件[深圳市]',
      '江苏省市场部九十四部-大客户13-已收件',
      '【杭州市余杭区仓前营业部】的收件员 李四 已揽件',
      '顺丰速运 已收取快件',
      '【北京市邮政速递揽投部】已收寄',
      '货物已交付京东物流',
      '【深圳龙华区观澜网点】的陈月媚(0755-61670079)已取件',
    ],
    note: '收件人 (recipient) is not a collection.',
  },
  {
    id: 'seller_warehouse',
    status: 'info_received',
    pattern: /审核|拣货|拣选|复核|出库|(?<!(?:到达|已到|离开|发往)[^，,。；;]{0,12})仓库|仓储|打包完成|(?:订单|商品|货物|包裹)[^，,。；;]{0,4}(?:已|正在|在)?打包|(?:商家|卖家|店铺)[^，,。；;]{0,6}(?:发货|发出|打包|备货)|备货|配货|已发货/,
    words: '审核 / 拣货 / 出库 / 仓库处理中 / 订单已打包 / 卖家已发货',
    examples: ['您的订单已审核', '您的订单已拣货完成', '您的订单已打包', '仓库处理中', '您的包裹已出库', '卖家已发货'],
    note: 'The seller\'s warehouse, not the carrier: info_received, so collected_at waits for the carrier\'s own scan. After collected: "仓库…已揽收" is a collection.',
  },
  {
    id: 'out_for_delivery',
    status: 'out_for_delivery',
    pattern: /派件|派送|正在投递|投递中|安排投递|快递员|派件员|配送员|投递员|派送员|正在配送|配送中|准备配送|开始配送/,
    words: '派件 / 派送中 / 正在投递 / 安排投递 / 快递员 / 配送中',
    examples: [
      '【上海市浦东新区张江营业部】快递员 张三 正在派件',
      '正在派件..(派件人:邓裕富,电话:18718866310)[深圳 市]',
      '江苏常州钟楼永红分部-永红十五-派件中',
      '【上海市】快件派送中',
      '【北京市朝阳区东坝揽投部】安排投递（投递员姓名：王五;联系电话：13800000000）',
      '正在派送途中,请您准备签收',
    ],
    note: 'Forward phrases ("请您准备签收") were removed first, so the delivery words decide.',
  },
  {
    id: 'in_transit',
    status: 'in_transit',
    pattern: /离开|发往|已发出|送往|运输中|在途|干线|发车|转投|转寄|清关|航班|发件(?!人|方|网点)|装车|装袋|装件|入车|打包|建包|封车|已出港|离港/,
    words: '离开 / 发往 / 已发出 / 运输中 / 干线 / 转投 / 转寄 / 清关 / 发件 / 装车 / 装袋 / 打包',
    examples: [
      '快件离开【广州转运中心】已发往【杭州转运中心】',
      '【苏州转运中心】 已发出 下一站 【无锡转运中心公司】',
      '江苏南京江宁公司-已装袋发往-江苏南京转运中心',
      '快件在 深圳集散中心 ,准备送往下一站 深圳 [深圳市]',
      '北京七道堰 已发出,下一站 北京大学',
      '快件已转寄至新地址',
      '海关清关中',
      '【发件】快件已从【上海浦东网点】发出',
      '北京六和塔 已打包',
      '快件已进行装袋扫描',
      '【装袋】',
      '【装车】快件已装车',
    ],
    note: 'Before arrival: departure texts name the next centre too. Packing/bagging at a carrier site is movement (the seller\'s "订单已打包" matched seller_warehouse first).',
  },
  {
    id: 'arrived_at_hub',
    status: 'arrived_at_hub',
    pattern: /到达|抵达|已收入|转运中心|分拨中心|集散中心|中转部|中转场|分拣中心|到件|已到|(?:^|[^送寄])到[^，,。；;【】\s]{0,8}【|分拣|处理中心|进港|卸车/,
    words: '到达 / 已收入 / 到件 / 到【X】/ …转运中心 / 分拨中心 / 集散中心',
    examples: [
      '快件已到达【杭州转运中心】',
      '【苏州转运中心公司】 已收入',
      '已到达-江苏南京转运中心',
      '快件在 深圳集散中心 [深圳市]',
      '北京六和塔 已收入',
      '到【深圳转运中心】',
      '到件|到深圳市【深圳宝安网点】',
      '【到件】快件已到【杭州萧山网点】',
    ],
  },
  // 17TRACK and international legs: English descriptions (used when the event has no stage/sub_status).
  {
    id: 'en_returned',
    status: 'returned',
    pattern: /\breturned to (?:the )?(?:sender|shipper|origin)\b|\breturn(?:ed)? delivered\b/i,
    words: 'Returned to sender',
    examples: ['Returned to sender', 'Shipment returned to shipper'],
  },
  {
    id: 'en_returning',
    status: 'returning',
    pattern: /\breturn(?:ing|ed)?\b/i,
    words: 'Return / Returning',
    examples: ['Return to sender in progress', 'Shipment is being returned'],
  },
  {
    id: 'en_rejected',
    status: 'rejected',
    pattern: /\b(?:refused|rejected)\b/i,
    words: 'Refused / Rejected',
    examples: ['Delivery refused by recipient', 'Consignee rejected the shipment'],
  },
  {
    id: 'en_failed_attempt',
    status: 'failed_attempt',
    pattern: /\b(?:attempted|attempt|unable to deliver|could not be delivered|not delivered|delivery failed|undeliverable|no one (?:home|available)|recipient not (?:home|available)|missed delivery|notice left)\b/i,
    words: 'Delivery attempted / Unable to deliver',
    examples: ['Delivery attempted - recipient not home', 'Unable to deliver, notice left', 'The shipment could not be delivered'],
  },
  {
    id: 'en_problem',
    status: 'problem',
    pattern: /\b(?:exception|damaged|lost|delay(?:ed)?|held(?! for pick)|on hold|problem|incorrect address|address (?:issue|problem)|customs (?:hold|issue)|missort(?:ed)?)\b/i,
    words: 'Exception / Damaged / Lost / Delayed / Held',
    examples: ['Shipment exception', 'Package damaged', 'Clearance delay', 'Held at customs'],
  },
  {
    id: 'en_info_received',
    status: 'info_received',
    pattern: /\b(?:info(?:rmation)? received|label created|shipment information|electronic (?:shipping )?info(?:rmation)?|pre-?advice|order (?:processed|received)|awaiting (?:item|collection by carrier)|shipping label)\b/i,
    words: 'Shipment information received / Label created',
    examples: ['Shipment information received', 'Shipping label created, USPS awaiting item', 'Electronic information submitted by shipper'],
  },
  {
    id: 'en_at_pickup_point',
    status: 'at_pickup_point',
    pattern: /\b(?:available for (?:pick-?up|collection)|ready for (?:pick-?up|collection)|(?:parcel )?locker|pick-?up point|parcel ?shop|awaiting collection|held for pick-?up)\b/i,
    words: 'Available for pickup / Locker',
    examples: [
      'The shipment is available for pick-up from the retail outlet retail outlet Valentinskamp 88 20355 Hamburg as of now.',
      'Ready for pickup at the post office',
    ],
  },
  {
    id: 'en_delivered',
    status: 'delivered',
    pattern: /(?<!\b(?:be|being|been|will be|to be)\s)\bdelivered\b|\bsigned (?:for|by)\b|\bpicked up by (?:the )?(?:recipient|consignee|customer)\b/i,
    words: 'Delivered / Signed for',
    examples: ['Delivered', 'Delivered, In/At Mailbox', 'Signed for by JOHN'],
  },
  {
    id: 'en_out_for_delivery',
    status: 'out_for_delivery',
    pattern: /\bout for delivery\b|\bwith delivery courier\b|\bon (?:its|the) way to (?:the )?(?:recipient|consignee)\b|\bloaded (?:on|onto) (?:the )?delivery vehicle\b/i,
    words: 'Out for delivery',
    examples: ['Out for Delivery', 'Out for delivery today', 'With delivery courier'],
  },
  {
    id: 'en_collected',
    status: 'collected',
    pattern: /\b(?:picked up|pickup scan|origin scan|accepted|acceptance|collected|received by (?:the )?carrier|posted|dropped off|shipment received)\b/i,
    words: 'Picked up / Origin Scan / Accepted',
    examples: ['Picked up', 'Origin Scan', 'Accepted at USPS Origin Facility', 'Shipment picked up'],
  },
  {
    id: 'en_arrived_at_hub',
    status: 'arrived_at_hub',
    pattern: /\b(?:arrived|arrival|arriving|received at|processed at|has been processed|processed in|at (?:the )?(?:sorting|destination) (?:facility|center|centre)|destination scan|in(?:bound)? scan)\b/i,
    words: 'Arrived at Facility / Arrival / Destination Scan',
    examples: ['Arrived at Facility', 'Arrived at FedEx location', 'Arrival Scan', 'Destination Scan'],
  },
  {
    id: 'en_in_transit',
    status: 'in_transit',
    pattern: /\b(?:depart(?:ed|ure)?|left|in transit|on the way|forwarded|dispatched|export(?:ed)?|import(?:ed)?|customs|clearance|transferred|en route|flight|departed facility)\b/i,
    words: 'Departed Facility / In transit / Customs',
    examples: ['Departed Facility', 'Departed FedEx location', 'In transit', 'Customs clearance completed', 'Import scan'],
  },
];

/** The text with courtesy boilerplate removed (exported for tests and debugging). */
export function stripBoilerplate(text: string): string {
  let out = text;
  for (const re of BOILERPLATE) out = out.replace(re, ' ');
  return out;
}

/**
 * Only a forward-looking phrase ("请您准备签收") and nothing else to read: the parcel is on its way to
 * the recipient but not signed for. Not in TEXT_RULES because it applies to what is LEFT after removal.
 */
export const FORWARD_SIGN_RULE: TextRule = {
  id: 'forward_sign',
  status: 'out_for_delivery',
  pattern: FORWARD_SIGN,
  words: '准备 / 请 / 等待 / 预计 / 即将 … 签收',
  examples: ['请您准备签收', '请注意签收', '预计今日签收'],
  note: 'A signature announced, not done: never delivered.',
};

/** The text with courtesy boilerplate removed (exported for tests and debugging). */
export function stripForward(text: string): string {
  return text.replace(FORWARD_SIGN, ' ').replace(FORWARD_DELIVERY, ' ');
}

/** The first rule matching `text`, or null. */
export function matchTextRule(text: string): TextRule | null {
  const clean = stripBoilerplate(text);
  const rest = stripForward(clean);
  for (const rule of TEXT_RULES) if (rule.pattern.test(rest)) return rule;
  return rest !== clean ? FORWARD_SIGN_RULE : null;
}

/** Canonical status from an event text, or null when no rule matches. */
export function statusFromText(text: string): Status | null {
  return matchTextRule(text)?.status ?? null;
}

/** What the text says and which rule said it (`text:<rule id>`), or null. */
export function classifyText(text: string): { status: Status; rule: string } | null {
  const r = matchTextRule(text);
  return r ? { status: r.status, rule: `text:${r.id}` } : null;
}
