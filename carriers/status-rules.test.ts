import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Status } from '../domain/status.js';
import { STATUSES } from '../domain/status.js';
import { classifyText, FORWARD_SIGN_RULE, matchTextRule, statusFromText, stripBoilerplate, stripForward, TEXT_RULES } from './status-rules.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), 'utf8'));

describe('TEXT_RULES table', () => {
  it('has unique ids, canonical statuses and at least one example per row', () => {
    expect(new Set(TEXT_RULES.map((r) => r.id)).size).toBe(TEXT_RULES.length);
    for (const r of TEXT_RULES) {
      expect(STATUSES).toContain(r.status);
      expect(r.examples.length).toBeGreaterThan(0);
    }
  });

  // One case per row: every example is classified by its own row (not an earlier one).
  for (const rule of TEXT_RULES) {
    it.each(rule.examples.map((e) => [e]))(`${rule.id}: %s`, (text) => {
      expect(matchTextRule(text)?.id).toBe(rule.id);
      expect(statusFromText(text)).toBe(rule.status);
    });
  }
});

describe('statusFromText: words from the brief and glossary', () => {
  const cases: [string, Status | null][] = [
    ['快件已揽收', 'collected'],
    ['揽件成功', 'collected'],
    ['已收件', 'collected'],
    ['顺丰速运 已收件', 'collected'],
    ['已下单', 'info_received'],
    ['待揽收', 'info_received'],
    ['已打印', 'info_received'],
    ['快件已到达【杭州转运中心】', 'arrived_at_hub'],
    ['【苏州转运中心公司】 已收入', 'arrived_at_hub'],
    ['快件到达 武汉转运中心', 'arrived_at_hub'],
    ['上海浦东分拨中心', 'arrived_at_hub'],
    ['成都双流集散中心', 'arrived_at_hub'],
    ['快件离开【广州转运中心】已发往【杭州转运中心】', 'in_transit'],
    ['已发出', 'in_transit'],
    ['运输中', 'in_transit'],
    ['干线运输', 'in_transit'],
    ['【上海市】快件派送中', 'out_for_delivery'],
    ['正在投递', 'out_for_delivery'],
    ['快递员 张三 正在为您派件', 'out_for_delivery'],
    ['快件已放入丰巢智能柜，请凭取件码取件', 'at_pickup_point'],
    ['快件已暂存至常州世纪明珠园17-7号店菜鸟驿站', 'at_pickup_point'],
    ['快递柜', 'at_pickup_point'],
    ['待取件', 'at_pickup_point'],
    ['已取出', 'delivered'],
    ['已签收，签收人凭取货码签收', 'delivered'],
    ['已签收,签收人凭取货码签收', 'delivered'],
    ['签收', 'delivered'],
    ['本人签收', 'delivered'],
    ['代签收', 'delivered'],
    ['他人签收', 'delivered'],
    ['签收人是:张三', 'delivered'],
    ['派件已签收', 'delivered'],
    ['问题件', 'problem'],
    ['疑难件', 'problem'],
    ['快件滞留在中转站', 'problem'],
    ['外包装破损', 'problem'],
    ['快件丢失', 'problem'],
    ['快件异常', 'problem'],
    ['派送不成功', 'failed_attempt'],
    ['收件人无法联系', 'failed_attempt'],
    ['派件异常', 'failed_attempt'],
    ['拒签', 'rejected'],
    ['拒收', 'rejected'],
    ['拒收(退件)', 'rejected'],
    ['快件退回', 'returning'],
    ['退件', 'returning'],
    ['退签', 'returned'],
    ['已退回寄件人', 'returned'],
    ['快件转投中通', 'in_transit'],
    ['转寄', 'in_transit'],
    ['清关中', 'in_transit'],
    ['【苏州转运中心】 已发出 下一站 【无锡转运中心公司】', 'in_transit'],
    ['', null],
  ];
  it.each(cases)('%s → %s', (text, status) => {
    expect(statusFromText(text)).toBe(status);
  });
});

