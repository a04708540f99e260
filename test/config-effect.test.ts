import { describe, expect, it } from 'vitest';
import { hookFor } from '../api/hooks.js';
import { loadConfig, type DeepPartial } from '../config/load.js';
import { EXCEPTION_TYPES, SEVERITIES, type Config, type ExceptionType, type Severity } from '../config/schema.js';
import type { Sql } from '../db/client.js';
import { ChaseRefused, chasePolicy, registerChases } from '../db/queries/chases.js';
import { nextPollAt, type PollFacts } from '../domain/poll-policy.js';
import { checkInstants, inputLimits, parseOrder } from '../ingest/order-input.js';
import { renderCustomerMessage, sendAfter } from '../jobs/notify-chasers.js';
import { planTask } from '../jobs/sync-outreach.js';
import { evaluateSubject } from '../rules/index.js';
import { at, facts, shipped } from '../rules/fixtures.js';
import { lateShipmentRule } from '../rules/late-shipment.js';
import type { SubjectFacts } from '../domain/facts.js';
import { QueueRuntime } from '../worker/runtime.js';
import { jobByName } from '../jobs/index.js';
import type { Deps } from '../jobs/define-job.js';
import type { RedisConnections } from '../worker/redis.js';

/*
 * Issue 13: every documented config key takes effect. Each case here sets a key to a value other than its
 * default (config/default.yaml) and asserts behaviour that the default would not give, through the same
 * function the daemon calls with its loaded config. No database: the keys below act in pure code.
 * Keys acting in SQL or jobs are in test/config-effect-db.test.ts; the map in test/config-keys-covered.test.ts
 * names the proving file of every key.
 */

const cfg = (overrides: DeepPartial<Config> | Record<string, unknown> = {}) => loadConfig({ env: {}, overrides });
const MIN = 60_000;
const DEFAULTS = cfg();

describe('polling.* intervals (domain/poll-policy nextPollAt)', () => {
  const now = new Date('2026-11-13T12:00:00Z');
  const collected: PollFacts = {
    status: 'in_transit',
    collectedAt: new Date(now.getTime() - 20 * 60 * MIN),
    markedShippedAt: new Date(now.getTime() - 24 * 60 * MIN),
    lastEventAt: new Date(now.getTime() - 60 * MIN),
    shipDeadline: null,
    chased: false,
    hadError: false,
  };
  const after = (minutes: number) => new Date(now.getTime() + minutes * MIN);

  it.each([
    ['outForDeliveryMinutes', { status: 'out_for_delivery' as const }],
    ['outForDeliveryMinutes', { status: 'at_pickup_point' as const }],
    ['problemMinutes', { status: 'problem' as const }],
    ['chasedMinutes', { chased: true }],
  ])('polling.%s sets the interval (%o)', (key, over) => {
    const f = { ...collected, ...over };
    const polling = cfg({ polling: { [key]: 7 } }).polling;
    expect(nextPollAt(f, now, polling, 1)).toEqual(after(7));
    expect(nextPollAt(f, now, DEFAULTS.polling, 1)).not.toEqual(after(7));
  });

  it.each([
    ['inTransitMinutes', {}],
    ['notCollectedMinutes', { collectedAt: null, status: 'info_received' as const }],
    ['nearDeadlineMinutes', { collectedAt: null, status: 'info_received' as const, shipDeadline: new Date(now.getTime() + 10 * 60 * MIN) }],
    ['errorBackoffMinutes', { hadError: true }],
  ])('polling.%s sets the interval', (key, over) => {
    const f = { ...collected, ...over };
    expect(nextPollAt(f, now, cfg({ polling: { [key]: 7 } }).polling, 1)).toEqual(after(7));
    expect(nextPollAt(f, now, DEFAULTS.polling, 1)).not.toEqual(after(7));
  });

  it('polling.nearDeadlineHours widens the window in which an uncollected order is polled at nearDeadlineMinutes', () => {
    const f = { ...collected, collectedAt: null, status: 'info_received' as const, shipDeadline: new Date(now.getTime() + 30 * 60 * MIN) };
    expect(nextPollAt(f, now, DEFAULTS.polling, 1)).toEqual(after(DEFAULTS.polling.notCollectedMinutes)); // 30 h left > 24 h
    expect(nextPollAt(f, now, cfg({ polling: { nearDeadlineHours: 36 } }).polling, 1)).toEqual(after(DEFAULTS.polling.nearDeadlineMinutes));
  });

  it('polling.stopAfterDays: a shipment silent longer than it is no longer polled', () => {
    const f = { ...collected, lastEventAt: new Date(now.getTime() - 3 * 1440 * MIN) };
    expect(nextPollAt(f, now, DEFAULTS.polling, 1)).not.toBeNull();
    expect(nextPollAt(f, now, cfg({ polling: { stopAfterDays: 2 } }).polling, 1)).toBeNull();
  });
});

