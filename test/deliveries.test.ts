import { afterEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../domain/clock.js';
import { deliverOutreach, requeueDeliveries } from '../jobs/deliver-outreach.js';
import { startHttp } from '../worker/http.js';
import { createLogger } from '../worker/logger.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { startChannelSink, type ChannelSink } from './fakes/channel-sink.js';
import { waitFor } from './helpers/processes.js';
import { startTestWorkers } from './helpers/workers.js';

/*
 * Agent deliveries: claim, send, record — no transaction or row lock held while the endpoint answers; a
 * delivery ends sent, or failed with an alert and a way to send it again; a re-queue always gets a job id
 * no old job holds.
 */

const silent = createLogger('silent', { pretty: false });
let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** An app with the webhook channel on a sink and one agent task (order paid, never shipped, past the warning age). */
async function appWithTask(sink: ChannelSink, delivery: { attempts: number; backoffMs: number }, timeoutMs = 5000, clockSkewSeconds = 0): Promise<{ app: TestApp; deliveryId: number }> {
  const app = await createTestApp(
    { outreach: { channels: { webhook: { enabled: true, url: `${sink.url}/hook`, secret: 's', timeoutMs } }, delivery }, replicas: { clockSkewSeconds } },
    '2026-11-11T00:00:00+08:00',
  );
  cleanup.push(() => app.close());
  await app.addOrders([{ orderId: 'D1', paidAt: '2026-11-11T00:05:00+08:00', amount: 100 }]);
  sink.failNext(1, 503); // run-once's own try fails: the row is left to the daemon's path below
  const s = await app.cycle('2026-11-13T23:00:00+08:00');
  expect(s.totals.tasksCreated).toBe(1);
  const [d] = await app.deps.sql`update outreach_deliveries set attempts = 0, status = 'pending', lease_until = null returning id`;
  sink.requests.length = 0;
  return { app, deliveryId: Number(d!.id) };
}

const ctx = (attempt = 1) => ({ log: silent, jobId: 'test', attempt, enqueue: async () => {} });

describe('agent deliveries', () => {
  it('hold no transaction and no row lock while the agent endpoint answers', async () => {
    const sink = await startChannelSink();
    cleanup.push(() => sink.close());
    const { app, deliveryId } = await appWithTask(sink, { attempts: 3, backoffMs: 10 }, 1500);
    sink.hangNext(1);
    const sending = deliverOutreach.handle({ deliveryId, chain: 0 }, app.deps, ctx()).catch((e: Error) => e);
    await waitFor('request at the sink', async () => sink.requests.length === 1);
    const inTx = await app.db.sql`
      select count(*)::int as n from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'`;
    expect(inTx[0]!.n).toBe(0);
    // Another process may touch the row meanwhile (nowait: a held lock would fail this at once).
    const [row] = await app.db.sql.begin((tx) => tx`select status from outreach_deliveries where id = ${deliveryId} for update nowait`);
    expect(row!.status).toBe('sending');
    const err = await sending;
    expect(err).toBeInstanceOf(Error); // the channel timeout: a transient failure, retried
    const [after] = await app.db.sql`select status, attempts, lease_until from outreach_deliveries where id = ${deliveryId}`;
    expect(after).toMatchObject({ status: 'pending', attempts: 1 });
    expect(after!.lease_until).not.toBeNull(); // the chain owns the row through its backoff
  });

  it('end failed with an alert after their attempts; `retry` sends them again on a new chain, once per Idempotency-Key', async () => {
    const sink = await startChannelSink();
    cleanup.push(() => sink.close());
    const { app, deliveryId } = await appWithTask(sink, { attempts: 2, backoffMs: 20 });
    const workers = startTestWorkers(app.deps);
    const { runtime } = workers;
    const http = await startHttp(app.deps, workers.connections, runtime.enqueue, { port: 0 });
    cleanup.push(async () => {
      await http.close();
      await workers.close();
    });
    sink.failNext(2, 500);
    await runtime.enqueue(await requeueDeliveries(app.deps.sql, app.clock.now()));
    const failed = await waitFor('delivery failed', async () => {
      const [r] = await app.deps.sql`select status, attempts, chain, last_error from outreach_deliveries where id = ${deliveryId}`;
      return r!.status === 'failed' ? r : undefined;
    });
    expect(failed).toMatchObject({ attempts: 2, chain: 0, last_error: 'webhook: HTTP 500' });
    const alerts = await app.deps.sql`select key, message from alerts where key = 'delivery:webhook'`;
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.message).toMatch(new RegExp(`agent delivery ${deliveryId} to webhook failed after 2 attempts`));
    const oldJob = await runtime.queue('deliveries').getJob(`outreach-delivery-${deliveryId}-c0`);
    expect(await oldJob!.getState()).toBe('failed'); // still holds its id: a re-queue must not reuse it

    const res = await fetch(`http://127.0.0.1:${http.port}/api/deliveries/retry`, { method: 'POST', body: JSON.stringify({ failed: true }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ requeued: 1, ids: [deliveryId] });
    const sent = await waitFor('delivery sent', async () => {
      const [r] = await app.deps.sql`select status, attempts, chain from outreach_deliveries where id = ${deliveryId}`;
      return r!.status === 'sent' ? r : undefined;
    });
    expect(sent).toMatchObject({ attempts: 1, chain: 1 });
    expect(sink.requests).toHaveLength(3);
    expect(new Set(sink.requests.map((r) => r.headers['idempotency-key']))).toEqual(new Set([`pw-outreach-${deliveryId}`]));
  });

  it.each([
    [200, 1],
    [0, 2],
  ])('replicas.clockSkewSeconds %i: a row in flight on a replica 3 minutes behind is sent %i time(s) in all when the one ahead looks at it', async (clockSkewSeconds, sends) => {
    const sink = await startChannelSink();
    cleanup.push(() => sink.close());
    const { app, deliveryId } = await appWithTask(sink, { attempts: 3, backoffMs: 10 }, 2000, clockSkewSeconds);
    sink.hangNext(1);
    const behind = deliverOutreach.handle({ deliveryId, chain: 0 }, app.deps, ctx()).catch((e: Error) => e);
    await waitFor('request at the sink', async () => sink.requests.length === 1);
    // The replica ahead: its clock is 180 s past the other's, beyond the lease's timeout + margin (32 s).
    const ahead = { ...app.deps, clock: fixedClock(new Date(app.clock.now().getTime() + 180_000).toISOString()) };
    for (const f of await requeueDeliveries(ahead.sql, ahead.clock.now())) await deliverOutreach.handle(f.payload as { deliveryId: number; chain: number }, ahead, ctx());
    await deliverOutreach.handle({ deliveryId, chain: 0 }, ahead, ctx()).catch(() => {});
    await behind;
    // Tolerating the skew, the row stays with its sender (the sink sees one request); without, the replica ahead
    // re-chains and sends it again while the first send is still in flight.
    expect(sink.requests).toHaveLength(sends);
    expect(new Set(sink.requests.map((r) => r.headers['idempotency-key']))).toEqual(new Set([`pw-outreach-${deliveryId}`]));
  });

  it('a row whose sender died mid-send is re-queued on a new chain once its lease ran out, and only then', async () => {
    const sink = await startChannelSink();
    cleanup.push(() => sink.close());
    const { app, deliveryId } = await appWithTask(sink, { attempts: 3, backoffMs: 10 });
    const now = app.clock.now();
    await app.deps.sql`update outreach_deliveries set status = 'sending', lease_until = ${new Date(now.getTime() + 60_000)} where id = ${deliveryId}`;
    expect(await requeueDeliveries(app.deps.sql, now)).toEqual([]); // in flight somewhere: left alone
    // The old chain's job, re-run after a stall, does not send a row it no longer owns.
    expect((await deliverOutreach.handle({ deliveryId, chain: 0 }, app.deps, ctx())).summary).toEqual({ deliveriesSkipped: 1 });
    const later = new Date(now.getTime() + 61_000);
    const again = await requeueDeliveries(app.deps.sql, later);
    expect(again).toEqual([{ job: 'deliver-outreach', payload: { deliveryId, chain: 1 }, jobId: `outreach-delivery-${deliveryId}-c1` }]);
    expect((await deliverOutreach.handle({ deliveryId, chain: 0 }, app.deps, ctx())).summary).toEqual({ deliveriesSkipped: 1 });
    expect((await deliverOutreach.handle({ deliveryId, chain: 1 }, app.deps, ctx())).summary).toEqual({ delivered: 1 });
    expect(sink.requests).toHaveLength(1);
  });
});

describe('customer messages', () => {
  it('one bounded retry chain per message through an outage, however often the release sweep runs', async () => {
    const sink = await startChannelSink();
    cleanup.push(() => sink.close());
    const app = await createTestApp({
      chases: { delivery: { attempts: 3, backoffMs: 200 }, channels: { webhook: { enabled: true, url: `${sink.url}/customer`, secret: 's', timeoutMs: 2000 } } },
    });
    cleanup.push(() => app.close());
    await app.addOrders([
      { orderId: 'C1', paidAt: '2026-11-11T00:05:00+08:00', customer: { phone: '13800138000' }, shipments: [{ carrier: 'ZTO', trackingNo: 'ZT900000071' }] },
    ]);
    const now = app.clock.now();
    const [c] = await app.deps.sql`
      insert into chases (shipment_id, contact, channel, registered_at, registered_after_event_id) select id, '13800138000', 'webhook', ${now}, 0 from shipments returning id`;
    const [n] = await app.deps.sql`
      insert into notifications (chase_id, dedupe_key, kind, hub, occurred_at, contact, channel, message, send_after, created_at)
      values (${c!.id}, 'k1', 'hub_moved', '杭州转运中心', ${now}, '13800138000', 'webhook', '到达杭州', ${now}, ${now}) returning id`;
    const workers = startTestWorkers(app.deps);
    const { runtime } = workers;
    cleanup.push(() => workers.close());
    sink.failNext(100, 503); // the customer endpoint is down throughout
    const { sendNotifications } = await import('../jobs/send-notifications.js');
    const release = () => sendNotifications.handle({}, app.deps, { ...ctx(), enqueue: runtime.enqueue });
    await release();
    // The sweep runs again and again while the chain retries: it must not start chains of its own.
    const final = await waitFor('message failed for good', async () => {
      await release();
      const [r] = await app.deps.sql`select status, attempts from notifications where id = ${n!.id}`;
      return r!.status === 'failed' ? r : undefined;
    }, 20_000, 50);
    for (let i = 0; i < 5; i++) await release();
    expect(final.attempts).toBe(3);
    expect(sink.requests).toHaveLength(3);
    expect(new Set(sink.requests.map((r) => r.headers['idempotency-key']))).toEqual(new Set([`pw-notif-${n!.id}`]));
  });
});
