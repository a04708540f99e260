import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../config/load.js';
import { fixedClock } from '../domain/clock.js';
import type { Deps } from '../jobs/define-job.js';
import type { OrderInput } from '../ingest/order-input.js';

/*
 * Issue 13, keys whose effect is seen through a replaced module: demo.paidWithinHours and demo.orders in
 * `parcelwatch demo` (the database write is replaced so the seeded order book can be inspected), and every
 * job schedule plus the timezone in the scheduler (node-cron is replaced so the registrations can be read).
 */
const written: OrderInput[][] = [];
vi.mock('../db/queries/orders.js', () => ({
  upsertOrders: async (_sql: unknown, orders: OrderInput[]) => {
    written.push(orders);
    return { newShipments: 0 };
  },
}));
const scheduled: { expr: string; name: string; timezone: string }[] = [];
vi.mock('node-cron', async (orig) => {
  const real = (await orig()) as { default: Record<string, unknown> };
  const schedule = (expr: string, _fn: unknown, opts: { name: string; timezone: string }) => {
    scheduled.push({ expr, name: opts.name, timezone: opts.timezone });
    return { stop() {} };
  };
  return { ...real, default: { ...real.default, schedule } };
});
const { seedDemoOrders } = await import('../worker/demo.js');
const { startScheduler } = await import('../worker/scheduler.js');

describe('schedules and timezone (worker/scheduler)', () => {
  it('each job runs on its configured schedule, in the configured timezone', () => {
    const config = loadConfig({
      env: {},
      overrides: {
        timezone: 'Europe/Berlin',
        jobs: {
          planPolls: { schedule: '1 * * * *' },
          detectExceptions: { schedule: '2 * * * *' },
          syncOutreach: { schedule: '3 * * * *' },
          sendNotifications: { schedule: '4 * * * *' },
          refreshNorms: { schedule: '5 * * * *' },
        },
        push: { subscribe: { schedule: '6 * * * *' } },
        retention: { schedule: '7 * * * *' },
      },
    });
    const log = { info() {}, debug() {}, warn() {} };
    startScheduler({ config, clock: fixedClock('2026-11-13T12:00:00Z'), log } as unknown as Deps, {} as never).stop();
    expect(Object.fromEntries(scheduled.map((s) => [s.name, s.expr]))).toEqual({
      'plan-polls': '1 * * * *',
      'detect-exceptions': '2 * * * *',
      'sync-outreach': '3 * * * *',
      'send-notifications': '4 * * * *',
      'refresh-norms': '5 * * * *',
      'plan-subscriptions': '6 * * * *',
      'apply-retention': '7 * * * *',
    });
    expect(new Set(scheduled.map((s) => s.timezone))).toEqual(new Set(['Europe/Berlin'])); // default Asia/Shanghai
  });
});

describe('demo.paidWithinHours', () => {
  it('seeded orders were paid within that many hours before now', async () => {
    const now = new Date('2026-11-13T12:00:00Z');
    const oldestHoursAgo = async (overrides: Record<string, unknown>) => {
      written.length = 0;
      const config = loadConfig({ env: {}, overrides });
      const r = await seedDemoOrders({ config, clock: fixedClock(now.toISOString()), sql: null } as unknown as Deps);
      expect(r.orders).toBe(config.demo.orders);
      return Math.max(...written.flat().map((o) => (now.getTime() - o.paidAt.getTime()) / 3_600_000));
    };
    const byDefault = await oldestHoursAgo({ demo: { orders: 50 } }); // default 96 h
    expect(byDefault).toBeGreaterThan(5);
    expect(byDefault).toBeLessThanOrEqual(96);
    const narrow = await oldestHoursAgo({ demo: { orders: 50, paidWithinHours: 5 } });
    expect(narrow).toBeLessThanOrEqual(5);
    expect(written.flat()).toHaveLength(50);
  });
});
