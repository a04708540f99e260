import type { Clock } from '../../domain/clock.js';
import type { OutreachEvent, OutreachTaskView } from '../../domain/outreach.js';
import { ChannelError } from '../channel-error.js';
import { httpCall, isOk, parseJson, statusError, truncateUtf8 } from '../http.js';
import type { AgentChannel } from './channel.js';
import { agentLines, EVENT_TITLES } from './markdown.js';

export interface RobotChannelConfig {
  url: string;
  secret: string;
  timeoutMs: number;
  /** Full customer phones in the group chat; default masked (everyone in the group reads them). */
  showPhone?: boolean;
}

/** WeCom group robot markdown content is limited to 4096 bytes (UTF-8). */
export const WECOM_MAX_BYTES = 4096;

/** WeCom errcodes worth retrying: -1 system busy, 45009 API rate limit (20 messages/min per robot). */
const WECOM_TRANSIENT = new Set([-1, 45009]);

const TITLE_COLOR: Record<OutreachEvent, string> = {
  'outreach.created': 'warning',
  'outreach.updated': 'info',
  'outreach.cancelled': 'comment',
  'outreach.overdue': 'warning',
};

/** The markdown content WeCom shows (font colors are WeCom's markdown extension). */
export function wecomContent(event: OutreachEvent, task: OutreachTaskView, timeZone: string, showPhone = false): string {
  const head = `### <font color="${TITLE_COLOR[event]}">${EVENT_TITLES[event]}</font> 订单 ${task.orderId}`;
  const lines = agentLines(event, task, timeZone, { showPhone }).map((l) => `> ${l}`);
  return truncateUtf8([head, ...lines].join('\n'), WECOM_MAX_BYTES);
}

/**
 * WeCom (企业微信) group robot: POST {"msgtype":"markdown","markdown":{"content":…}} to the robot URL
 * (https://developer.work.weixin.qq.com/document/path/91770). Reply {"errcode":0,"errmsg":"ok"}.
 * The robot has no idempotency support; the key is not sent.
 */
export class WecomChannel implements AgentChannel {
  readonly name = 'wecom' as const;

  constructor(
    private readonly cfg: RobotChannelConfig,
    private readonly clock: Clock,
    private readonly timeZone: string,
  ) {}

  async send(event: OutreachEvent, task: OutreachTaskView, _idempotencyKey: string): Promise<void> {
    const nowMs = this.clock.now().getTime();
    const raw = JSON.stringify({ msgtype: 'markdown', markdown: { content: wecomContent(event, task, this.timeZone, this.cfg.showPhone) } });
    const reply = await httpCall({
      channel: this.name,
      method: 'POST',
      url: this.cfg.url,
      body: raw,
      headers: { 'Content-Type': 'application/json; charset=utf-8' },
      timeoutMs: this.cfg.timeoutMs,
      nowMs,
    });
    if (!isOk(reply)) throw statusError(this.name, reply, nowMs);
    throwOnRobotErrcode(this.name, reply.text, WECOM_TRANSIENT);
  }
}

/** Robots answer HTTP 200 with {"errcode":n,"errmsg":…}; anything but errcode 0 is a failure. */
export function throwOnRobotErrcode(channel: string, text: string, transientCodes: ReadonlySet<number>): void {
  const body = parseJson(text) as { errcode?: unknown; errmsg?: unknown } | null;
  if (!body || typeof body !== 'object' || typeof body.errcode !== 'number') {
    throw new ChannelError('permanent', `${channel}: unexpected reply ${text.slice(0, 200)}`);
  }
  if (body.errcode === 0) return;
  const kind = transientCodes.has(body.errcode) ? 'transient' : 'permanent';
  throw new ChannelError(kind, `${channel}: errcode ${body.errcode} ${String(body.errmsg ?? '')}`.trim());
}
