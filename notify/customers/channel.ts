import type { CustomerMessage } from '../../domain/outreach.js';

export type CustomerChannelName = 'webhook' | 'sms';

/** Delivers one message to a customer. `send` throws ChannelError on failure. */
export interface CustomerChannel {
  readonly name: CustomerChannelName;
  send(msg: CustomerMessage): Promise<void>;
}
