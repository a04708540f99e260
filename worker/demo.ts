import { upsertOrders } from '../db/queries/orders.js';
import { HOUR_MS } from '../domain/clock.js';
import type { OrderInput } from '../ingest/order-input.js';
import type { Deps } from '../jobs/define-job.js';

const CARRIERS = ['ZTO', 'YTO', 'STO', 'YD', 'SF', 'JTSD', 'EMS', 'JD'];
const NAMES = ['王芳', '李娜', '张伟', '刘洋', '陈静', '杨磊', '赵敏', '黄磊', '周杰', '吴婷'];

/**
 * A deterministic post-Double-11 order book: most orders shipped on the sandbox carrier, some split into
 * two parcels, some presale, and a share paid but not shipped yet (the common late-shipment case).
 */
export function demoOrders(now: Date, count: number, paidWithinHours: number): OrderInput[] {
  const orders: OrderInput[] = [];
  let seed = 20261111;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < count; i++) {
    const paidAt = new Date(now.getTime() - rnd() * paidWithinHours * HOUR_MS);
    const type = rnd() < 0.05 ? 'presale' : 'normal';
    const unshipped = rnd() < 0.12;
    const parcels = unshipped ? 0 : rnd() < 0.1 ? 2 : 1;
    const shipments = Array.from({ length: parcels }, (_, p) => ({
      carrier: CARRIERS[Math.floor(rnd() * CARRIERS.length)]!,
      trackingNo: `PW${String(1111_0000 + i).padStart(8, '0')}${p}`,
      markedShippedAt: new Date(paidAt.getTime() + (1 + rnd() * 20) * HOUR_MS),
    }));
    orders.push({
      orderId: `DEMO${String(i + 1).padStart(6, '0')}`,
      platform: rnd() < 0.7 ? 'taobao' : 'tmall',
      type,
      paidAt,
      promisedShipBy: type === 'presale' ? new Date(paidAt.getTime() + 7 * 24 * HOUR_MS) : null,
      amount: Math.round((29 + rnd() * 600) * 100) / 100,
      currency: 'CNY',
      customer: { name: NAMES[i % NAMES.length]!, phone: `138${String(10_000_000 + i * 7919).slice(-8)}`, handle: `buyer_${i}` },
      shipments: shipments.filter((s) => s.markedShippedAt < now),
    });
  }
  return orders;
}

export async function seedDemoOrders(deps: Deps): Promise<{ orders: number; shipments: number }> {
  const orders = demoOrders(deps.clock.now(), deps.config.demo.orders, deps.config.demo.paidWithinHours);
  const r = await upsertOrders(deps.sql, orders, deps.clock.now());
  return { orders: orders.length, shipments: r.newShipments };
}
