import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { fixedClock } from '../domain/clock.js';
import type { CustomerMessage, OutreachTaskView } from '../domain/outreach.js';
import { createAgentChannels } from '../notify/agents/index.js';
import { ChannelError } from '../notify/channel-error.js';
import { createCustomerChannels } from '../notify/customers/index.js';

/*
 * Each channel's configured timeoutMs is the one its requests use: an endpoint that answers "ok" after 1.5 s
 * is a timeout (transient) at timeoutMs 300, and a success at the default 5,000 ms. A channel that ignored its
 * key would pass the second case and fail the first.
 */

const clock = fixedClock('2026-11-12T02:30:00.000Z');
let server: Server;
let url: string;

beforeAll(async () => {
  // Every channel's success shape at once (webhook: any 2xx; WeCom/DingTalk: errcode 0; Aliyun SMS: Code OK).
  server = createServer((req, res) => {
    req.resume();
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errcode: 0, errmsg: 'ok', Code: 'OK', Message: 'OK', RequestId: 'slow', BizId: 'slow' }));
    }, 1500);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const task = { id: 1, orderId: 'T1', platform: 'taobao', status: 'open', type: 'tracking_stalled', severity: 'critical', priority: 1, reason: 'r', script: 's', dueBy: '2026-11-12T04:30:00.000Z', overdue: false, agent: null, customer: { name: '张三', phone: '13800138000', handle: null }, carrier: '中通快递', trackingNo: 'ZT1', lastEvent: null, lastHub: null, exceptions: [], outcome: null, compensationYuan: null, notes: null, cancelReason: null, version: 1, createdAt: '2026-11-12T02:00:00.000Z', updatedAt: '2026-11-12T02:00:00.000Z' } as unknown as OutreachTaskView;

const message: CustomerMessage = {
  event: 'customer.hub_moved',
  notificationId: 1,
  orderId: 'T1',
  trackingNo: 'ZT1',
  carrier: 'ZTO',
  hub: '杭州转运中心',
  occurredAt: '2026-11-12T02:10:00.000Z',
  message: '您好，您的快递已经中转到下一站了',
  contact: '13800138000',
  idempotencyKey: 'chase:1:notification:1',
  params: { hub: '杭州转运中心', carrierName: '中通快递', trackingNo: 'ZT1' },
};

async function outcome(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'sent',
    (e: unknown) => (e instanceof ChannelError ? e.kind : `other: ${(e as Error).message}`),
  );
}

describe('channel timeoutMs', () => {
  const agentPaths = { webhook: '/hooks/outreach', wecom: '/cgi-bin/webhook/send?key=k', dingtalk: '/robot/send?access_token=t' } as const;
  for (const name of Object.keys(agentPaths) as (keyof typeof agentPaths)[]) {
    it.each([
      [300, 'transient'],
      [5000, 'sent'],
    ])(`outreach.channels.${name}.timeoutMs %i: a 1.5 s answer is %s`, async (timeoutMs, expected) => {
      const config = loadConfig({ env: {}, overrides: { outreach: { channels: { [name]: { enabled: true, url: `${url}${agentPaths[name]}`, secret: 'sec', timeoutMs } } } } });
      const [channel] = createAgentChannels(config, clock);
      expect(channel!.name).toBe(name);
      expect(await outcome(channel!.send('outreach.created', task, 'k1'))).toBe(expected);
    });
  }

  it.each([
    [300, 'transient'],
    [5000, 'sent'],
  ])('chases.channels.sms.timeoutMs %i: a 1.5 s answer is %s', async (timeoutMs, expected) => {
    const sms = { enabled: true, endpoint: url, accessKeyId: 'id', accessKeySecret: 'secret', signName: '店铺', templateCodes: { hubMoved: 'SMS_1', outForDelivery: 'SMS_2', delivered: 'SMS_3' }, timeoutMs };
    const config = loadConfig({ env: {}, overrides: { chases: { channels: { sms } } } });
    const channel = createCustomerChannels(config, clock).get('sms')!;
    expect(await outcome(channel.send(message))).toBe(expected);
  });
});
