import { createHmac } from 'node:crypto';
import type { Clock } from '../../domain/clock.js';
import type { OutreachEvent, OutreachTaskView } from '../../domain/outreach.js';
import { httpCall, isOk, statusError, truncateUtf8 } from '../http.js';
import type { AgentChannel } from './channel.js';
import { agentLines, agentTitle, EVENT_TITLES } from './markdown.js';
import { type RobotChannelConfig, throwOnRobotErrcode } from './wecom.js';

/**
 * DingTalk does not publish one hard byte limit for markdown text (reports range around 20 000 bytes);
 * we stay well below it. Uncertain: adjust if DingTalk rejects long messages.
 */
export const DINGTALK_MAX_BYTES = 18_000;

/** DingTalk errcodes worth retrying: -1 system busy, 130101 sending too fast (20 messages/min per robot). */
const DINGTALK_TRANSIENT = new Set([-1, 130101]);

/** `sign` for signed mode: urlencode(base64(HmacSHA256(secret, timestamp + "\n" + secret))). */
export function dingtalkSign(secret: string, timestampMs: number): string {
  const digest = createHmac('sha256', secret).update(`${timestampMs}\n${secret}`, 'utf8').digest('base64');
  return encodeURIComponent(digest);
}

/** Append `timestamp` and `sign` to the robot URL when a secret is set (signed-URL mode). */
export function dingtalkUrl(url: string, secret: string, timestampMs: number): string {
  if (!secret) return url;
  const sep = url.includes('?') ? '&' : '?';
  return `${url}${sep}timestamp=${timestampMs}&sign=${dingtalkSign(secret, timestampMs)}`;
}

export function dingtalkMarkdown(event: OutreachEvent, task: OutreachTaskView, timeZone: string, showPhone = false): { title: string; text: string } {
  // DingTalk markdown needs a blank line between lines to render line breaks.
  const text = [`### ${EVENT_TITLES[event]} 订单 ${task.orderId}`, ...agentLines(event, task, timeZone, { showPhone })].join('\n\n');
  return { title: agentTitle(event, task), text: truncateUtf8(text, DINGTALK_MAX_BYTES) };
}

/**
 * DingTalk (钉钉) custom robot: POST {"msgtype":"markdown","markdown":{"title","text"}}; reply errcode 0.
 * In signed mode the timestamp is transport time: `clock` is wall time in production (worker/deps.ts),
 * because DingTalk checks it against its own clock (±1 h) and answers 310000 "sign not match" otherwise.
 */
export class DingtalkChannel implements AgentChannel {
  readonly name = 'dingtalk' as const;

  constructor(
    private readonly cfg: RobotChannelConfig,
    private readonly clock: Clock,
    private readonly timeZone: string,
  ) {}

  async send(event: OutreachEvent, task: OutreachTaskView, _idempotencyKey: string): Promise<void> {
    const nowMs = this.clock.now().getTime();
    const raw = JSON.stringify({ msgtype: 'markdown', markdown: dingtalkMarkdown(event, task, this.timeZone, this.cfg.showPhone) });
    const reply = await httpCall({
      channel: this.name,
      method: 'POST',
      url: dingtalkUrl(this.cfg.url, this.cfg.secret, nowMs),
      body: raw,
      headers: { 'Content-Type': 'application/json; charset=utf-8' },
      timeoutMs: this.cfg.timeoutMs,
      nowMs,
    });
    if (!isOk(reply)) throw statusError(this.name, reply, nowMs);
    throwOnRobotErrcode(this.name, reply.text, DINGTALK_TRANSIENT);
  }
}
