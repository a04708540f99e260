/**
 * Hub / station extraction from Chinese scan texts: where the event happened.
 *
 * Patterns, tried in order (first hit wins):
 * 1. a locker or station the parcel was put in: `快件已暂存至常州世纪明珠园17-7号店菜鸟驿站` → the station;
 * 2. the first `【…】` that is not a destination (`发往【Y】`, `下一站 【Y】` are the NEXT hub):
 *    `快件离开【广州转运中心】已发往【杭州转运中心】` → 广州转运中心, `【上海市】…派件中` → 上海市;
 * 3. STO dash style: `已到达-江苏南京转运中心`, `江苏南京转运中心-已装袋发往-江苏无锡中转部`,
 *    `江苏常州钟楼永红分部-永红十五-派件中` → the segment naming the site;
 * 4. SF style `快件在 深圳集散中心 ,准备送往下一站 深圳 [深圳市]` → 深圳集散中心;
 * 5. YTO web style `北京六和塔 已收入`, `北京七道堰 已发出,下一站 北京大学` → the leading site;
 * 6. unbracketed `到达 X转运中心` / `离开 X`;
 * 7. a trailing city tag `[深圳 市]` → 深圳市;
 * 8. otherwise the provider's structured location field, else null.
 */

/** Sites a parcel waits in for the customer. */
const PICKUP_SITE = String.raw`(?:菜鸟驿站|驿站|快递柜|智能柜|自提柜|自提点|代收点|服务站|快递超市|丰巢柜)`;
const PICKUP_RE = new RegExp(
  String.raw`(?:暂存至|暂存于|存放至|存放于|放入|存入|投递至|投入|到达|已到)\s*【?([^，,。；;！!【】\s]*?${PICKUP_SITE})】?`,
);

/** Words announcing the next hub rather than the current one. */
const NEXT_MARK = String.raw`(?:发往|送往|下一站|前往|转往)`;
const NEXT_BEFORE_BRACKET_RE = new RegExp(String.raw`${NEXT_MARK}[\s:：\-－]*$`);

const STO_ARRIVED_RE = /^(?:已到达|到达|已收入)[-－]([^-－\s，,。；;]+)/;
const STO_SITE_FIRST_RE = /^([^-－\s，,。；;【】\[]+)[-－](?:[^-－，,。；;]+[-－])?(?:已|派件|派送|正在)/;
const SF_AT_RE = /快件(?:已)?在\s*([^\s,，。；;【】\[\]]+)/;
const LEADING_SITE_RE = /^([^\s,，。；;【】\[\]:：]+)\s+(?:已发出|已收入|已到达|已揽收|已收件|已发往|已装袋|已打包|已拆包|已装车|已发车)/;
const ARRIVE_RE = /(?:已到达|到达)[\s:：]*([^\s，,。；;【】\[\]]+?(?:转运中心|分拨中心|集散中心|分拣中心|中转部|中转场|营业部|分部|网点|公司))/;
const LEAVE_RE = /离开[\s:：]*([^\s，,。；;【】\[\]]+?)(?=[\s，,。；;]|已?发往|$)/;
const CITY_TAG_RE = /\[([^\[\]]+)\]\s*$/;

const NEXT_RE = new RegExp(
  String.raw`${NEXT_MARK}(?:下一站)?[\s:：\-－]*(?:【([^】]+)】|([^\s，,。；;【】\[\]\-－]+))`,
);

function clean(s: string | undefined | null): string | null {
  const t = s?.trim();
  return t ? t : null;
}

/** The hub or station the event happened at, or `structured` (provider location field) when the text names none. */
export function extractHub(text: string, structured?: string | null): string | null {
  const t = text.trim();

  const pickup = PICKUP_RE.exec(t);
  if (pickup) return clean(pickup[1]);

  for (const m of t.matchAll(/【([^】]+)】/g)) {
    if (NEXT_BEFORE_BRACKET_RE.test(t.slice(0, m.index))) continue;
    const name = clean(m[1]);
    if (name) return name;
  }

  const stoArrived = STO_ARRIVED_RE.exec(t);
  if (stoArrived) return clean(stoArrived[1]);
  const stoSite = STO_SITE_FIRST_RE.exec(t);
  if (stoSite) return clean(stoSite[1]);

  const sf = SF_AT_RE.exec(t);
  if (sf) return clean(sf[1]);

  const leading = LEADING_SITE_RE.exec(t);
  if (leading) return clean(leading[1]);

  const arrive = ARRIVE_RE.exec(t);
  if (arrive) return clean(arrive[1]);
  const leave = LEAVE_RE.exec(t);
  if (leave) return clean(leave[1]);

  const city = CITY_TAG_RE.exec(t);
  if (city) return clean(city[1]!.replace(/\s+/g, ''));

  return clean(structured);
}

/** The next hub a departure text names (`已发往【杭州转运中心】`, `下一站 北京大学`), or null. */
export function extractNextHub(text: string): string | null {
  const m = NEXT_RE.exec(text);
  if (!m) return null;
  return clean(m[1] ?? m[2]);
}
