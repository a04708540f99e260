import { describe, expect, it } from 'vitest';
import { pushCoverage, type PushFacts } from './poll-policy.js';

const now = new Date('2026-11-12T12:00:00Z');
const h = (n: number) => new Date(now.getTime() + n * 3_600_000);
const cfg = { fallbackAfterHours: 12, nearDeadlineHours: 24 };
const base: PushFacts = { mode: 'push', state: 'subscribed', subscribedAt: h(-30), lastPushAt: h(-2), collectedAt: h(-20), shipDeadline: null };

describe('pushCoverage', () => {
  it.each([
    ['poll mode always polls', { mode: 'poll' as const }, { poll: true, fallback: null }],
    ['both mode polls on the normal schedule', { mode: 'both' as const }, { poll: true, fallback: null }],
    ['not subscribed (refused) falls back to polling', { state: 'failed' }, { poll: true, fallback: 'unsubscribed' }],
    ['aborted falls back to polling', { state: 'aborted' }, { poll: true, fallback: 'unsubscribed' }],
    ['no subscription row yet', { state: null }, { poll: true, fallback: 'unsubscribed' }],
    ['pushes flowing: no poll until 12 h after the last push', {}, { poll: false, until: h(10) }],
    ['silent for 12 h: polled', { lastPushAt: h(-12) }, { poll: true, fallback: 'silent' }],
    ['subscribed 3 h ago, no push yet: covered until 12 h after subscribing', { lastPushAt: null, subscribedAt: h(-3) }, { poll: false, until: h(9) }],
    ['subscribed 13 h ago, never a push: polled', { lastPushAt: null, subscribedAt: h(-13) }, { poll: true, fallback: 'silent' }],
    ['uncollected within 24 h of the deadline: always polled', { collectedAt: null, shipDeadline: h(20) }, { poll: true, fallback: 'deadline' }],
    ['uncollected, deadline far: covered until the deadline window opens', { collectedAt: null, shipDeadline: h(30) }, { poll: false, until: h(6) }],
  ])('%s', (_name, over, want) => {
    expect(pushCoverage({ ...base, ...over }, now, cfg)).toEqual(want);
  });
});
