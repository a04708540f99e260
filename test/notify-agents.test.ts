import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { fixedClock } from '../domain/clock.js';
import type { OutreachTaskView } from '../domain/outreach.js';
import {
  AgentWebhookChannel,
  createAgentChannels,
  DingtalkChannel,
  dingtalkMarkdown,
  WECOM_MAX_BYTES,
  WecomChannel,
  wecomContent,
} from '../notify/agents/index.js';
import { ChannelError } from '../notify/channel-error.js';
import { verifySignature } from '../notify/sign.js';
import { type ChannelSink, startChannelSink } from './fakes/channel-sink.js';

const TZ = 'Asia/Shanghai';
const NOW = '2026-11-12T02:30:00.000Z'; // 10:30 in Shanghai
const SECRET = 'whsec-test';

function task(over: Partial<OutreachTaskView> = {}): OutreachTaskView {
  return {
    id: 42,
    orderId: 'TB20261111001',
    platform: 'taobao',
    status: 'open',
    type: 'tracking_stalled',
    severity: 'critical',
    priority: 220,
    reason: '物流自 2026-11-10 08:00 未更新（中通快递 ZT123，杭州转运中心）',
    script: '张三您好，我是店铺客服。非常抱歉，您的包裹（中通快递 ZT123）物流信息没有更新。',
    dueBy: '2026-11-12T04:30:00.000Z', // 12:30 Shanghai
    overdue: false,
    agent: null,
    customer: { name: '张三', phone: '13800138000', handle: 'tb_zhangsan' },
    carrier: '中通快递',
    trackingNo: 'ZT1234567890',
    lastEvent: '快件已到达【杭州转运中心】',
    lastHub: '杭州转运中心',
    exceptions: [{ id: 7, type: 'tracking_stalled', severity: 'critical', trackingNo: 'ZT1234567890', status: 'open' }],
    outcome: null,
    compensationYuan: null,
    notes: null,
    cancelReason: null,
    version: 1,
    createdAt: '2026-11-12T02:00:00.000Z',
    updatedAt: '2026-11-12T02:00:00.000Z',
    ...over,
  };
}

async function rejection(p: Promise<unknown>): Promise<ChannelError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ChannelError);
  return err as ChannelError;
}

let sink: ChannelSink;
beforeAll(async () => {
  sink = await startChannelSink();
});
afterAll(async () => {
  await sink.close();
});
beforeEach(() => {
  sink.requests.length = 0;
});

describe('agent webhook', () => {
  const clock = fixedClock(NOW);
  const channel = () => new AgentWebhookChannel({ url: `${sink.url}/hooks/outreach`, secret: SECRET, timeoutMs: 2000 }, clock);

  it('POSTs a signed camelCase {event, task, sentAt} with idempotency and event headers', async () => {
    await channel().send('outreach.created', task(), 'outreach:42:v1:created');
    expect(sink.requests).toHaveLength(1);
    const req = sink.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/hooks/outreach');
    expect(req.headers['content-type']).toMatch(/^application\/json/);
    expect(req.headers['idempotency-key']).toBe('outreach:42:v1:created');
    expect(req.headers['x-parcelwatch-event']).toBe('outreach.created');
    expect(req.json).toEqual({ event: 'outreach.created', task: task(), sentAt: NOW });
    // Signature: verifies with the secret, fails with another one, and is the documented HMAC.
    expect(sink.verify(req, SECRET)).toBe(true);
    expect(sink.verify(req, 'not-the-secret')).toBe(false);
    expect(verifySignature(SECRET, req.raw + ' ', req.headers['x-parcelwatch-signature'] as string)).toBe(false);
    const hex = createHmac('sha256', SECRET).update(req.raw).digest('hex');
    expect(req.headers['x-parcelwatch-signature']).toBe(`sha256=${hex}`);
  });

  it('500 is transient', async () => {
    sink.failNext(1, 500);
    const err = await rejection(channel().send('outreach.updated', task(), 'k1'));
    expect(err.kind).toBe('transient');
    expect(err.status).toBe(500);
  });

  it('429 is transient and carries Retry-After', async () => {
    sink.failNext(1, 429, { error: 'slow down' }, { 'retry-after': '7' });
    const err = await rejection(channel().send('outreach.updated', task(), 'k1'));
    expect(err.kind).toBe('transient');
    expect(err.retryAfterMs).toBe(7000);
  });

  it('400 is permanent', async () => {
    sink.failNext(1, 400);
    const err = await rejection(channel().send('outreach.updated', task(), 'k1'));
    expect(err.kind).toBe('permanent');
    expect(err.status).toBe(400);
  });

  it('a hung endpoint times out as transient', async () => {
    sink.hangNext(1);
    const quick = new AgentWebhookChannel({ url: `${sink.url}/hooks/outreach`, secret: SECRET, timeoutMs: 200 }, clock);
    const err = await rejection(quick.send('outreach.created', task(), 'k1'));
    expect(err.kind).toBe('transient');
    expect(sink.requests).toHaveLength(1);
  });

  it('a refused connection is transient; an invalid URL is permanent', async () => {
    const closed = await startChannelSink();
    const deadUrl = closed.url;
    await closed.close();
    const refused = await rejection(new AgentWebhookChannel({ url: deadUrl, secret: SECRET, timeoutMs: 1000 }, clock).send('outreach.created', task(), 'k'));
    expect(refused.kind).toBe('transient');
    const invalid = await rejection(new AgentWebhookChannel({ url: 'not a url', secret: SECRET, timeoutMs: 1000 }, clock).send('outreach.created', task(), 'k'));
    expect(invalid.kind).toBe('permanent');
  });
});

