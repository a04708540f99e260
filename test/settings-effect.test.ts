import { afterEach, describe, expect, it } from 'vitest';
import { ProviderError, type TrackingProvider } from '../carriers/carrier.js';
import type { QueueRuntime } from '../worker/runtime.js';
import { startTestWorkers } from './helpers/workers.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { startChannelSink, type ChannelSink } from './fakes/channel-sink.js';
import { waitFor } from './helpers/processes.js';

/*
 * Documented retry settings take effect on the real queues (BullMQ workers on Redis): the job's
 * attempts come from config, not a number in the job file, and its backoff from its own key, not the
 * poll default. Every case would hang (or count other attempts) with the hard-coded values it replaces.
 */

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function workersFor(app: TestApp): Promise<QueueRuntime> {
  const w = startTestWorkers(app.deps);
  cleanup.push(() => w.close());
  return w.runtime;
}

describe('retry settings', () => {
  it('providers.retry.attempts and backoffMs bound a poll job (not a hard-coded 5)', async () => {
    const app = await createTestApp({ providers: { retry: { attempts: 2, backoffMs: 20 } } });
    cleanup.push(() => app.close());
    let calls = 0;
    const down: TrackingProvider = {
      name: 'sandbox',
      maxBatch: 50,
      async track() {
        calls++;
        throw new ProviderError('sandbox', 'transient', 'HTTP 503');
      },
    };
    app.deps.providers.set('sandbox', down);
    await app.addOrders([{ orderId: 'S1', paidAt: '2026-11-11T00:05:00+08:00', shipments: [{ carrier: 'ZTO', trackingNo: 'PW000000091' }] }]);
    const [s] = await app.deps.sql`select id from shipments`;
    const runtime = await workersFor(app);
    await runtime.enqueue([{ job: 'poll-tracking', queue: 'poll-sandbox', payload: { provider: 'sandbox', shipmentIds: [Number(s!.id)] }, jobId: 'poll-s1' }]);
    const q = runtime.queue('poll-sandbox');
    const job = await waitFor('poll job failed for good', async () => {
      const j = await q.getJob('poll-s1');
      return j && (await j.getState()) === 'failed' ? j : undefined;
    });
    expect(job.attemptsMade).toBe(2);
    expect(calls).toBe(2);
  });

  it('outreach.delivery.attempts and backoffMs drive agent deliveries (poll backoff of 10 min ignored)', async () => {
    const sink: ChannelSink = await startChannelSink();
    cleanup.push(() => sink.close());
    const app = await createTestApp(
      {
        providers: { retry: { backoffMs: 600_000 } },
        outreach: { channels: { webhook: { enabled: true, url: `${sink.url}/hook`, secret: 's' } }, delivery: { attempts: 3, backoffMs: 30 } },
      },
      '2026-11-11T00:00:00+08:00',
    );
    cleanup.push(() => app.close());
    sink.failNext(100, 502);
    // Paid and never shipped: past the warning age an order-level late_shipment opens a task at once.
    await app.addOrders([{ orderId: 'L1', paidAt: '2026-11-11T00:05:00+08:00', amount: 100 }]);
    const runtime = await workersFor(app);
    const cycle = await app.cycle('2026-11-13T23:00:00+08:00');
    expect(cycle.totals.tasksCreated).toBe(1);
    await app.deps.sql`update outreach_deliveries set attempts = 0, status = 'pending'`; // the daemon's path from the first try on
    sink.requests.length = 0;
    const [d] = await app.deps.sql`select id from outreach_deliveries`;
    await runtime.enqueue([{ job: 'deliver-outreach', payload: { deliveryId: Number(d!.id) }, jobId: `settings-delivery-${d!.id}` }]);
    const row = await waitFor('delivery failed after its attempts', async () => {
      const [r] = await app.deps.sql`select status, attempts from outreach_deliveries where id = ${d!.id}`;
      return r!.status === 'failed' ? r : undefined;
    });
    expect(row.attempts).toBe(3);
    expect(sink.requests).toHaveLength(3);
  });
});
