import type { Config } from '../../config/schema.js';
import type { Clock } from '../../domain/clock.js';
import { AliyunSmsChannel } from './aliyun-sms.js';
import type { CustomerChannel, CustomerChannelName } from './channel.js';
import { CustomerWebhookChannel } from './webhook.js';

export type { CustomerChannel, CustomerChannelName } from './channel.js';
export { CustomerWebhookChannel, customerWebhookBody } from './webhook.js';
export { AliyunSmsChannel, aliyunTimestamp, canonicalQuery, normalizeMainlandMobile, percentEncode, rpcSignature } from './aliyun-sms.js';

/** The enabled customer channels by name. */
export function createCustomerChannels(
  config: Pick<Config, 'chases'>,
  clock: Clock,
  opts: { nonce?: () => string } = {},
): Map<CustomerChannelName, CustomerChannel> {
  const { webhook, sms } = config.chases.channels;
  const out = new Map<CustomerChannelName, CustomerChannel>();
  if (webhook.enabled) out.set('webhook', new CustomerWebhookChannel(webhook, clock));
  if (sms.enabled) out.set('sms', new AliyunSmsChannel(sms, { clock, ...(opts.nonce ? { nonce: opts.nonce } : {}) }));
  return out;
}
