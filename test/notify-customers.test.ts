import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { fixedClock } from '../domain/clock.js';
import type { CustomerMessage } from '../domain/outreach.js';
import { ChannelError } from '../notify/channel-error.js';
import { AliyunSmsChannel, createCustomerChannels, CustomerWebhookChannel } from '../notify/customers/index.js';
import { type ChannelSink, startChannelSink } from './fakes/channel-sink.js';

const NOW = '2026-11-12T02:30:00.456Z';
const SECRET = 'cust-secret';

function message(over: Partial<CustomerMessage> = {}): CustomerMessage {
  return {
    event: 'customer.hub_moved',
    notificationId: 901,
    orderId: 'JD8800123',
    trackingNo: 'SF1400123456789',
    carrier: 'SF',
    hub: '杭州萧山转运中心',
    occurredAt: '2026-11-12T02:10:00.000Z',
    message: '您好，您的快递已经中转到下一站了（杭州萧山转运中心），相信很快就可以收到了。顺丰速运 SF1400123456789',
    contact: '13800138000',
    idempotencyKey: 'chase:55:notification:901',
    params: { hub: "杭州萧山转运中心 (A*B) it's", carrierName: '顺丰速运', trackingNo: 'SF1400123456789' },
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

/** RFC 3986 percent-encoding byte by byte — written independently of notify/customers/aliyun-sms.ts. */
function rfc3986(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
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

describe('customer webhook', () => {
  const clock = fixedClock(NOW);
  const channel = (timeoutMs = 2000) => new CustomerWebhookChannel({ url: `${sink.url}/customer`, secret: SECRET, timeoutMs }, clock);

  it('POSTs the signed contract body with the Idempotency-Key header', async () => {
    await channel().send(message());
    const req = sink.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.headers['idempotency-key']).toBe('chase:55:notification:901');
    expect(req.headers['x-parcelwatch-event']).toBe('customer.hub_moved');
    expect(req.json).toEqual({
      event: 'customer.hub_moved',
      notificationId: 901,
      idempotencyKey: 'chase:55:notification:901',
      orderId: 'JD8800123',
      trackingNo: 'SF1400123456789',
      carrier: 'SF',
      hub: '杭州萧山转运中心',
      occurredAt: '2026-11-12T02:10:00.000Z',
      message: message().message,
      contact: '13800138000',
      sentAt: NOW,
    });
    expect(sink.verify(req, SECRET)).toBe(true);
    expect(sink.verify(req, 'wrong-secret')).toBe(false);
    expect(req.headers['x-parcelwatch-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(req.raw).digest('hex')}`);
  });

  it('500 → transient, 400 → permanent, timeout → transient', async () => {
    sink.failNext(1, 500);
    expect((await rejection(channel().send(message()))).kind).toBe('transient');
    sink.failNext(1, 400);
    expect((await rejection(channel().send(message()))).kind).toBe('permanent');
    sink.hangNext(1);
    expect((await rejection(channel(200).send(message()))).kind).toBe('transient');
  });
});

describe('Alibaba Cloud SMS SendSms', () => {
  const clock = fixedClock(NOW);
  const cfg = {
    endpoint: '', // set per test from the sink
    accessKeyId: 'LTAI-test-id',
    accessKeySecret: 'test/secret+key=',
    signName: '小店物流',
    templateCodes: { hubMoved: 'SMS_100001', outForDelivery: 'SMS_100002', delivered: 'SMS_100003' },
    timeoutMs: 2000,
  };
  let nonces = 0;
  const channel = (over: Partial<typeof cfg> = {}) =>
    new AliyunSmsChannel({ ...cfg, endpoint: sink.url, ...over }, { clock, nonce: () => `nonce-${++nonces}` });

  it('sends a GET whose Signature verifies when recomputed from the received query', async () => {
    await channel().send(message());
    const req = sink.requests[0]!;
    expect(req.method).toBe('GET');
    expect(req.url.startsWith('/?')).toBe(true);
    const q = req.query;
    expect(q.get('Action')).toBe('SendSms');
    expect(q.get('Version')).toBe('2017-05-25');
    expect(q.get('RegionId')).toBe('cn-hangzhou');
    expect(q.get('Format')).toBe('JSON');
    expect(q.get('SignatureMethod')).toBe('HMAC-SHA1');
    expect(q.get('SignatureVersion')).toBe('1.0');
    expect(q.get('SignatureNonce')).toMatch(/^nonce-\d+$/);
    expect(q.get('AccessKeyId')).toBe('LTAI-test-id');
    expect(q.get('PhoneNumbers')).toBe('13800138000');
    expect(q.get('SignName')).toBe('小店物流');
    expect(q.get('TemplateCode')).toBe('SMS_100001');
    expect(q.get('Timestamp')).toBe('2026-11-12T02:30:00Z');
    expect(JSON.parse(q.get('TemplateParam')!)).toEqual(message().params);

    // Recompute: sort every received parameter but Signature, encode, sign "GET&%2F&…" with secret + "&".
    const pairs = [...q.entries()].filter(([k]) => k !== 'Signature').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const canonical = pairs.map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`).join('&');
    const stringToSign = `GET&${rfc3986('/')}&${rfc3986(canonical)}`;
    const expected = createHmac('sha1', `${cfg.accessKeySecret}&`).update(stringToSign, 'utf8').digest('base64');
    expect(q.get('Signature')).toBe(expected);
    // The wire form follows the special encoding too: no '+', '*' or "'" left bare in the query.
    expect(req.url).not.toMatch(/[+*'()!]/);
  });

  it('picks the template by event and gives each request a fresh nonce', async () => {
    await channel().send(message({ event: 'customer.delivered' }));
    await channel().send(message({ event: 'customer.out_for_delivery' }));
    expect(sink.requests.map((r) => r.query.get('TemplateCode'))).toEqual(['SMS_100003', 'SMS_100002']);
    expect(sink.requests[0]!.query.get('SignatureNonce')).not.toBe(sink.requests[1]!.query.get('SignatureNonce'));
  });

  it('isv.BUSINESS_LIMIT_CONTROL is transient; other codes permanent', async () => {
    sink.replyNext(1, { Code: 'isv.BUSINESS_LIMIT_CONTROL', Message: '触发分钟级流控Permits:1', RequestId: 'r1' });
    expect((await rejection(channel().send(message()))).kind).toBe('transient');
    sink.replyNext(1, { Code: 'isv.MOBILE_NUMBER_ILLEGAL', Message: '非法手机号', RequestId: 'r2' });
    expect((await rejection(channel().send(message()))).kind).toBe('permanent');
    sink.failNext(1, 400, { Code: 'SignatureDoesNotMatch', Message: 'Specified signature is not matched', RequestId: 'r3' });
    const sig = await rejection(channel().send(message()));
    expect(sig.kind).toBe('permanent');
    expect(sig.message).toContain('SignatureDoesNotMatch');
  });

  it('500 → transient, 400 → permanent, timeout → transient', async () => {
    sink.failNext(1, 500);
    expect((await rejection(channel().send(message()))).kind).toBe('transient');
    sink.failNext(1, 400, 'Bad Request');
    expect((await rejection(channel().send(message()))).kind).toBe('permanent');
    sink.hangNext(1);
    expect((await rejection(channel({ timeoutMs: 200 }).send(message()))).kind).toBe('transient');
  });

  it('refuses before sending when the contact or template is unusable', async () => {
    expect((await rejection(channel().send(message({ contact: 'wx:zhangsan' })))).kind).toBe('permanent');
    expect((await rejection(channel({ templateCodes: { ...cfg.templateCodes, hubMoved: '' } }).send(message()))).kind).toBe('permanent');
    expect(sink.requests).toHaveLength(0);
  });
});

describe('createCustomerChannels', () => {
  it('maps the enabled channels by name', () => {
    expect(createCustomerChannels(loadConfig({ env: {} }), fixedClock(NOW)).size).toBe(0);
    const config = loadConfig({
      env: {},
      overrides: {
        chases: {
          channels: {
            webhook: { enabled: true, url: 'http://127.0.0.1:1/c', secret: 's' },
            sms: {
              enabled: true,
              accessKeyId: 'id',
              accessKeySecret: 'sec',
              signName: '店',
              templateCodes: { hubMoved: 'SMS_1', outForDelivery: 'SMS_2', delivered: 'SMS_3' },
            },
          },
        },
      },
    });
    const channels = createCustomerChannels(config, fixedClock(NOW));
    expect([...channels.keys()]).toEqual(['webhook', 'sms']);
    expect(channels.get('sms')?.name).toBe('sms');
  });
});