describe('rules.lateShipment.default.* (late_shipment rule)', () => {
  it('shipWithinHours moves the breach (and the warning/critical offsets measured back from it)', () => {
    // 96 h to ship, warning at 48 h and critical at 60 h of age stay: breach at 96, not 72.
    const c = cfg({ rules: { lateShipment: { default: { shipWithinHours: 96 } } } });
    expect(lateShipmentRule.evaluate(facts(), at(72), DEFAULTS).verdict!.severity).toBe('breach');
    const v = lateShipmentRule.evaluate(facts(), at(72), c).verdict!;
    expect(v.severity).toBe('critical');
    expect(v.deadlineAt).toEqual(at(96));
    expect(lateShipmentRule.evaluate(facts(), at(96), c).verdict!.severity).toBe('breach');
  });

  it('penaltyRate and penaltyCapYuan set the buyer compensation', () => {
    const amount = { amount: 1000 };
    expect(lateShipmentRule.evaluate(facts(amount), at(72), DEFAULTS).verdict!.penaltyYuan).toBe(30);
    const rate = cfg({ rules: { lateShipment: { default: { penaltyRate: 0.01 } } } });
    expect(lateShipmentRule.evaluate(facts(amount), at(72), rate).verdict!.penaltyYuan).toBe(10);
    const cap = cfg({ rules: { lateShipment: { default: { penaltyCapYuan: 12.5 } } } });
    expect(lateShipmentRule.evaluate(facts(amount), at(72), cap).verdict!.penaltyYuan).toBe(12.5);
  });
});

