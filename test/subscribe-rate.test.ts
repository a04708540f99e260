import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rateWindow } from '../carriers/rate-gate.js';
import { planSubscriptions } from '../jobs/plan-subscriptions.js';
import { executeJob } from '../worker/runtime.js';
import { startKdniaoFake, type KdniaoFake } from './fakes/kdniao-server.js';
import { startKuaidi100Fake, type Kuaidi100Fake } from './fakes/kuaidi100-server.js';
import { startSeventeenTrackFake, type SeventeenTrackFake } from './fakes/seventeen-track-server.js';
import { createTestApp } from './helpers/app.js';
import { APP_KEY, EBID, pushConfig, ST_TOKEN } from './helpers/push.js';
import { busiestWindow } from './helpers/rate.js';
import { startTestWorkers } from './helpers/workers.js';

/*
 * Issue 14: push.subscribe.qps.kuaidi100 / kdniao / seventeenTrack bound the subscription requests that
 * reach the provider. The real path: plan-subscriptions hands the waiting shipments to the
 * subscribe-<provider> queue, the daemon's BullMQ workers run subscribe-tracking, the provider client
 * sends to its fake. The fake's arrival times are the measurement (counted, never timed): at a low rate
 * no 1 s window holds more than the rate; at a higher one the same backlog bunches beyond the low rate,
 * so a key that were ignored (any fixed rate) fails one of the two.
 */

const LOW = 2;
const HIGH = 6;
/** Subscription requests per run: at LOW they need three windows, at HIGH they fit in one. */
const REQUESTS = 6;

let k100: Kuaidi100Fake;
let kdniao: KdniaoFake;
let st: SeventeenTrackFake;
beforeAll(async () => {
  k100 = await startKuaidi100Fake({ customer: 'CUST', key: 'k100-key' });
  kdniao = await startKdniaoFake({ eBusinessId: EBID, appKey: APP_KEY });
  st = await startSeventeenTrackFake({ token: ST_TOKEN });
});
afterAll(async () => {
  await Promise.all([k100.close(), kdniao.close(), st.close()]);
});

type Provider = 'kuaidi100' | 'kdniao' | 'seventeenTrack';
const wire = {
  kuaidi100: { carrier: 'YTO', no: (i: number) => `YT${String(i).padStart(10, '0')}`, perRequest: 1, fake: () => k100, path: '/poll' },
  kdniao: { carrier: 'STO', no: (i: number) => `773${String(i).padStart(10, '0')}`, perRequest: 1, fake: () => kdniao, path: '/Ebusiness/EbusinessOrderHandle.aspx' },
  // 17TRACK registers 40 numbers per request (one subscribe job each).
  seventeenTrack: { carrier: 'EMS', no: (i: number) => `EE${String(i).padStart(9, '0')}CN`, perRequest: 40, fake: () => st, path: '/track/v2.2/register' },
} as const;

let seq = 0;

/** One backlog of REQUESTS subscription requests for `provider`, subscribed at `qps`: the fake's sorted arrival times. */
async function subscribeArrivals(provider: Provider, qps: number): Promise<number[]> {
  const w = wire[provider];
  const app = await createTestApp(
    pushConfig({
      providers: {
        // The provider's own query rate far above: only the subscription rate may bind.
        kuaidi100: { baseUrl: k100.url, qps: 100 },
        kdniao: { baseUrl: kdniao.url, qps: 100 },
        seventeenTrack: { baseUrl: st.url, qps: 100 },
      },
      push: { subscribe: { qps: { [provider]: qps } } },
    }),
  );
  const workers = startTestWorkers(app.deps);
  try {
    const numbers = Array.from({ length: REQUESTS * w.perRequest }, () => w.no(++seq));
    await app.addOrders(
      numbers.map((trackingNo) => ({
        orderId: `R${trackingNo}`,
        platform: 'taobao',
        paidAt: new Date(app.clock.now().getTime() - 3_600_000).toISOString(),
        amount: 50,
        customer: { name: '韩梅梅', phone: '13800138000' },
        shipments: [{ carrier: w.carrier, trackingNo }],
      })),
    );
    const mine = new Set(numbers);
    const ours = () => w.fake().requests.filter((r) => r.path === w.path && r.numbers.some((n) => mine.has(n)));
    const planned = await executeJob(planSubscriptions, {}, app.deps, { jobId: 'plan', attempt: 1, enqueue: workers.runtime.enqueue });
    expect(planned.summary).toMatchObject({ subscriptionsPlanned: numbers.length, subscribeJobs: REQUESTS });
    // Done when every number's outcome is written (the last job has finished, not only sent).
    const subscribed = async () =>
      (await app.db.sql`
        select count(*)::int as n from shipment_subscriptions x join shipments s on s.id = x.shipment_id
        where s.tracking_no = any(${app.db.sql.array(numbers)}) and x.state = 'subscribed'`)[0]!.n as number;
    for (let waited = 0; (await subscribed()) < numbers.length && waited < 20_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
    expect(await subscribed()).toBe(numbers.length);
    expect(ours()).toHaveLength(REQUESTS);
    return ours()
      .map((r) => r.at)
      .sort((a, b) => a - b);
  } finally {
    await workers.close();
    await app.close();
  }
}

describe('push.subscribe.qps bounds the subscription requests at the provider', () => {
  it.each(['kuaidi100', 'kdniao', 'seventeenTrack'] as const)('%s', async (provider) => {
    const { max, durationMs } = rateWindow(LOW);
    const slow = await subscribeArrivals(provider, LOW);
    expect(busiestWindow(slow, durationMs)).toBeLessThanOrEqual(max);
    // The same backlog at a higher rate is let through faster than LOW allows: the key is what bound it.
    const fast = await subscribeArrivals(provider, HIGH);
    expect(busiestWindow(fast, durationMs)).toBeGreaterThan(max);
  }, 60_000);
});
