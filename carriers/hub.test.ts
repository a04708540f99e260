import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isPlaceName, leadingScanTag, normaliseHub } from './carrier-reading.js';
import { extractHub, extractNextHub } from './hub.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), 'utf8'));

describe('extractHub: brief examples', () => {
  const cases: [string, string | null][] = [
    ['快件已到达【杭州转运中心】', '杭州转运中心'],
    ['快件离开【广州转运中心】已发往【杭州转运中心】', '广州转运中心'],
    // Issue 11 class 5: a city prefix alone (ZTO/EMS style) is not a site.
    ['【上海市】快件派送中', null],
    ['【上海市浦东新区张江营业部】快递员 张三 正在派件', '上海市浦东新区张江营业部'],
    ['江苏南京转运中心-已装袋发往-江苏无锡中转部', '江苏南京转运中心'],
    ['已到达-江苏南京转运中心', '江苏南京转运中心'],
    ['快件在 深圳集散中心 ,准备送往下一站 深圳 [深圳市]', '深圳集散中心'],
    // YTO spells one site 【X转运中心公司】 and 【X转运中心】: one spelling (issue 11 class 5).
    ['【苏州转运中心公司】 已收入', '苏州转运中心'],
    ['快件已暂存至常州世纪明珠园17-7号店菜鸟驿站，如有疑问请联系15312399123', '常州世纪明珠园17-7号店菜鸟驿站'],
    // A bare locker brand names no place a customer recognises.
    ['快件已放入丰巢智能柜，请凭取件码取件', null],
    ['快件已到达【张江家园菜鸟驿站】，请及时领取', '张江家园菜鸟驿站'],
    ['快件到达 武汉转运中心，正在分拣', '武汉转运中心'],
    ['快件离开 北京顺义分拨中心，发往 上海', '北京顺义分拨中心'],
  ];
  it.each(cases)('%s → %s', (text, hub) => {
    expect(extractHub(text)).toBe(hub);
  });
});

describe('extractHub: structured fallback', () => {
  it('uses the provider location when the text names no site', () => {
    expect(extractHub('已签收，签收人：本人', '上海市')).toBe('上海市');
    expect(extractHub('Picked up', 'MEMPHIS, TN 38118')).toBe('MEMPHIS, TN 38118');
  });
  it('prefers the text over the structured field', () => {
    expect(extractHub('快件已到达【杭州转运中心】', '杭州市')).toBe('杭州转运中心');
  });
  it('returns null for nothing, blank or whitespace', () => {
    expect(extractHub('已签收，签收人：本人')).toBeNull();
    expect(extractHub('已签收', '  ')).toBeNull();
    expect(extractHub('', null)).toBeNull();
  });
  it('a bracket after 发往/下一站 alone is the next hub, not the current one', () => {
    expect(extractHub('快件已发往【杭州转运中心】', '广州市')).toBe('广州市');
  });
});

describe('extractNextHub', () => {
  const cases: [string, string | null][] = [
    ['快件离开【广州转运中心】已发往【杭州转运中心】', '杭州转运中心'],
    ['【苏州转运中心】 已发出 下一站 【无锡转运中心公司】', '无锡转运中心'],
    ['江苏南京转运中心-已装袋发往-江苏无锡中转部', '江苏无锡中转部'],
    ['江苏常州集散中心-已发往-江苏常州公司', '江苏常州公司'],
    ['快件在 深圳集散中心 ,准备送往下一站 深圳 [深圳市]', '深圳'],
    ['快件在 深圳 ,准备送往下一站 深圳集散中心 [深圳市]', '深圳集散中心'],
    ['北京七道堰 已发出,下一站 北京大学', '北京大学'],
    ['快件已到达【杭州转运中心】', null],
  ];
  it.each(cases)('%s → %s', (text, hub) => {
    expect(extractNextHub(text)).toBe(hub);
  });
});