describe('rules.* thresholds (rules/index evaluateSubject)', () => {
  /** Hours after T0 at which a verdict of `type` (at `severity`, or any) first appears, following nextCheckAt. */
  function onset(f: SubjectFacts, c: Config, type: ExceptionType, severity?: Severity): number | null {
    let now = f.paidAt;
    for (let step = 0; step < 50; step++) {
      const { verdicts, nextCheckAt } = evaluateSubject(f, now, c);
      if (verdicts.some((v) => v.type === type && (!severity || v.severity === severity))) return (now.getTime() - at(0).getTime()) / 3_600_000;
      if (!nextCheckAt) return null;
      now = nextCheckAt;
    }
    return null;
  }
  const markedNoScan = facts({ markedShippedAt: at(10), status: 'info_received', trackingNo: 'X' });
  const inTransit = shipped(at(20));
  const outForDelivery = shipped(at(20), { status: 'out_for_delivery', statusSince: at(40), lastEventAt: at(40) });
  const atPickup = shipped(at(20), { status: 'at_pickup_point', statusSince: at(45), lastEventAt: at(45) });

  it.each([
    ['rules.lateShipment.default.warnAtHours', { lateShipment: { default: { warnAtHours: 53 } } }, facts(), 'late_shipment', 'warning'],
    ['rules.lateShipment.default.criticalAtHours', { lateShipment: { default: { criticalAtHours: 65 } } }, facts(), 'late_shipment', 'critical'],
    ['rules.fakeShipment.noScanAfterHours', { fakeShipment: { noScanAfterHours: 29 } }, markedNoScan, 'fake_shipment_risk', 'warning'],
    ['rules.fakeShipment.criticalAfterHours', { fakeShipment: { criticalAfterHours: 53 } }, markedNoScan, 'fake_shipment_risk', 'critical'],
    ['rules.undelivered.afterCollectedHours', { undelivered: { afterCollectedHours: 77 } }, inTransit, 'undelivered_3d', undefined],
    ['rules.undelivered.criticalAfterHours', { undelivered: { criticalAfterHours: 125 } }, inTransit, 'undelivered_3d', 'critical'],
    ['rules.stalled.noEventHours', { stalled: { noEventHours: 53 } }, inTransit, 'tracking_stalled', undefined],
    ['rules.stalled.criticalAfterHours', { stalled: { criticalAfterHours: 101 } }, inTransit, 'tracking_stalled', 'critical'],
    ['rules.deliveryOverdue.hours', { deliveryOverdue: { hours: 29 } }, outForDelivery, 'delivery_overdue', undefined],
    ['rules.pickupOverdue.hours', { pickupOverdue: { hours: 53 } }, atPickup, 'pickup_overdue', undefined],
  ] as const)('%s: 5 h more delays the verdict by 5 h', (_key, rules, f, type, severity) => {
    const byDefault = onset(f, DEFAULTS, type, severity);
    expect(byDefault).not.toBeNull();
    expect(onset(f, cfg({ rules }), type, severity)).toBe(byDefault! + 5);
  });

  it('rules.lateShipment.default.penaltyPoints is reported on the verdict', () => {
    const c = cfg({ rules: { lateShipment: { default: { penaltyPoints: 9 } } } });
    expect(lateShipmentRule.evaluate(facts(), at(72), DEFAULTS).verdict!.details.penaltyPoints).toBe(3);
    expect(lateShipmentRule.evaluate(facts(), at(72), c).verdict!.details.penaltyPoints).toBe(9);
  });
});

/** Every exception type and severity, spelt out so each key's leaf appears here (checked against the schema). */
const TYPES = ['late_shipment', 'fake_shipment_risk', 'undelivered_3d', 'tracking_stalled', 'carrier_problem', 'delivery_overdue', 'pickup_overdue', 'route_overdue'] as const;
const LEVELS = ['info', 'warning', 'critical', 'breach'] as const;

