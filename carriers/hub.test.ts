import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { extractHub, extractNextHub } from './hub.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), 'utf8'));

describe('extractHub: brief examples', () => {
  const cases: [string, string | null][] = [
    ['快件已到达【杭州转运中心】', '杭州转运中心'],
    ['快件离开【广州转运中心】已发往【杭州转运中心】', '广州转运中心'],
    ['【上海市】快件派送中', '上海市'],
    ['【上海市浦东新区张江营业部】快递员 张三 正在派件', '上海市浦东新区张江营业部'],
    ['江苏南京转运中心-已装袋发往-江苏无锡中转部', '江苏南京转运中心'],
    ['已到达-江苏南京转运中心', '江苏南京转运中心'],
    ['快件在 深圳集散中心 ,准备送往下一站 深圳 [深圳市]', '深圳集散中心'],
    ['【苏州转运中心公司】 已收入', '苏州转运中心公司'],
    ['快件已暂存至常州世纪明珠园17-7号店菜鸟驿站，如有疑问请联系15312399123', '常州世纪明珠园17-7号店菜鸟驿站'],
    ['快件已放入丰巢智能柜，请凭取件码取件', '丰巢智能柜'],
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
    ['【苏州转运中心】 已发出 下一站 【无锡转运中心公司】', '无锡转运中心公司'],
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
    ['【苏州转运中心公司】 已收入', '苏州转运中心公司'],
    ['【江苏省无锡市锡新开发区公司】 已收入', '江苏省无锡市锡新开发区公司'],
    ['【江苏省苏州市北桥公司】 已揽收', '江苏省苏州市北桥公司'],
    ['客户 签收人 : 本人签收 已签收 感谢使用圆通速递,期待再次为您服务', null],
    ['派送不成功,政府机关、学校等特殊单位,正在安排处理中。', null],
    ['北京大学 已签收', null],
    ['北京七道堰 已发出,下一站 北京大学', '北京七道堰'],
    ['北京六和塔 已收入', '北京六和塔'],
    ['浙江省五道口 已发出,下一站 北京转运中心', '浙江省五道口'],
    ['浙江省四码头 已收入', '浙江省四码头'],
    ['浙江省三里屯 已发出,下一站 浙江省金华市义乌市', '浙江省三里屯'],
    ['正在派件..(派件人:邓裕富,电话:18718866310)[深圳 市]', '深圳市'],
    ['快件在 深圳集散中心 ,准备送往下一站 深圳 [深圳市]', '深圳集散中心'],
    ['快件在 深圳集散中心 [深圳市]', '深圳集散中心'],
    ['已收件[深圳市]', '深圳市'],
    ['快件在 深圳 ,准备送往下一站 深圳集散中心 [深圳市]', '深圳'],
    ['派件已签收[深圳市]', '深圳市'],
    ['签收人是:已签收[深圳市]', '深圳市'],
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
