/**
 * Where carriers write their events differently: the per-carrier styles the hub reader (hub.ts) and
 * the status rules must know, in one place. Style is recognised from the text itself, because the
 * same carrier reaches us through different providers (Kdniao relays STO's scan tags verbatim,
 * Kuaidi100 rewrites some texts) and a parser does not always know the carrier.
 *
 * | carrier (seen via)        | shape                                                         | the hub is          |
 * | ------------------------- | ------------------------------------------------------------- | ------------------- |
 * | STO, 天天 (Kdniao)        | `【到件】快件已到达【福建厦门机场二部】`, `【收件】上海新时代营业厅的刘刚…已收件` | the site after the scan-type tag; the tag (收件/发件/到件/派件/装车/装袋/签收/入柜/用户提货…) never |
 * | ZTO, EMS (Kuaidi100)      | `【深圳市】 快件已经到达 【深圳中心】`, `【黄石市】 黄石万达揽投部已收件` | the site after the city; the city prefix alone is not a hub |
 * | Yunda (Kuaidi100)         | `[四川成都分拨中心]在分拨中心进行卸车扫描`                      | the leading `[site]` |
 * | Yunda (Kdniao)            | `到达：广东广州分拨中心 发往：广东深圳公司`                      | the site after 到达： |
 * | Best/百世 (Kdniao)        | `郑州市【东区十部】，【刘文杰/17638917220】已揽收`, `到【青岛转运中心】` | the bracketed site; `name/phone` brackets are couriers |
 * | YTO                       | `【郑州转运中心公司】 已收入` / `【郑州转运中心】 已发出`, `北京六和塔 已收入` | the bracket or the leading site; `…中心公司` is `…中心` |
 * | SF                        | `快件到达 【丽水水阁集散中心】`, old `快件在 深圳集散中心 [深圳市]` | the bracket / the site after 快件在 / the trailing city tag |
 * | EMS                       | `到达广东速递物流公司广航中心处理中心（经转）`, `…揽投部安排投递（投递员姓名：…）` | the site; `离开深圳市 发往广州市` names only cities (no hub) |
 * | JD                        | `您的快件在【苏州北苑分拣中心】分拣完成`, `原因【暂未联系上客户】`    | the bracket; a reason in 【】 is not a place |
 * | pickup points (all)       | `快件已由X菜鸟驿站代收`, `快件已到达X驿站`, `签收人: X菜鸟驿站签收`   | the named station; a bare brand (菜鸟驿站, 丰巢) is not |
 *
 * Never hubs: scan-type tags, signers (`签收人【家人】`, 本人, 同事代签), couriers (`派件员【朱世涛】`,
 * `【谢书平/15220240208】`), phone numbers, reasons, cities on their own, anything after 请联系/电话.
 *
 * Hub spelling ({@link normaliseHub}): 【】 and surrounding whitespace removed, full-width ASCII and
 * spaces made half-width, whitespace between Chinese characters dropped (`重庆航站 处理中心`), a trailing
 * parenthetical note dropped (`(丰巢智能快递柜)`, `(0531-58788217)`, `（经转）`), and a redundant
 * `公司` after `…中心` dropped (YTO spells one site `郑州转运中心公司` and `郑州转运中心`). Other
 * `…公司` names are kept: for STO/Yunda/YTO the 公司 is part of the branch's name (上海罗泾公司).
 */

/** Scan-type tags STO and 天天 put first in 【】 (as relayed by Kdniao): what was done, not where. */
export const SCAN_TAGS: ReadonlySet<string> = new Set([
  '收件',
  '发件',
  '到件',
  '派件',
  '装车',
  '卸车',
  '装袋',
  '拆袋',
  '建包',
  '拆包',
  '签收',
  '入柜',
  '出柜',
  '用户提货',
  '问题件',
  '疑难件',
  '退件',
  '退回',
  '留仓',
  '到付',
  '代收',
  '揽收',
  '揽件',
  '中转',
  '称重',
]);

/** Who signed, written in 【】 or after 签收人: people and roles, never a place. */
const SIGNER = /^(?:本人|家人|亲属|同事|同事代签|朋友|邻居|他人|他人代签|前台|门卫|保安|物业|收发室|传达室|单位|代签|代收|客户|收件人|老板|员工)(?:代签|代收|签收)?$/;

/** Brands and generic words that name a kind of place, not a place. */
const GENERIC_PLACE = /^(?:菜鸟驿站|驿站|妈妈驿站|快递柜|智能柜|智能快递柜|自提柜|丰巢|丰巢柜|丰巢智能柜|丰巢智能快递柜|百世邻里|自提点|代收点|代理点|寄存点|快递超市|快递驿站|服务站|网点|站点|收寄点|目的地网点|派件网点|中转站|分拨中心|转运中心|处理中心|集散中心|营业部)$/;