describe('outreach.* task planning (jobs/sync-outreach planTask)', () => {
  it('the lists below are the schema\'s', () => {
    expect([...TYPES].sort()).toEqual([...EXCEPTION_TYPES].sort());
    expect([...LEVELS].sort()).toEqual([...SEVERITIES].sort());
  });

  const now = new Date('2026-11-13T04:00:00Z');
  const order = { id: 1, externalId: 'O1', platform: 'taobao', paidAt: new Date('2026-11-11T00:00:00Z'), customerName: '王芳' };
  let nextId = 1;
  const exc = (type: ExceptionType, severity: Severity = 'warning') => ({
    id: nextId++,
    type,
    severity,
    details: { hoursLeft: 5, ageHours: 60 },
    deadlineAt: new Date('2026-11-14T00:00:00Z'),
    penaltyYuan: 5,
    trackingNo: `T-${type}`,
    carrier: 'ZTO',
    lastEvent: '已揽收',
    lastEventAt: new Date('2026-11-12T00:00:00Z'),
    lastHub: '杭州转运中心',
  });

  it.each(TYPES)('outreach.scripts.%s and outreach.reasons.%s are the text of the task', (type) => {
    const c = cfg({ outreach: { scripts: { [type]: `SCRIPT ${type} {orderId}` }, reasons: { [type]: `REASON ${type} {trackingNo}` } } });
    const plan = planTask(order, [exc(type)], now, c);
    expect(plan.script).toBe(`SCRIPT ${type} O1`);
    expect(plan.reason).toBe(`REASON ${type} T-${type}`);
    const byDefault = planTask(order, [exc(type)], now, DEFAULTS);
    expect(byDefault.script).not.toContain('SCRIPT');
    expect(byDefault.reason).not.toContain('REASON');
  });

  it.each(TYPES)('outreach.typeWeight.%s sets the priority and which exception leads the task', (type) => {
    // Another type of the same severity with the highest default weight (60): `type` leads only through its weight.
    const rival = TYPES.find((t) => t !== type && DEFAULTS.outreach.typeWeight[t] === 60)!;
    const c = cfg({ outreach: { typeWeight: { [type]: 999 } } });
    const plan = planTask(order, [exc(rival), exc(type)], now, c);
    expect(plan.type).toBe(type);
    expect(plan.priority).toBe(100 + 999 + 10);
  });

  it.each(LEVELS)('outreach.slaMinutes.%s sets the due time of a task whose worst exception has that severity', (severity) => {
    const c = cfg({ outreach: { slaMinutes: { [severity]: 7 } } });
    expect(planTask(order, [exc('tracking_stalled', severity)], now, c).dueBy).toEqual(new Date(now.getTime() + 7 * MIN));
    expect(planTask(order, [exc('tracking_stalled', severity)], now, DEFAULTS).dueBy).not.toEqual(new Date(now.getTime() + 7 * MIN));
  });

  it('outreach.compensation.lateShipmentYuan and perDayLateYuan fill {compensationYuan} / {perDayLateYuan}', () => {
    const text = '{compensationYuan}/{perDayLateYuan}';
    const c = cfg({
      outreach: {
        compensation: { lateShipmentYuan: 11, perDayLateYuan: 13 },
        scripts: { late_shipment: text, undelivered_3d: text },
      },
    });
    expect(planTask(order, [exc('late_shipment')], now, c).script).toBe('11/13');
    expect(planTask(order, [exc('undelivered_3d')], now, c).script).toBe('13/13');
  });

  it('outreach.normalTransitDays fills {normalTransitDays} (no norm applies)', () => {
    const c = cfg({ outreach: { normalTransitDays: 9, scripts: { tracking_stalled: '{normalTransitDays}' } } });
    expect(planTask(order, [exc('tracking_stalled')], now, c).script).toBe('9');
  });
});

describe('chases.* customer messages (jobs/notify-chasers)', () => {
  const sh = (s: string) => new Date(`${s}+08:00`);

  it('chases.quietHours.enabled/start/end hold a message until the quiet hours end', () => {
    const evening = sh('2026-11-12T20:30:00');
    expect(sendAfter(evening, DEFAULTS)).toEqual(evening); // 20:30 is outside the default 22:00–08:00
    expect(sendAfter(evening, cfg({ chases: { quietHours: { start: '20:00' } } }))).toEqual(sh('2026-11-13T08:00:00'));
    expect(sendAfter(evening, cfg({ chases: { quietHours: { start: '20:00', end: '09:30' } } }))).toEqual(sh('2026-11-13T09:30:00'));
    const night = sh('2026-11-12T23:00:00');
    expect(sendAfter(night, DEFAULTS)).toEqual(sh('2026-11-13T08:00:00'));
    expect(sendAfter(night, cfg({ chases: { quietHours: { enabled: false } } }))).toEqual(night);
  });

  it('chases.coalesceSeconds delays a message by the coalescing window', () => {
    const noon = sh('2026-11-12T12:00:00');
    expect(sendAfter(noon, DEFAULTS)).toEqual(noon);
    expect(sendAfter(noon, cfg({ chases: { coalesceSeconds: 90 } }))).toEqual(new Date(noon.getTime() + 90_000));
  });

  it.each([
    ['hubMoved', 'hub_moved'],
    ['outForDelivery', 'out_for_delivery'],
    ['delivered', 'delivered'],
  ] as const)('chases.templates.%s is the text of a %s message', (key, kind) => {
    const c = cfg({ chases: { templates: { [key]: `${key}: {trackingNo} @ {hub}` } } });
    const cand = { hub: '上海转运中心', occurredAt: sh('2026-11-12T12:00:00'), carrier: 'ZTO', trackingNo: 'ZT1', orderId: 'O1', customerName: '王芳', status: 'in_transit', normP50Hours: null };
    expect(renderCustomerMessage(c, cand, kind)).toBe(`${key}: ZT1 @ 上海转运中心`);
    expect(renderCustomerMessage(DEFAULTS, cand, kind)).not.toContain(`${key}:`);
  });

  it('chases.defaultChannel is the channel of a chase that names none', async () => {
    const webhookOnly = { chases: { channels: { webhook: { enabled: true, url: 'http://127.0.0.1:9/hook', secret: 's' } } } };
    const reached = new Error('reached the database');
    const sql = (() => Promise.reject(reached)) as unknown as Sql;
    const now = new Date('2026-11-12T04:00:00Z');
    // Default (webhook): the channel passes, registration goes on to the database.
    await expect(registerChases(sql, { orderId: 'O1' }, chasePolicy(cfg(webhookOnly)), now)).rejects.toBe(reached);
    // sms by default: refused up front, since only the webhook channel is enabled.
    const smsDefault = chasePolicy(cfg({ ...webhookOnly, chases: { ...webhookOnly.chases, defaultChannel: 'sms' } }));
    const err = await registerChases(sql, { orderId: 'O1' }, smsDefault, now).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChaseRefused);
    expect((err as ChaseRefused).kind).toBe('channel_disabled');
    expect((err as ChaseRefused).message).toMatch(/channel sms is not enabled/);
  });
});

