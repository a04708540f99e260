import type { Config } from '../../config/schema.js';
import type { Clock } from '../../domain/clock.js';
import type { AgentChannel } from './channel.js';
import { DingtalkChannel } from './dingtalk.js';
import { AgentWebhookChannel } from './webhook.js';
import { WecomChannel } from './wecom.js';

export type { AgentChannel, AgentChannelName } from './channel.js';
export { AgentWebhookChannel } from './webhook.js';
export { WecomChannel, wecomContent, WECOM_MAX_BYTES } from './wecom.js';
export { DingtalkChannel, dingtalkMarkdown, dingtalkSign, dingtalkUrl } from './dingtalk.js';

/** The enabled agent channels, in config order (webhook, wecom, dingtalk). */
export function createAgentChannels(config: Pick<Config, 'timezone' | 'outreach'>, clock: Clock): AgentChannel[] {
  const { webhook, wecom, dingtalk } = config.outreach.channels;
  const out: AgentChannel[] = [];
  if (webhook.enabled) out.push(new AgentWebhookChannel(webhook, clock));
  if (wecom.enabled) out.push(new WecomChannel(wecom, clock, config.timezone));
  if (dingtalk.enabled) out.push(new DingtalkChannel(dingtalk, clock, config.timezone));
  return out;
}
