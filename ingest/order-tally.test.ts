import { describe, expect, it } from 'vitest';
import { orderKey } from '../db/queries/orders.js';
import { OrderTally } from './order-tally.js';

describe('OrderTally', () => {
  it('counts each order once across batches, stored winning over unchanged, through many table growths', () => {
    const t = new OrderTally();
    const n = 50_000;
    // Batch one: every order unchanged; batch two: every third stored; batch three: all again, unchanged.
    for (let i = 0; i < n; i++) t.note(orderKey('taobao', `T${i}`), false);
    for (let i = 0; i < n; i += 3) t.note(orderKey('taobao', `T${i}`), true);
    for (let i = 0; i < n; i++) t.note(orderKey('taobao', `T${i}`), false);
    const stored = Math.ceil(n / 3);
    expect({ stored: t.stored, unchanged: t.unchanged }).toEqual({ stored, unchanged: n - stored });
  });

  it('tells orders apart by platform and by id', () => {
    const t = new OrderTally();
    for (const k of [orderKey('jd', 'A1'), orderKey('taobao', 'A1'), orderKey('jd', 'A11'), orderKey('jd', '1A'), orderKey('jd', 'A1')]) t.note(k, true);
    expect(t.stored).toBe(4);
  });
});