describe('issue 11 class 1: forward-looking and negated phrases', () => {
  const cases: [string, Status, string][] = [
    ['正在派送途中,请您准备签收', 'out_for_delivery', 'out_for_delivery'],
    ['正在派送中，请您准备签收', 'out_for_delivery', 'out_for_delivery'],
    ['【深圳市】快件已到达【深圳宝安网点】，请注意签收', 'arrived_at_hub', 'arrived_at_hub'],
    ['请您准备签收', 'out_for_delivery', 'forward_sign'],
    ['预计今日签收', 'out_for_delivery', 'forward_sign'],
    ['等待客户签收', 'out_for_delivery', 'forward_sign'],
    ['快递员即将为您派送，请保持电话畅通，方便签收', 'out_for_delivery', 'out_for_delivery'],
    ['快件地址不详，无法派送，请联系寄件方', 'problem', 'delivery_blocked'],
    ['因天气原因暂停派送', 'problem', 'delivery_blocked'],
    ['快件延迟派送', 'problem', 'delivery_blocked'],
    ['收件地址不在服务范围，不能投递', 'problem', 'delivery_blocked'],
    ['快件未能派送，客户要求改天', 'failed_attempt', 'failed_attempt'],
    ['派件异常后已签收', 'delivered', 'delivered_after_issue'],
    ['已签收，签收人：本人，请您对服务进行评价', 'delivered', 'delivered'],
  ];
  it.each(cases)('%s → %s (%s)', (text, status, rule) => {
    expect(statusFromText(text)).toBe(status);
    expect(classifyText(text)).toEqual({ status, rule: `text:${rule}` });
  });
  it('a forward phrase is removed, never turned into a signature', () => {
    expect(stripForward('正在派送途中,请您准备签收')).not.toMatch(/签收/);
    expect(FORWARD_SIGN_RULE.status).not.toBe('delivered');
  });
});

describe('statusFromText: traps', () => {
  it('"如有疑问请联系" never triggers problem', () => {
    expect(statusFromText('如有疑问请联系派件员')).toBeNull();
    expect(statusFromText('已签收，如有异常请致电95311')).toBe('delivered');
    expect(statusFromText('快件已暂存至XX菜鸟驿站，如有问题请联系15312399123')).toBe('at_pickup_point');
    expect(stripBoilerplate('已签收,如有疑问请联系派件员永红十五，感谢使用申通快递')).not.toMatch(/疑问|派件/);
  });
  it('未签收 / 待签收 is not a delivery', () => {
    expect(statusFromText('快件待签收')).toBeNull();
    expect(statusFromText('客户未签收，派送不成功')).toBe('failed_attempt');
  });
  it('收件人 is not a collection', () => {
    expect(statusFromText('正在派件，请保持收件人电话畅通')).toBe('out_for_delivery');
  });
  it('a courier putting a parcel in a locker is a locker hold', () => {
    expect(statusFromText('快递员已将快件放入丰巢智能柜')).toBe('at_pickup_point');
  });
  it('pre-advice mentioning the courier stays pre-advice', () => {
    expect(statusFromText('商家已下单，等待快递员揽收')).toBe('info_received');
  });
  it('a courier collection scan is collected', () => {
    expect(statusFromText('快递员 李四 已揽件')).toBe('collected');
  });
});