describe('WeCom group robot', () => {
  const clock = fixedClock(NOW);
  const channel = () => new WecomChannel({ url: `${sink.url}/cgi-bin/webhook/send?key=abc`, secret: '', timeoutMs: 2000 }, clock, TZ);

  it('POSTs markdown with the order, script, masked customer phone and local due time', async () => {
    await channel().send('outreach.created', task(), 'k');
    const req = sink.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/cgi-bin/webhook/send?key=abc');
    expect(Object.keys(req.json)).toEqual(['msgtype', 'markdown']);
    expect(req.json.msgtype).toBe('markdown');
    const content: string = req.json.markdown.content;
    expect(content).toContain('新外呼任务');
    expect(content).toContain('订单');
    expect(content).toContain('TB20261111001');
    expect(content).toContain(task().script);
    expect(content).toContain('张三 138****8000');
    expect(content).not.toContain('13800138000');
    expect(content).toContain('ZT1234567890');
    expect(content).toContain('快件已到达【杭州转运中心】');
    expect(content).toContain('2026-11-12 12:30'); // dueBy in Asia/Shanghai
  });

  it('shows the phone in full only when showPhone is set, and masks it wherever it appears', async () => {
    const full = new WecomChannel({ url: `${sink.url}/cgi-bin/webhook/send?key=abc`, secret: '', timeoutMs: 2000, showPhone: true }, clock, TZ);
    await full.send('outreach.created', task(), 'k');
    expect(sink.requests[0]!.json.markdown.content).toContain('张三 13800138000');
    // A handle or reason repeating the number is masked too.
    const repeated = wecomContent('outreach.created', task({ reason: '客户 13800138000 来电催发货', customer: { name: '张三', phone: '13800138000', handle: '13800138000' } }), TZ);
    expect(repeated).not.toContain('13800138000');
    expect(repeated.match(/138\*\*\*\*8000/g)).toHaveLength(3);
    expect(dingtalkMarkdown('outreach.created', task(), TZ).text).toContain('138****8000');
    expect(dingtalkMarkdown('outreach.created', task(), TZ, true).text).toContain('13800138000');
  });

  it('titles follow the event', async () => {
    expect(wecomContent('outreach.updated', task(), TZ)).toContain('任务更新');
    expect(wecomContent('outreach.cancelled', task({ cancelReason: '已签收' }), TZ)).toMatch(/任务已取消[\s\S]*已签收/);
    expect(wecomContent('outreach.overdue', task({ overdue: true }), TZ)).toMatch(/任务超时[\s\S]*已超时/);
  });

  it('truncates content to 4096 UTF-8 bytes without breaking characters', () => {
    const content = wecomContent('outreach.created', task({ script: '非常抱歉'.repeat(2000) }), TZ);
    expect(Buffer.byteLength(content, 'utf8')).toBeLessThanOrEqual(WECOM_MAX_BYTES);
    expect(content).not.toContain('\uFFFD');
    expect(content.endsWith('…')).toBe(true);
  });

  it('errcode 45009 (rate limit) is transient, other errcodes permanent', async () => {
    sink.replyNext(1, { errcode: 45009, errmsg: 'api freq out of limit' });
    expect((await rejection(channel().send('outreach.created', task(), 'k'))).kind).toBe('transient');
    sink.replyNext(1, { errcode: 93000, errmsg: 'invalid webhook url' });
    expect((await rejection(channel().send('outreach.created', task(), 'k'))).kind).toBe('permanent');
    sink.replyNext(1, 'not json');
    expect((await rejection(channel().send('outreach.created', task(), 'k'))).kind).toBe('permanent');
  });

  it('HTTP 502 is transient', async () => {
    sink.failNext(1, 502);
    expect((await rejection(channel().send('outreach.created', task(), 'k'))).kind).toBe('transient');
  });
});