describe('input.* order limits (ingest/order-input, as the API and the importer use them)', () => {
  const wall = new Date('2026-11-13T00:00:00Z');
  const order = (over: Record<string, unknown>) => ({ orderId: 'I1', platform: 'taobao', paidAt: '2026-11-11T00:05:00+08:00', ...over });

  it('input.earliestPaidAt refuses orders paid before it', () => {
    const o = order({});
    expect(parseOrder(o, inputLimits(DEFAULTS.input, wall)).ok).toBe(true);
    const later = inputLimits(cfg({ input: { earliestPaidAt: '2026-11-12T00:00:00+08:00' } }).input, wall);
    const p = parseOrder(o, later);
    expect(p.ok).toBe(false);
    expect(p.ok ? [] : p.errors.join('\n')).toMatch(/input\.earliestPaidAt/);
  });

  it('input.promiseWithinDays bounds a promisedShipBy after payment', () => {
    const o = order({ type: 'presale', promisedShipBy: '2026-11-21T00:00:00+08:00' }); // ten days after payment
    const ok = parseOrder(o, inputLimits(DEFAULTS.input, wall));
    expect(ok.ok).toBe(true);
    const tight = inputLimits(cfg({ input: { promiseWithinDays: 7 } }).input, wall);
    expect(ok.ok && checkInstants(ok.order, tight).join('\n')).toMatch(/more than 7 days after paidAt \(config input\.promiseWithinDays\)/);
    expect(parseOrder(o, tight).ok).toBe(false);
  });
});

describe('push.hookSecret (api/hooks hookFor)', () => {
  it('moves the hook to /hooks/<provider>/<hookSecret>', () => {
    expect(hookFor('/hooks/kuaidi100', DEFAULTS)?.provider).toBe('kuaidi100');
    const c = cfg({ push: { hookSecret: 'abc-123' } });
    expect(hookFor('/hooks/kuaidi100', c)).toBeNull();
    expect(hookFor('/hooks/kuaidi100/abc-123', c)?.provider).toBe('kuaidi100');
  });
});

describe('queues.keepCompletedSeconds / keepFailedSeconds (job options of every enqueued job)', () => {
  it('become the removeOnComplete / removeOnFail ages', () => {
    const options = (config: Config) =>
      new QueueRuntime({ config } as unknown as Deps, {} as unknown as RedisConnections).jobOptions(jobByName('plan-polls'), 'j1');
    const c = cfg({ queues: { keepCompletedSeconds: 1234, keepFailedSeconds: 5678 } });
    expect(options(c)).toMatchObject({ removeOnComplete: { age: 1234 }, removeOnFail: { age: 5678 } });
    expect(options(DEFAULTS).removeOnComplete.age).not.toBe(1234);
    expect(options(DEFAULTS).removeOnFail.age).not.toBe(5678);
  });
});