/** Every Chinese event text of the provider samples, with its expected status. */
describe('payload samples', () => {
  const expected = new Map<string, Status>([
    // kuaidi100-query.json / kuaidi100-push-param.json (YTO)
    ['【苏州转运中心】 已发出 下一站 【无锡转运中心公司】', 'in_transit'],
    ['【苏州转运中心公司】 已收入', 'arrived_at_hub'],
    ['【江苏省无锡市锡新开发区公司】 已收入', 'arrived_at_hub'],
    ['【江苏省苏州市北桥公司】 已揽收', 'collected'],
    // kuaidi100-query-basic-delivered.json
    ['客户 签收人 : 本人签收 已签收 感谢使用圆通速递,期待再次为您服务', 'delivered'],
    ['派送不成功,政府机关、学校等特殊单位,正在安排处理中。', 'failed_attempt'],
    ['北京大学 已签收', 'delivered'],
    ['北京七道堰 已发出,下一站 北京大学', 'in_transit'],
    ['北京六和塔 已收入', 'arrived_at_hub'],
    ['浙江省五道口 已发出,下一站 北京转运中心', 'in_transit'],
    ['浙江省四码头 已收入', 'arrived_at_hub'],
    ['浙江省三里屯 已发出,下一站 浙江省金华市义乌市', 'in_transit'],
    // kdniao-1002.json (SF)
    ['正在派件..(派件人:邓裕富,电话:18718866310)[深圳 市]', 'out_for_delivery'],
    ['快件在 深圳集散中心 ,准备送往下一站 深圳 [深圳市]', 'in_transit'],
    ['快件在 深圳集散中心 [深圳市]', 'arrived_at_hub'],
    ['已收件[深圳市]', 'collected'],
    ['快件在 深圳 ,准备送往下一站 深圳集散中心 [深圳市]', 'in_transit'],
    ['派件已签收[深圳市]', 'delivered'],
    ['签收人是:已签收[深圳市]', 'delivered'],
    // kdniao-8001.json (STO)
    ['江苏省市场部九十四部-大客户13-已收件', 'collected'],
    ['江苏南京江宁公司-已装袋发往-江苏南京转运中心', 'in_transit'],
    ['已到达-江苏南京转运中心', 'arrived_at_hub'],
    ['江苏南京转运中心-已装袋发往-江苏无锡中转部', 'in_transit'],
    ['已到达-江苏无锡中转部', 'arrived_at_hub'],
    ['江苏无锡中转部-已装袋发往-江苏常州集散中心', 'in_transit'],
    ['已到达-江苏常州集散中心', 'arrived_at_hub'],
    ['江苏常州集散中心-已发往-江苏常州公司', 'in_transit'],
    ['已到达-江苏常州钟楼永红分部', 'arrived_at_hub'],
    ['江苏常州钟楼永红分部-永红十五-派件中', 'out_for_delivery'],
    [
      '已签收,签收人是（徐15861196435）先生/女士，风里来，雨里去，汗也撒泪也流，申通小哥一刻不停留。不求服务惊天下，但求好评动我心，给个好评呗！！如有疑问请联系派件员永红十五，感谢使用申通快递，期待再次为您服务',
      'delivered',
    ],
    ['快件已暂存至常州世纪明珠园17-7号店菜鸟驿站，如有疑问请联系15312399123', 'at_pickup_point'],
    ['已签收，签收人凭取货码签收。', 'delivered'],
  ]);

  const texts: string[] = [];
  for (const e of fixture('kuaidi100-query.json').data) texts.push(e.context);
  for (const e of fixture('kuaidi100-push-param.json').lastResult.data) texts.push(e.context);
  for (const e of fixture('kuaidi100-query-basic-delivered.json').data) texts.push(e.context);
  for (const t of fixture('kdniao-1002.json').Traces) texts.push(t.AcceptStation);
  for (const t of fixture('kdniao-8001.json').Traces) texts.push(t.AcceptStation);
  const unique = [...new Set(texts)];

  it('covers every Chinese sample text', () => {
    expect(unique.length).toBeGreaterThan(25);
    for (const t of unique) expect(expected.has(t), `no expectation for ${t}`).toBe(true);
  });

  it.each(unique.map((t) => [t]))('%s', (text) => {
    expect(statusFromText(text)).toBe(expected.get(text));
  });

  // Issue 11 class 4: 17TRACK events without a stage carry only the English description, so English
  // texts are read by the en_* rules (they used to match nothing and stayed unknown).
  it('English texts of 17TRACK/AfterShip samples are read by the English rules', () => {
    const english: [string, Status][] = [
      ['Picked up', 'collected'],
      ['Arrived at FedEx location', 'arrived_at_hub'],
      ['Departed FedEx location', 'in_transit'],
      ['The shipment is available for pick-up from the retail outlet retail outlet Valentinskamp 88 20355 Hamburg as of now.', 'at_pickup_point'],
    ];
    for (const [t, status] of english) {
      expect(statusFromText(t), t).toBe(status);
      expect(matchTextRule(t)!.id, t).toMatch(/^en_/);
    }
    for (const c of fixture('aftership-tracking.json').data.checkpoints ?? []) {
      expect(matchTextRule(c.message)?.id ?? 'en_', c.message).toMatch(/^en_/);
    }
  });
});
