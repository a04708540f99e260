import { createHash } from 'node:crypto';
import { providerFor } from '../carriers/index.js';
import { sandboxPushBody, sandboxPushSign, SANDBOX_SIGN_HEADER, type SandboxPushParcel } from '../carriers/sandbox/push.js';
import { simulate } from '../carriers/sandbox/simulate.js';
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

/** Whether the demo's sandbox also pushes this parcel: a stable share of numbers (`demo.pushShare`). */
export function pushedInDemo(trackingNo: string, share: number): boolean {
  return createHash('sha1').update(trackingNo).digest().readUInt32BE(0) / 2 ** 32 < share;
}

/**
 * One round of the demo's sandbox pushes: for its share of the sandbox's undelivered parcels, what the
 * simulation shows now, signed and POSTed (50 parcels a request) to the daemon's own /hooks/sandbox, which
 * stores them through the push receiver path (the same events also come by polling: stored once).
 */
export async function pushSandboxRound(deps: Deps, hookUrl: string): Promise<{ parcels: number; requests: number; refused: number }> {
  const { config, sql, clock } = deps;
  const out = { parcels: 0, requests: 0, refused: 0 };
  if (config.demo.pushShare <= 0) return out;
  const now = clock.now();
  const { seed, rates, pushSecret } = config.providers.sandbox;
  const rows = await sql`
    select s.carrier, s.tracking_no, o.paid_at, s.marked_shipped_at
    from shipments s join orders o on o.id = s.order_id
    where s.status <> 'delivered' order by s.id`;
  const parcels: SandboxPushParcel[] = [];
  for (const r of rows) {
    if (providerFor(config, r.carrier) !== 'sandbox' || !pushedInDemo(r.tracking_no, config.demo.pushShare)) continue;
    const sim = simulate({ seed, rates, carrier: r.carrier, trackingNo: r.tracking_no, paidAt: r.paid_at, markedShippedAt: r.marked_shipped_at, timeZone: config.timezone }, now);
    if (sim.kind === 'ok') parcels.push({ trackingNo: r.tracking_no, carrier: r.carrier, events: sim.events });
  }
  for (let i = 0; i < parcels.length; i += 50) {
    const batch = parcels.slice(i, i + 50);
    const body = sandboxPushBody(batch);
    const res = await fetch(hookUrl, { method: 'POST', headers: { 'content-type': 'application/json', [SANDBOX_SIGN_HEADER]: sandboxPushSign(body, pushSecret) }, body });
    await res.arrayBuffer();
    out.requests++;
    out.parcels += batch.length;
    if (!res.ok) out.refused += batch.length;
  }
  return out;
}

/** `parcelwatch demo`: a sandbox push round now, then every `demo.pushEverySeconds`. Returns stop(). */
export function startSandboxPusher(deps: Deps, hookUrl: string): { stop(): void } {
  let running: Promise<void> | null = null;
  const round = () => {
    if (running) return; // the previous round is still posting
    running = pushSandboxRound(deps, hookUrl)
      .then((r) => deps.log.info({ ...r, hook: '/hooks/sandbox' }, 'demo: sandbox pushed its share of parcels to our own hook'))
      .catch((err) => deps.log.warn({ err }, 'demo: sandbox push round failed'))
      .finally(() => (running = null));
  };
  round();
  const timer = setInterval(round, deps.config.demo.pushEverySeconds * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
