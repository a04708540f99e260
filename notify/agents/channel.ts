import type { OutreachEvent, OutreachTaskView } from '../../domain/outreach.js';

export type AgentChannelName = 'webhook' | 'wecom' | 'dingtalk';

/** Delivers outreach task events to the agents' tools. `send` throws ChannelError on failure. */
export interface AgentChannel {
  readonly name: AgentChannelName;
  send(event: OutreachEvent, task: OutreachTaskView, idempotencyKey: string): Promise<void>;
}
