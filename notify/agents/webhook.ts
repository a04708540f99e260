import type { Clock } from '../../domain/clock.js';
import type { OutreachEvent, OutreachTaskView } from '../../domain/outreach.js';
import { ChannelError } from '../channel-error.js';
import { httpCall, isOk, statusError } from '../http.js';
import { SIGNATURE_HEADER, signBody } from '../sign.js';
import type { AgentChannel } from './channel.js';

export interface WebhookChannelConfig {
  url: string;
  secret: string;
  timeoutMs: number;
}

/** Signed JSON POST `{event, task, sentAt}` to the shop's own endpoint. Any 2xx is success. */
export class AgentWebhookChannel implements AgentChannel {
  readonly name = 'webhook' as const;

  constructor(
    private readonly cfg: WebhookChannelConfig,
    private readonly clock: Clock,
  ) {}

  async send(event: OutreachEvent, task: OutreachTaskView, idempotencyKey: string): Promise<void> {
    if (!this.cfg.secret) throw new ChannelError('permanent', 'webhook: no signing secret configured');
    const nowMs = this.clock.now().getTime();
    const raw = JSON.stringify({ event, task, sentAt: new Date(nowMs).toISOString() });
    const reply = await httpCall({
      channel: this.name,
      method: 'POST',
      url: this.cfg.url,
      body: raw,
      headers: {
        'Content-Type': 'application/json; charset=utf-8',
        [SIGNATURE_HEADER]: signBody(this.cfg.secret, raw),
        'Idempotency-Key': idempotencyKey,
        'X-Parcelwatch-Event': event,
      },
      timeoutMs: this.cfg.timeoutMs,
      nowMs,
    });
    if (!isOk(reply)) throw statusError(this.name, reply, nowMs);
  }
}