describe('payload samples', () => {
  type Row = [string, string | null];
  const k100: Row[] = fixture('kuaidi100-query.json').data.map((e: { context: string; location: string }) => [e.context, e.location]);
  const basic: Row[] = fixture('kuaidi100-query-basic-delivered.json').data.map((e: { context: string; location: null }) => [e.context, e.location]);
  const sf: Row[] = fixture('kdniao-1002.json').Traces.map((t: { AcceptStation: string }) => [t.AcceptStation, null]);
  const sto: Row[] = fixture('kdniao-8001.json').Traces.map((t: { AcceptStation: string; Location: string }) => [t.AcceptStation, t.Location]);

  const expected = new Map<string, string | null>([
    ['【苏州转运中心】 已发出 下一站 【无锡转运中心公司】', '苏州转运中心'],
    // YTO spells one site 【X转运中心公司】 and 【X转运中心】: one spelling (issue 11 class 5).
    ['【苏州转运中心公司】 已收入', '苏州转运中心'],
    ['【江苏省无锡市锡新开发区公司】 已收入', '江苏省无锡市锡新开发区公司'],
    ['【江苏省苏州市北桥公司】 已揽收', '江苏省苏州市北桥公司'],
    ['客户 签收人 : 本人签收 已签收 感谢使用圆通速递,期待再次为您服务', null],
    ['派送不成功,政府机关、学校等特殊单位,正在安排处理中。', null],
    ['北京大学 已签收', '北京大学'],
    ['北京七道堰 已发出,下一站 北京大学', '北京七道堰'],
    ['北京六和塔 已收入', '北京六和塔'],
    ['浙江省五道口 已发出,下一站 北京转运中心', '浙江省五道口'],
    ['浙江省四码头 已收入', '浙江省四码头'],
    ['浙江省三里屯 已发出,下一站 浙江省金华市义乌市', '浙江省三里屯'],
    ['正在派件..(派件人:邓裕富,电话:18718866310)[深圳 市]', null], // SF's trailing city tag is a region, not a site (corpus kdniao/sf-doc-example-slash-times)
    ['快件在 深圳集散中心 ,准备送往下一站 深圳 [深圳市]', '深圳集散中心'],
    ['快件在 深圳集散中心 [深圳市]', '深圳集散中心'],
    ['已收件[深圳市]', null], // SF's trailing city tag is a region, not a site (corpus kdniao/sf-doc-example-slash-times)
    ['快件在 深圳 ,准备送往下一站 深圳集散中心 [深圳市]', '深圳'],
    ['派件已签收[深圳市]', null], // SF's trailing city tag is a region, not a site (corpus kdniao/sf-doc-example-slash-times)
    ['签收人是:已签收[深圳市]', null], // SF's trailing city tag is a region, not a site (corpus kdniao/sf-doc-example-slash-times)
    ['江苏省市场部九十四部-大客户13-已收件', '江苏省市场部九十四部'],
    ['江苏南京江宁公司-已装袋发往-江苏南京转运中心', '江苏南京江宁公司'],
    ['已到达-江苏南京转运中心', '江苏南京转运中心'],
    ['江苏南京转运中心-已装袋发往-江苏无锡中转部', '江苏南京转运中心'],
    ['已到达-江苏无锡中转部', '江苏无锡中转部'],
    ['江苏无锡中转部-已装袋发往-江苏常州集散中心', '江苏无锡中转部'],
    ['已到达-江苏常州集散中心', '江苏常州集散中心'],
    ['江苏常州集散中心-已发往-江苏常州公司', '江苏常州集散中心'],
    ['已到达-江苏常州钟楼永红分部', '江苏常州钟楼永红分部'],
    ['江苏常州钟楼永红分部-永红十五-派件中', '江苏常州钟楼永红分部'],
    ['快件已暂存至常州世纪明珠园17-7号店菜鸟驿站，如有疑问请联系15312399123', '常州世纪明珠园17-7号店菜鸟驿站'],
  ]);

  it.each([...k100, ...basic, ...sf])('%s (structured %s)', (text: string, location: string | null) => {
    expect(expected.has(text), `no expectation for ${text}`).toBe(true);
    expect(extractHub(text, location)).toBe(expected.get(text));
  });

  it.each(sto)('STO: %s (structured %s)', (text: string, location: string | null) => {
    // Signed-for texts name no site: the structured Location (常州市) is used.
    expect(extractHub(text, location)).toBe(expected.has(text) ? expected.get(text) : location);
  });
});