describe('DingTalk robot', () => {
  const clock = fixedClock(NOW);
  const DT_SECRET = 'SEC0123456789abcdef';

  it('signed mode appends timestamp and sign, recomputed here', async () => {
    const channel = new DingtalkChannel({ url: `${sink.url}/robot/send?access_token=tok`, secret: DT_SECRET, timeoutMs: 2000 }, clock, TZ);
    await channel.send('outreach.overdue', task({ overdue: true }), 'k');
    const req = sink.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.query.get('access_token')).toBe('tok');
    const ts = req.query.get('timestamp');
    expect(ts).toBe(String(Date.parse(NOW)));
    const expected = createHmac('sha256', DT_SECRET).update(`${ts}\n${DT_SECRET}`).digest('base64');
    expect(req.query.get('sign')).toBe(expected); // URLSearchParams decodes the urlencoded value
    // The raw query really is urlencoded (base64 '+', '/', '=' must not appear bare).
    const rawSign = /[?&]sign=([^&]*)/.exec(req.url)![1]!;
    expect(rawSign).toBe(encodeURIComponent(expected));

    expect(req.json.msgtype).toBe('markdown');
    expect(req.json.markdown.title).toContain('任务超时');
    expect(req.json.markdown.title).toContain('TB20261111001');
    expect(req.json.markdown.text).toContain('订单');
    expect(req.json.markdown.text).toContain('TB20261111001');
    expect(req.json.markdown.text).toContain(task().script);
    expect(req.json.markdown.text).toContain('2026-11-12 12:30（已超时）');
  });

  it('keyword mode (no secret) leaves the URL alone', async () => {
    const channel = new DingtalkChannel({ url: `${sink.url}/robot/send?access_token=tok`, secret: '', timeoutMs: 2000 }, clock, TZ);
    await channel.send('outreach.created', task(), 'k');
    expect(sink.requests[0]!.url).toBe('/robot/send?access_token=tok');
  });

  it('errcode 130101 (too fast) is transient, 310000 permanent', async () => {
    const channel = new DingtalkChannel({ url: `${sink.url}/robot/send?access_token=tok`, secret: DT_SECRET, timeoutMs: 2000 }, clock, TZ);
    sink.replyNext(1, { errcode: 130101, errmsg: 'send too fast' });
    expect((await rejection(channel.send('outreach.created', task(), 'k'))).kind).toBe('transient');
    sink.replyNext(1, { errcode: 310000, errmsg: 'sign not match' });
    expect((await rejection(channel.send('outreach.created', task(), 'k'))).kind).toBe('permanent');
  });
});

describe('createAgentChannels', () => {
  it('builds only the enabled channels', () => {
    const base = loadConfig({ env: {} });
    expect(createAgentChannels(base, fixedClock(NOW))).toEqual([]);
    const config = loadConfig({
      env: {},
      overrides: {
        outreach: {
          channels: {
            webhook: { enabled: true, url: 'http://127.0.0.1:1/h', secret: 's' },
            dingtalk: { enabled: true, url: 'http://127.0.0.1:1/robot/send?access_token=t' },
          },
        },
      },
    });
    expect(createAgentChannels(config, fixedClock(NOW)).map((c) => c.name)).toEqual(['webhook', 'dingtalk']);
  });
});
