import { memoText } from './text-memo.js';
import { isPlaceName, isRegionOnly, leadingScanTag, normaliseHub, SCAN_TAGS } from './carrier-reading.js';

/**
 * Hub / station extraction from scan texts: where the event happened, as a place a customer would
 * recognise ("北京转运中心", "望京网点", "XX菜鸟驿站"). The carriers' writing styles are listed in
 * carrier-reading.ts; every name passes {@link normaliseHub} and {@link isPlaceName} there.
 *
 * Before reading: a leading scan-type tag (`【到件】`) and a leading city (`【深圳市】`, ZTO/EMS) are
 * removed, whitespace inside a site name is closed (`重庆航站 处理中心`), and everything after a contact
 * marker (请联系, 电话, 电联) is cut (phone numbers and a site's own hotline are not where the parcel is).
 *
 * Readers, tried in order (the first that yields a place name wins):
 * 1. a pickup station: `快件已由X菜鸟驿站代收`, `快件已到达X驿站`, `签收人: X菜鸟驿站签收`, `伟业百世邻里`, `由X店代收`;
 * 2. the first `【…】` that is not a destination (`发往【Y】`, `下一站 【Y】` are the NEXT hub) and not a
 *    tag, courier, signer, reason or phone: `快件离开【广州转运中心】已发往【杭州转运中心】` → 广州转运中心;
 * 3. Yunda/Kdniao `到达：site …` (Yunda's `[site]` and ZTO's `[深圳市] [深圳公明]` are read as 【】 in 2);
 * 4. STO dash style `已到达-江苏南京转运中心`, `江苏常州钟楼永红分部-永红十五-派件中`;
 * 5. SF `快件在 深圳集散中心 ,…`, `快件由X发往Y`, `X的<person>…` (天天), `X已收件` / `X安排投递` (EMS);
 * 6. YTO web style `北京六和塔 已收入`;
 * 7. unbracketed `到达 X处理中心` / `离开 X` (a bare city is not a hub: EMS `离开深圳市 发往广州市`);
 * 8. otherwise the provider's structured location field (not a bare country), else null.
 */

/** Sites a parcel waits in for the customer. */
const PICKUP_SITE = String.raw`(?:菜鸟驿站|驿站|快递柜|智能柜|自提柜|自提点|代收点|代理点|寄存点|服务站|快递超市|丰巢柜|百世邻里)`;
const PICKUP_TOKEN_RE = new RegExp(String.raw`[^\s，,。；;！!【】\[\]:：()（）]*?${PICKUP_SITE}(?:[0-9一二三四五六七八九十]+号[柜店站]?|分部)?`, 'g');
/** Words before a station name inside one token (`快件已到达X驿站`, `已由X代收`): everything up to the last one goes. */
const PICKUP_LEAD_RE = /^.*(?:暂存至|暂存于|存放至|存放于|放入|存入|投递至|投入|到达|已到|送达|已从|从|已由|由|被|签收人是|签收人为|签收人)/;

const PROXY_HOLDER_RE = /(?:已由|由|被)\s*【?([^，,。；;【】\s]+?)】?\s*(?:代收|代签)/;

/** Words announcing the next hub rather than the current one. */
const NEXT_MARK = String.raw`(?:发往|送往|下一站|前往|转往|目的地|上级站点)`;
const NEXT_BEFORE_BRACKET_RE = new RegExp(String.raw`${NEXT_MARK}[\s:：\-－]*$`);
/** A bracket right after these is a person or a reason, not a place. */
const NOT_PLACE_BEFORE_BRACKET_RE = /(?:员是?|签收人是?|签收人为|原因|联系|电话|人[:：]?)[\s:：]*$/;

/** Suffixes of carrier site names, for the unbracketed styles. */
const SITE_SUFFIX = /(?:中心|中转部|中转场|转运场|营业部|营业厅|营业点|营业所|揽投部|分部|网点|公司|集散|分拨|分拨点|枢纽|航空组|航空部|组|站|部|点|场|所|仓|口岸)$/;

