import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../config/load.js';
import { fixedClock } from '../domain/clock.js';
import type { Deps } from '../jobs/define-job.js';
import type { OrderInput } from '../ingest/order-input.js';

/*
 * Issue 13: demo.paidWithinHours (and demo.orders) take effect in `parcelwatch demo` (seedDemoOrders reads
 * them from the config). The database write is replaced so the seeded order book can be inspected.
 */
const written: OrderInput[][] = [];
vi.mock('../db/queries/orders.js', () => ({
  upsertOrders: async (_sql: unknown, orders: OrderInput[]) => {
    written.push(orders);
    return { newShipments: 0 };
  },
}));
const { seedDemoOrders } = await import('../worker/demo.js');

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
