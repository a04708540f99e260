import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { STATUSES } from '../domain/status.js';
import { carrierProblemRule as rule } from './carrier-problem.js';
import { at, shipped } from './fixtures.js';

const cfg = loadConfig({ env: {} });
const withStatus = (status: (typeof STATUSES)[number], over = {}) =>
  shipped(at(20), { status, statusSince: at(30), lastEventAt: at(30), lastEventText: '派件异常，无法联系收件人', ...over });

describe('carrier_problem', () => {
  it.each([
    { status: 'failed_attempt', severity: 'warning' },
    { status: 'problem', severity: 'warning' },
    { status: 'rejected', severity: 'critical' },
    { status: 'returning', severity: 'critical' },
    { status: 'returned', severity: 'critical' },
  ] as const)('$status → $severity immediately, and time never changes it', ({ status, severity }) => {
    for (const now of [at(30), at(30, 0, 0, 1), at(1000)]) {
      const out = rule.evaluate(withStatus(status), now, cfg);
      expect(out.verdict?.severity).toBe(severity);
      expect(out.nextCheckAt).toBeNull();
    }
  });

  it.each(['快件丢失，正在核实', '外包装破损，已联系寄件人'])('problem with lost/damaged text "%s" → critical', (text) => {
    const v = rule.evaluate(withStatus('problem', { lastEventText: text }), at(31), cfg).verdict!;
    expect(v.severity).toBe('critical');
    expect(v.details).toMatchObject({ lostOrDamaged: true, lastEvent: text, status: 'problem' });
  });

  it.each(STATUSES.filter((s) => !['failed_attempt', 'problem', 'rejected', 'returning', 'returned'].includes(s)))(
    'status %s: no verdict',
    (status) => {
      expect(rule.evaluate(withStatus(status), at(31), cfg)).toEqual({ verdict: null, nextCheckAt: null });
    },
  );

  it('a provider flag alone with a non-problem status does not open it', () => {
    for (const flag of ['kuaidi100:201', 'kuaidi100:202', 'kuaidi100:205', 'kdniao:401', 'kdniao:402', 'kdniao:403', 'kdniao:412', 'kdniao:417']) {
      expect(rule.evaluate(withStatus('in_transit', { providerFlags: [flag] }), at(31), cfg).verdict).toBeNull();
    }
  });

  it('provider flags are recorded in details when it fires', () => {
    const v = rule.evaluate(withStatus('failed_attempt', { providerFlags: ['kdniao:412', 'kuaidi100:202'] }), at(31), cfg).verdict!;
    expect(v).toEqual({
      type: 'carrier_problem',
      severity: 'warning',
      deadlineAt: null,
      penaltyYuan: null,
      details: {
        providerSignals: ['kdniao:412', 'kuaidi100:202'],
        status: 'failed_attempt',
        since: at(30).toISOString(),
        lastEvent: '派件异常，无法联系收件人',
        lastHub: '杭州转运中心',
        lostOrDamaged: false,
      },
    });
  });

  it('resolution', () => {
    expect(rule.resolution(withStatus('delivered', { deliveredAt: at(40) }))).toBe('delivered');
    expect(rule.resolution(withStatus('out_for_delivery'))).toBe('carrier problem cleared (status now out for delivery)');
  });
});
