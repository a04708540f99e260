import type { Clock } from '../../domain/clock.js';
import type { CustomerMessage } from '../../domain/outreach.js';
import { ChannelError } from '../channel-error.js';
import { httpCall, isOk, statusError } from '../http.js';
import { SIGNATURE_HEADER, signBody } from '../sign.js';
import type { CustomerChannel } from './channel.js';

export interface CustomerWebhookConfig {
  url: string;
  secret: string;
  timeoutMs: number;
}

/** The camelCase body a customer webhook receives (contract fields + notificationId, idempotencyKey, sentAt). */
export function customerWebhookBody(msg: CustomerMessage, sentAt: Date) {
  return {
    event: msg.event,
    notificationId: msg.notificationId,
    idempotencyKey: msg.idempotencyKey,
    orderId: msg.orderId,
    trackingNo: msg.trackingNo,
    carrier: msg.carrier,
    hub: msg.hub,
    occurredAt: msg.occurredAt,
    message: msg.message,
    contact: msg.contact,
    sentAt: sentAt.toISOString(),
  };
}

/** Signed JSON POST to the shop's messaging endpoint (which relays to the customer). Any 2xx is success. */
export class CustomerWebhookChannel implements CustomerChannel {
  readonly name = 'webhook' as const;

  constructor(
    private readonly cfg: CustomerWebhookConfig,
    private readonly clock: Clock,
  ) {}

  async send(msg: CustomerMessage): Promise<void> {
    if (!this.cfg.secret) throw new ChannelError('permanent', 'webhook: no signing secret configured');
    const now = this.clock.now();
    const raw = JSON.stringify(customerWebhookBody(msg, now));
    const reply = await httpCall({
      channel: this.name,
      method: 'POST',
      url: this.cfg.url,
      body: raw,
      headers: {
        'Content-Type': 'application/json; charset=utf-8',
        [SIGNATURE_HEADER]: signBody(this.cfg.secret, raw),
        'Idempotency-Key': msg.idempotencyKey,
        'X-Parcelwatch-Event': msg.event,
      },
      timeoutMs: this.cfg.timeoutMs,
      nowMs: now.getTime(),
    });
    if (!isOk(reply)) throw statusError(this.name, reply, now.getTime());
  }
}