/** A city, province or county on its own (`【深圳市】`, `离开深圳市`): a region, not a site a customer recognises. */
const REGION_ONLY = /^[\u4e00-\u9fa5]{1,8}(?:市|省|自治区|特别行政区|地区|自治州|盟)$|^(?:[\u4e00-\u9fa5]{1,8}?(?:省|市|自治区|自治州|地区|盟))(?:[\u4e00-\u9fa5]{1,8}?(?:市|区|县|自治州|旗))+$/;

/** A region on its own where a site should be (ZTO/EMS `【深圳市】` prefix, `离开深圳市`); SF's trailing `[深圳市]` tag and providers' location fields may still give one. */
export function isRegionOnly(name: string): boolean {
  return REGION_ONLY.test(name);
}

/** Country-only structured locations (17TRACK `US`, `CN`): no hub. */
const COUNTRY_ONLY = /^(?:[A-Z]{2}|[A-Z]{3}|China|中国|United States|USA)$/i;

/** The scan-type tag a text starts with (`【到件】…` → 到件), or null. */
export function leadingScanTag(text: string): string | null {
  const m = /^\s*【([^】]{1,6})】/.exec(text);
  return m && SCAN_TAGS.has(m[1]!) ? m[1]! : null;
}

/** Full-width ASCII and the ideographic space → half-width. */
function halfWidth(s: string): string {
  return s.replace(/[\uFF01-\uFF5E]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0)).replace(/\u3000/g, ' ');
}

/** One spelling per site (see the module comment); null when nothing is left. */
export function normaliseHub(name: string | null | undefined): string | null {
  if (name == null) return null;
  let s = halfWidth(name).replace(/[【】]/g, '').trim();
  s = s.replace(/(?<=[\u4e00-\u9fa5])\s+(?=[\u4e00-\u9fa5])/g, '');
  s = s.replace(/\s*\([^()]*\)\s*$/, '').trim();
  s = s.replace(/(?<=中心)公司$/, '');
  return s === '' ? null : s;
}

/**
 * Whether a candidate name (already normalised) can be a hub: not a scan tag, signer, courier
 * (`谢书平/15220240208`), phone number, reason, bare brand or region.
 */
export function isPlaceName(name: string): boolean {
  if (SCAN_TAGS.has(name) || SIGNER.test(name) || GENERIC_PLACE.test(name)) return false;
  if (/\d{7,}|\d{3,4}-\d{7,8}|\*{3}|^[\d\s-]+$/.test(name)) return false;
  if (/^(?:快件|您的|包裹|货物|订单|已)/.test(name) || /(?:签收|代签|代收)$/.test(name)) return false;
  if (/^[\u4e00-\u9fa5]{2,4}\s*\/\s*\d/.test(name)) return false;
  if (/[\u4e00-\u9fa5]/.test(name) === false && COUNTRY_ONLY.test(name)) return false;
  return true;
}

/**
 * Texts some carriers send as the only "event" when they know nothing (全峰 `查无结果` under state 3):
 * not an event at all. A reply made only of these is not_found.
 */
export const PLACEHOLDER_TEXT = /^(?:查无结果|查询无结果|暂无结果|暂无轨迹(?:信息)?|暂无物流(?:信息)?|此单(?:号)?(?:暂)?无(?:物流)?(?:信息|记录)|没有物流信息|无轨迹|单号不存在|no (?:tracking )?information|not found)[。.!！]?$/i;

export function isPlaceholderText(text: string): boolean {
  return PLACEHOLDER_TEXT.test(text.trim());
}

/** The key two spellings of one site share within one reply: `浙江省温州市平阳县公司` and `浙江省温州市平阳县`. */
function spellingKey(hub: string): string {
  return hub.replace(/\s+/g, '').replace(/(?:(?:分)?公司|处理中心|中转部|中心)$/, '');
}

/**
 * Within one reply, a site the carrier spells two ways (with and without a trailing 公司, 处理中心,
 * 中转部 or 中心: EMS `…航空邮件处` / `…航空邮件处处理中心`, ZTO `合肥` / `合肥中转部`) gets the
 * spelling it had first, so it counts once. Done per reply, not globally: `福建福清市公司` on its own
 * keeps its name, and two carriers' similar names are never merged.
 */
export function unifyHubSpellings<E extends { hub: string | null }>(events: E[]): E[] {
  const first = new Map<string, string>();
  for (const e of events) {
    if (!e.hub) continue;
    const key = spellingKey(e.hub);
    const seen = first.get(key);
    if (seen === undefined) first.set(key, e.hub);
    else e.hub = seen;
  }
  return events;
}
