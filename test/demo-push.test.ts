import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../config/schema.js';
import type { Deps } from '../jobs/define-job.js';
import { pushedInDemo, pushSandboxRound, seedDemoOrders, startSandboxPusher } from '../worker/demo.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { startHooks } from './helpers/push.js';

/*
 * `parcelwatch demo` shows both ingestion paths: the sandbox pushes its share of parcels (demo.pushShare)
 * to the daemon's own POST /hooks/sandbox, signed with providers.sandbox.pushSecret, and the receiver stores
 * them (events, receipts) through the push path; polling the same parcels adds nothing twice.
 */
describe('demo: the sandbox pushes to our own hook', () => {
  let app: TestApp;
  let hooks: Awaited<ReturnType<typeof startHooks>>;
  const url = () => `${hooks.base}/hooks/sandbox`;
  const withConfig = (over: (c: Config) => Config): Deps => ({ ...app.deps, config: over(app.deps.config) });
  const receipts = async () => (await app.db.sql`select count(*)::int as n from push_receipts where provider = 'sandbox'`)[0]!.n as number;

  beforeAll(async () => {
    app = await createTestApp({ providers: { sandbox: { pushSecret: 'demo-push-secret' } }, demo: { orders: 80, pushShare: 0.5 } }, '2026-11-14T12:00:00+08:00');
    await seedDemoOrders(app.deps);
    hooks = await startHooks(app.deps);
  });
  afterAll(async () => {
    await hooks.close();
    await app.close();
  });

  it('pushes its share of parcels, signed; the hook stores their events as pushes, and a poll adds none of them again', async () => {
    const round = await pushSandboxRound(app.deps, url());
    expect(round.parcels).toBeGreaterThan(0);
    expect(round.refused).toBe(0);
    const stored = await app.db.sql`
      select r.tracking_no, r.new_events, s.last_pushed_at, s.last_polled_at,
             (select count(*)::int from tracking_events e where e.shipment_id = s.id) as events
      from push_receipts r join shipments s on s.id = r.shipment_id where r.provider = 'sandbox'`;
    expect(stored).toHaveLength(round.parcels);
    for (const r of stored) {
      expect(pushedInDemo(r.tracking_no, 0.5)).toBe(true);
      // Nothing was polled yet: every stored event of these parcels came through the hook.
      expect(r.events).toBe(r.new_events);
      expect(r.last_pushed_at).toEqual(app.clock.now());
      expect(r.last_polled_at).toBeNull();
    }
    expect(stored.reduce((n, r) => n + r.new_events, 0)).toBeGreaterThan(0);
    const before = await app.db.sql`select s.tracking_no, count(e.id)::int as n from shipments s join push_receipts r on r.shipment_id = s.id left join tracking_events e on e.shipment_id = s.id group by 1 order by 1`;
    // The same parcels polled at the same instant: the sandbox shows the same events, stored once.
    await app.cycle(app.clock.now().toISOString());
    const after = await app.db.sql`select s.tracking_no, count(e.id)::int as n from shipments s join push_receipts r on r.shipment_id = s.id left join tracking_events e on e.shipment_id = s.id group by 1 order by 1`;
    const [polled] = await app.db.sql`select count(*)::int as n from shipments s join push_receipts r on r.shipment_id = s.id where s.last_polled_at is not null`;
    expect(polled!.n).toBeGreaterThan(0);
    expect(after).toEqual(before);
  });

  it('demo.pushShare 0 pushes nothing; a push signed with another secret than providers.sandbox.pushSecret is refused and stores nothing', async () => {
    const n = await receipts();
    expect(await pushSandboxRound(withConfig((c) => ({ ...c, demo: { ...c.demo, pushShare: 0 } })), url())).toEqual({ parcels: 0, requests: 0, refused: 0 });
    const wrong = await pushSandboxRound(withConfig((c) => ({ ...c, providers: { ...c.providers, sandbox: { ...c.providers.sandbox, pushSecret: 'not-the-secret' } } })), url());
    expect(wrong.parcels).toBeGreaterThan(0);
    expect(wrong.refused).toBe(wrong.parcels);
    expect(await receipts()).toBe(n);
  });

  it('the demo pusher pushes again every demo.pushEverySeconds', async () => {
    const n = await receipts();
    const perRound = (await app.db.sql`select count(distinct tracking_no)::int as n from push_receipts where provider = 'sandbox'`)[0]!.n as number;
    const pusher = startSandboxPusher(withConfig((c) => ({ ...c, demo: { ...c.demo, pushEverySeconds: 1 } })), url());
    try {
      const deadline = Date.now() + 30_000;
      while ((await receipts()) < n + 2 * perRound && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    } finally {
      pusher.stop();
    }
    // A first round at once and a second one a second later (the default, 60 s, would not have come yet).
    expect(await receipts()).toBeGreaterThanOrEqual(n + 2 * perRound);
  });
});
