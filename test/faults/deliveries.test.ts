import { describe, expect, it } from 'vitest';
import {
  expectAllPolled,
  expectChaserPushesOnce,
  expectDeliveredOncePerKey,
  expectEventsStoredOnce,
  expectExceptionsOnce,
  expectNoStuckJobs,
  expectServesThenStops,
  orderIdOf,
  postKuaidi100Orders,
  servedNumbers,
  providerFaultRuns,
  waitFor,
  type FaultEnv,
  type ProviderFakes,
} from './harness.js';

/*
 * Outgoing webhooks under faults: the agents' endpoint (the sink's /agents) answering 500 for a while, and
 * one task whose endpoint never accepts it (a poison delivery). The daemon runs as a child process against
 * the Kuaidi100 fake; every fifth parcel's carrier reports damage, which opens a carrier_problem exception
 * and an outreach task, delivered to the agents with `Idempotency-Key: pw-outreach-<delivery id>`.
 */

const start = providerFaultRuns();

const agentRequests = (f: ProviderFakes) => f.sink.requests.filter((r) => r.url.startsWith('/agents'));

async function untilDeliveriesSettled(e: FaultEnv, tasks: number) {
  await waitFor(`deliveries of ${tasks} tasks settled`, async () => {
    const [r] = await e.sql`
      select count(distinct task_id)::int as tasks, count(*) filter (where status not in ('sent', 'failed'))::int as open
      from outreach_deliveries`;
    return r!.tasks >= tasks && r!.open === 0;
  }, 45_000, 250);
}

describe('agent and customer webhooks under faults', () => {
  it('agent webhook 500s, then 200: each delivery reaches the agents exactly once per Idempotency-Key; chaser pushes and events are not lost', async () => {
    // Six attempts from 500 ms: the chain outlasts the outage below.
    const { e, f, d } = await start({ outreach: { delivery: { attempts: 6, backoffMs: 500 } } });
    f.sink.failMatching((r) => r.url.startsWith('/agents'), 500);
    // The provider answers 503 until the chases are registered, so the moves come after them.
    f.fake.fault({ kind: 'status', status: 503 });
    const nums = await postKuaidi100Orders(d, 30);
    const chased = nums.filter((n) => !f.journeys.isProblem(n)).slice(0, 6);
    for (const n of chased) {
      const r = await d.api('POST', '/api/chases', { trackingNo: n });
      expect(r.status, JSON.stringify(r.json)).toBe(201);
    }
    f.fake.clearFault();
    const problems = nums.filter((n) => f.journeys.isProblem(n));
    // Every task's delivery has been refused at least twice before the endpoint recovers.
    await waitFor('each task refused twice', async () => {
      const refused = new Map<string, number>();
      for (const r of agentRequests(f)) if (r.status === 500) refused.set(String(r.headers['idempotency-key']), (refused.get(String(r.headers['idempotency-key'])) ?? 0) + 1);
      return refused.size >= problems.length && [...refused.values()].every((n) => n >= 2);
    }, 45_000, 100);
    f.sink.clearFailMatching();
    await untilDeliveriesSettled(e, problems.length);
    await waitFor('chaser pushes sent', async () => {
      const [r] = await e.sql`select count(distinct c.id)::int as n from notifications n join chases c on c.id = n.chase_id where n.status = 'sent'`;
      return r!.n === chased.length;
    }, 30_000, 250);

    const { rows, keys } = await expectDeliveredOncePerKey(e.sql, f.sink);
    expect(keys).toBe(rows);
    const [t] = await e.sql`select count(*)::int as n from outreach_tasks`;
    expect(rows).toBeGreaterThanOrEqual(t!.n);
    // Retries of one key were seen (the outage), and each key's last answer was a 200.
    expect(agentRequests(f).length).toBeGreaterThan(keys);
    await expectAllPolled(e.sql);
    await expectEventsStoredOnce(e.sql, servedNumbers(f.fake.requests), f.journeys.eventCount);
    await expectExceptionsOnce(e.sql, problems.map((n) => ({ orderId: orderIdOf(n), type: 'carrier_problem' })));
    await expectChaserPushesOnce(e.sql, f.sink, chased);
    expect(await expectNoStuckJobs(e.redis.url)).toEqual([]);
    await expectServesThenStops(d);
  });

  it('a poison delivery (its endpoint always answers 500) fails after its configured attempts with an alert and a reason; the other deliveries keep flowing', async () => {
    const ATTEMPTS = 3;
    const { e, f, d } = await start({ outreach: { delivery: { attempts: ATTEMPTS, backoffMs: 300 } } });
    const poisonOrder = 'K5';
    f.sink.failMatching((r) => r.url.startsWith('/agents') && r.json?.task?.orderId === poisonOrder, 500);
    const nums = await postKuaidi100Orders(d, 30);
    const problems = nums.filter((n) => f.journeys.isProblem(n));
    expect(problems.map((n) => orderIdOf(n))).toContain(poisonOrder);
    await untilDeliveriesSettled(e, problems.length);
    // More work after the poison failed: it is delivered too.
    const more = await postKuaidi100Orders(d, 10, { from: 30 });
    const allProblems = [...problems, ...more.filter((n) => f.journeys.isProblem(n))];
    await untilDeliveriesSettled(e, allProblems.length);

    await expectDeliveredOncePerKey(e.sql, f.sink, { failedTaskOrders: [poisonOrder] });
    const [poison] = await e.sql`
      select d.id, d.status, d.attempts, d.last_error from outreach_deliveries d
      join outreach_tasks t on t.id = d.task_id join orders o on o.id = t.order_id where o.external_id = ${poisonOrder}`;
    expect(poison).toMatchObject({ status: 'failed', attempts: ATTEMPTS, last_error: 'webhook: HTTP 500' });
    expect(agentRequests(f).filter((r) => r.headers['idempotency-key'] === `pw-outreach-${poison!.id}`)).toHaveLength(ATTEMPTS);
    const [alert] = await e.sql`select message from alerts where key = 'delivery:webhook' and resolved_at is null`;
    expect(alert!.message).toContain(`agent delivery ${poison!.id} to webhook failed after ${ATTEMPTS} attempts`);
    // The failed job is visible in the deliveries queue with its reason.
    const failed = await expectNoStuckJobs(e.redis.url);
    expect(failed.map((j) => ({ queue: j.queue, reason: j.failedReason, data: j.data }))).toEqual([
      { queue: 'deliveries', reason: 'webhook: HTTP 500', data: { deliveryId: Number(poison!.id), chain: 0 } },
    ]);
    expect(d.lines.some((l) => l.msg === 'agent delivery failed; re-send with `parcelwatch deliveries retry`' && l.deliveryId === Number(poison!.id))).toBe(true);
    await expectAllPolled(e.sql);
    await expectExceptionsOnce(e.sql, allProblems.map((n) => ({ orderId: orderIdOf(n), type: 'carrier_problem' })));
    await expectServesThenStops(d);
  });
});