const LEADING_CITY_RE = /^\s*【([^】]{1,10})】\s*/;
const CONTACT_RE = /(?:请联系|联系电话|联系方式|请电联|电联|电话[:：]|如有疑问|投诉电话).*$/s;
const YUNDA_KDN_RE = /^到达[:：]\s*([^\s，,。；;]+)/;
const STO_ARRIVED_RE = /^(?:已到达|到达|已收入)[-－]([^-－\s，,。；;]+)/;
const STO_SITE_FIRST_RE = /^([^-－\s，,。；;【】\[]+)[-－](?:.*?[-－])?(?:已|派件|派送|正在)/;
const SLASH_SCAN_RE = /^([^/\s，,。；;【】]+)\/[^/]*扫描/;
const SF_AT_RE = /快件(?:已)?在\s*([^\s,，。；;【】\[\]]+?)(?=签收|已|装车|进行|派件|正在|[\s,，。；;【】]|$)/;
const FROM_TO_RE = /(?:快件)?由\s*([^\s，,。；;【】]+?)\s*(?:扫描)?(?:发往|送往)/;
const SITE_OF_RE = /^([^\s，,。；;【】()（）]+?)\s*(?:[(（][^)）]*[)）])?\s*的/;
const SITE_VERB_RE =
  /^([^\s，,。；;【】\[\]:：]+?)\s*(?:已进行|进行|已收件|已揽收|已揽件|已收寄|安排投递|已发出|已收入|已打包|已装袋|已装车|已发车|正在派件|派件中)/;
const LEADING_SITE_RE = /^([^\s,，。；;【】\[\]:：]+)\s+(?:已发出|已收入|已到达|已揽收|已收件|已发往|已装袋|已打包|已拆包|已装车|已发车|已签收)/;
const ARRIVE_RE = /(?:已到达|到达|快件到达)[\s:：]*([^\s，,。；;【】\[\]()（）]+)/;
const LEAVE_RE = /离开[\s:：]*([^\s，,。；;【】\[\]()（）]+?)(?=[\s，,。；;(（]|已?发往|$)/;

const NEXT_RE = new RegExp(
  String.raw`${NEXT_MARK}(?:下一站)?[\s:：\-－]*(?:【([^】]+)】|([^\s，,。；;【】\[\]\-－]+))`,
);

/** The name as a hub, or null when it is not a place. */
function place(raw: string | undefined | null): string | null {
  const name = normaliseHub(raw);
  return name && isPlaceName(name) ? name : null;
}

/** A site name from an unbracketed style: must look like a carrier site (ends with 中心, 部, 网点, …). */
function site(raw: string | undefined | null): string | null {
  // EMS names its own outlets `真如(本部）`: the note is dropped by normaliseHub but makes it a site.
  if (raw && /本部[)）]\s*$/.test(raw)) return place(raw);
  const name = place(raw);
  return name && SITE_SUFFIX.test(name) && !isRegionOnly(name) ? name : null;
}

/** A place named without a site suffix (ZTO `广州广园的…`, `离开北京已发往…`): anything but a bare region, at least `min` characters. */
function local(raw: string | undefined | null, min = 2): string | null {
  const name = place(raw);
  return name && name.length >= min && !isRegionOnly(name) ? name : null;
}