/** Issue 11 class 5: per-carrier styles (carriers/carrier-reading.ts). Texts from the golden corpus (test/corpus/, sources in index.json). */
describe('extractHub: carrier styles from real replies', () => {
  const cases: [string, string | null][] = [
    // STO / 天天 scan-type tags (kdniao/sto-tag-style-*.json, kdniao/hhtt-tag-style-station-pickup.json)
    ['【收件】【上海罗泾公司】的收件员【操作部】已收件', '上海罗泾公司'],
    ['【装袋】【上海罗泾公司】正在进行【装袋】扫描', '上海罗泾公司'],
    ['【发件】快件在【江苏通州公司】由【杨国军】扫描发往【浙江杭州中转部】', '江苏通州公司'],
    ['【到件】快件已到达【福建厦门机场二部】', '福建厦门机场二部'],
    ['【派件】【福建厦门机场二部】的派件员【朱世涛】正在派件', '福建厦门机场二部'],
    ['【签收】已签收,签收人是:【本人】', null],
    ['【签收】已签收,签收人是:【同事代签】', null],
    ['【收件】上海新时代营业厅的刘刚18217192572已收件，扫描员是刘刚18217192572', '上海新时代营业厅'],
    ['【到件】快件到达堤口路分部(0531-58788217)，上一站是济南分拨中心，扫描员是陈广军15098807675', '堤口路分部'],
    ['【发件】快件由上海集散航空组发往济南分拨中心', '上海集散航空组'],
    ['【签收】快件已签收,签收人是菜鸟驿站，签收网点是堤口路分部(0531-58788217)', null],
    ['【入柜】快件已由济南金色阳光花园小区店菜鸟驿站代收，请及时取件，如有疑问请联系15866721633', '济南金色阳光花园小区店菜鸟驿站'],
    ['【用户提货】已签收，签收人凭取货码签收。', null],
    // ZTO / EMS city prefix (kdniao/zto-cainiao-proxy-action-codes.json, kuaidi100/ems-city-bracket-signed.json)
    ['【深圳市】 快件已经到达 【深圳中心】', '深圳中心'],
    ['【深圳市】 【龙岗坂田】（0755-28908542、0755-28900074、18938946839） 的 瞬必达云仓（18025841477） 已揽收', '龙岗坂田'],
    ['【黄石市】 黄石万达揽投部已收件（揽投员姓名：王劲松,联系电话:07146359699）', '黄石万达揽投部'],
    ['【重庆市】 到达  重庆航站 处理中心', '重庆航站处理中心'],
    ['【重庆市】 离开重庆市 发往重庆市邮政速递物流公司武隆分公司直营揽投部', null],
    ['【黄石市】 已离开收寄点，发往武汉市航空邮件转运站', null],
    ['【重庆市】 投递并签收，签收人：本人收', null],
    ['呼和浩特市邮政速递物流分公司金川揽投部安排投递（投递员姓名：安长虹;联系电话：18047140142）', '呼和浩特市邮政速递物流分公司金川揽投部'],
    // Yunda (kuaidi100/yd-bracket-site-*.json, kdniao/yd-daoda-*.json)
    ['[四川成都青羊区西门三公司]到达目的地网点，快件将很快进行派送', '四川成都青羊区西门三公司'],
    ['到达：广东广州分拨中心 上级站点：广东广州分拨中心黄埔分拨点', '广东广州分拨中心'],
    ['到达：广东广州增城市新塘公司牛仔王便民寄存点 已收件', '广东广州增城市新塘公司牛仔王便民寄存点'],
    // Best (kdniao/htky-*.json): couriers in 【name/phone】, the named neighbourhood point
    ['【谢书平/15220240208】正在派件，【深圳宝安区二部/网点电话18118746589    18124037610  18924604931】', '深圳宝安区二部'],
    ['焦作市【武陟】，东大街代理点18603911982 已签收', '东大街代理点'],
    ['派件送达【百世邻里】伟业百世邻里，请前往五号楼下百世（水站旁边）领取您的包裹，联系电话：13676908485', '伟业百世邻里'],
    // signer, contact brackets, reasons (kuaidi100/hhtt-family-signed.json, kuaidi100/jd-assigned-then-failed-attempt.json)
    ['客官，您的快件已签收，签收人【家人】，如有任何疑问，请联系【17710521621】/【北京东城天坛13131467202】', null],
    ['您的快件派送不成功，原因【暂未联系上客户】，预计下次派送时间2022-01-26 17:00', null],
    // stations: 快件已到达X驿站 is X驿站, not 达X驿站 (kdniao/yto-mama-station-proxy-signed.json)
    ['快件已到达世纪联华超市圆通速递妈妈驿站联系电话13781463122', '世纪联华超市圆通速递妈妈驿站'],
    ['客户 签收人: 北苑三栋菜鸟驿站签收 已签收 感谢使用圆通速递，期待再次为您服务', '北苑三栋菜鸟驿站'],
    ['【杭州市】 快件已送达【丰巢的UDC华联时代大厦(丰巢智能快递柜)】, 如有问题请电联（13362896346）', '丰巢的UDC华联时代大厦'],
  ];
  it.each(cases)('%s → %s', (text, hub) => {
    expect(extractHub(text)).toBe(hub);
  });

  it('normalises one site to one spelling: brackets, full-width, inner spaces, trailing note, …中心公司', () => {
    expect(normaliseHub('【郑州转运中心公司】')).toBe('郑州转运中心');
    expect(normaliseHub('ＵＤＣ华联 大厦（丰巢智能快递柜）')).toBe('UDC华联大厦');
    expect(normaliseHub('上海罗泾公司')).toBe('上海罗泾公司');
    expect(normaliseHub('Ontario, CA, US')).toBe('Ontario, CA, US');
  });

  it('scan tags, signers, couriers, phones, bare brands and countries are not places', () => {
    for (const n of ['到件', '用户提货', '家人', '同事代签', '谢书平/15220240208', '17710521621', '菜鸟驿站', '丰巢智能柜', 'US']) expect(isPlaceName(n), n).toBe(false);
    for (const n of ['北京转运中心', '望京网点', '杭州余杭', 'Ontario, CA, US']) expect(isPlaceName(n), n).toBe(true);
    expect(leadingScanTag('【到件】快件已到达【X】')).toBe('到件');
    expect(leadingScanTag('【深圳市】 快件已经到达 【深圳中心】')).toBeNull();
  });
});