/** The text with what is never a hub removed (tag, city prefix, contact details), ready for the readers. */
function prepare(text: string): string {
  let t = text.trim();
  if (leadingScanTag(t)) t = t.replace(/^\s*【[^】]*】\s*/, '');
  // Best via Kuaidi100: `收件|青岛市【…】`, `太原市|太原市【清徐县】…` (a scan tag or a city, then a pipe).
  const pipe = /^\s*([^|｜【】]{1,8})[|｜]/.exec(t);
  if (pipe && (SCAN_TAGS.has(pipe[1]!.trim()) || isRegionOnly(pipe[1]!.trim()))) t = t.slice(pipe[0].length);
  const city = LEADING_CITY_RE.exec(t);
  if (city && (!place(city[1]) || isRegionOnly(normaliseHub(city[1])!))) t = t.slice(city[0].length);
  t = t.replace(CONTACT_RE, '');
  // ZTO/Yunda also write [深圳市] [深圳公明]…: square brackets read like 【】 (a city alone is dropped below as well).
  t = t.replace(/\[([^\[\]]*)\]/g, '【$1】');
  const city2 = LEADING_CITY_RE.exec(t);
  if (city2 && isRegionOnly(normaliseHub(city2[1]) ?? '')) t = t.slice(city2[0].length);
  return t.replace(/(?<=[\u4e00-\u9fa5])\s+(?=(?:处理中心|转运中心|分拨中心|集散中心|中心|揽投部|营业部)(?:[\s，,。；;（(]|$))/g, '');
}

function pickupStation(t: string): string | null {
  for (const m of t.matchAll(PICKUP_TOKEN_RE)) {
    if (NEXT_BEFORE_BRACKET_RE.test(t.slice(0, m.index))) continue;
    const name = place(m[0].replace(PICKUP_LEAD_RE, ''));
    if (name) return name;
  }
  // `快件已由济南历城区翡翠雅郡北区西门店代收`: whoever holds it for the customer, named or not as a station.
  return place(PROXY_HOLDER_RE.exec(t)?.[1]);
}

function bracketed(t: string): string | null {
  for (const m of t.matchAll(/【([^】]*)】/g)) {
    const before = t.slice(0, m.index);
    if (NEXT_BEFORE_BRACKET_RE.test(before) || NOT_PLACE_BEFORE_BRACKET_RE.test(before)) continue;
    const [head, tail] = m[1]!.split('/');
    // `谢书平/15220240208` is a courier; `深圳宝安区二部/网点电话…` a site and its hotline.
    if (tail !== undefined && /\d/.test(tail) && /^[\u4e00-\u9fa5]{2,4}$/.test(head!.trim())) continue;
    if (SCAN_TAGS.has(head!.trim())) continue;
    const name = place(head);
    if (name && !isRegionOnly(name)) return name;
  }
  return null;
}

/** The hub or station the event happened at, or `structured` (provider location field) when the text names none. */
export function extractHub(text: string, structured?: string | null): string | null {
  return hubInText(text) ?? place(structured);
}

/** What extractHub reads from the text alone (memoised: texts repeat, see text-memo.ts). */
const hubInText = memoText((text: string): string | null => {
  const t = prepare(text);
  return (
    pickupStation(t) ??
    bracketed(t) ??
    place(YUNDA_KDN_RE.exec(t)?.[1]) ??
    place(STO_ARRIVED_RE.exec(t)?.[1]) ??
    place(STO_SITE_FIRST_RE.exec(t)?.[1]) ??
    site(SLASH_SCAN_RE.exec(t)?.[1]) ??
    place(SF_AT_RE.exec(t)?.[1]) ??
    place(FROM_TO_RE.exec(t)?.[1]) ??
    site(SITE_OF_RE.exec(t)?.[1]) ??
    local(SITE_OF_RE.exec(t)?.[1], 3) ??
    site(SITE_VERB_RE.exec(t)?.[1]) ??
    place(LEADING_SITE_RE.exec(t)?.[1]) ??
    site(ARRIVE_RE.exec(t)?.[1]) ??
    local(LEAVE_RE.exec(t)?.[1])
  );
});

/** The next hub a departure text names (`已发往【杭州转运中心】`, `下一站 北京大学`), or null. */
export function extractNextHub(text: string): string | null {
  const m = NEXT_RE.exec(text);
  if (!m) return null;
  return normaliseHub(m[1] ?? m[2]);
}
