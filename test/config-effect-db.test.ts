import type { Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sql } from '../db/client.js';
import type { Deps } from '../jobs/define-job.js';
import { jobByName } from '../jobs/index.js';
import { refreshNorms } from '../jobs/refresh-norms.js';
import { syncOutreach } from '../jobs/sync-outreach.js';
import { replayRefusal } from '../worker/heartbeat.js';
import { executeJob, type QueueRuntime } from '../worker/runtime.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { k100Form, k100Param, postForm, pushConfig, startHooks } from './helpers/push.js';
import { startTestWorkers } from './helpers/workers.js';

/*
 * Issue 13, the keys that act in SQL or jobs: each is set off its default and the behaviour asserted would
 * differ with the default (config/default.yaml). Paging keys are observed with an aborted signal: a job
 * that is stopping finishes the page it claimed and takes no other, so one run handles exactly one page.
 * The pure keys are in test/config-effect.test.ts.
 */

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function app(overrides: Parameters<typeof createTestApp>[0], start?: string): Promise<TestApp> {
  const a = await createTestApp(overrides, start);
  cleanup.push(() => a.close());
  return a;
}

const stopped = () => {
  const c = new AbortController();
  c.abort();
  return c.signal;
};

/** One run of a scheduled job, its follow-ups collected (not run). */
async function runJob(a: TestApp, name: string, signal?: AbortSignal) {
  return executeJob(jobByName(name), {}, a.deps, { jobId: `config-${name}`, attempt: 1, enqueue: async () => {}, signal });
}

const shippedOrder = (i: number, carrier = 'ZTO', prefix = 'PW00000010') => ({
  orderId: `C${i}`,
  platform: 'taobao',
  paidAt: '2026-11-11T00:05:00+08:00',
  amount: 99,
  customer: { name: '李雷', phone: '13800138000', handle: 'll' },
  shipments: [{ carrier, trackingNo: `${prefix}${i}`, markedShippedAt: '2026-11-11T12:00:00+08:00' }],
});

describe('paging keys take one page of their size', () => {
  it('jobs.planPolls.pageSize: shipments claimed per page', async () => {
    const a = await app({ jobs: { planPolls: { pageSize: 2 } } }, '2026-11-11T13:00:00+08:00');
    await a.addOrders([1, 2, 3, 4, 5].map((i) => shippedOrder(i)));
    const r = await runJob(a, 'plan-polls', stopped());
    expect(r.summary).toMatchObject({ pollsPlanned: 2 }); // 5 with the default 1000
  });

  it('push.subscribe.pageSize: subscriptions claimed per page', async () => {
    const a = await app(pushConfig({ push: { subscribe: { pageSize: 2 } } }), '2026-11-11T13:00:00+08:00');
    await a.addOrders([1, 2, 3, 4, 5].map((i) => shippedOrder(i, 'YTO', 'YT500000000000')));
    const [{ n }] = (await a.deps.sql`select count(*)::int as n from shipment_subscriptions where next_attempt_at <= ${a.clock.now()}`) as unknown as [{ n: number }];
    expect(n).toBe(5);
    const r = await runJob(a, 'plan-subscriptions', stopped());
    expect(r.summary).toMatchObject({ subscriptionsPlanned: 2 }); // 5 with the default 1000
  });

  it('jobs.refreshNorms.batchSize: delivered parcels sampled per statement', async () => {
    const a = await app({ jobs: { refreshNorms: { batchSize: 2 } } }, '2026-11-20T00:00:00+08:00');
    await addDelivered(a, 5, new Date('2026-11-15T00:00:00+08:00'));
    expect(await refreshNorms(a.deps, stopped())).toMatchObject({ sampled: 2 }); // 5 with the default 5000
  });
});

/** `count` delivered parcels (ZTO 杭州 → 北京, 10–50 h), delivered at `deliveredAt`; the trigger queues them for sampling. */
async function addDelivered(a: TestApp, count: number, deliveredAt: Date): Promise<void> {
  const sql = a.deps.sql;
  for (let i = 0; i < count; i++) {
    const collected = new Date(deliveredAt.getTime() - (10 + 10 * i) * 3_600_000);
    const [o] = await sql`insert into orders (platform, external_id, paid_at) values ('taobao', ${`N${i}`}, ${collected}) returning id`;
    const [s] = await sql`
      insert into shipments (order_id, carrier, tracking_no, collected_at, delivered_at, status)
      values (${o!.id}, 'ZTO', ${`NRM${i}`}, ${collected}, ${deliveredAt}, 'delivered') returning id`;
    await sql`
      insert into tracking_events (shipment_id, event_key, occurred_at, status, location, text, provider, seen_at) values
        (${s!.id}, 'c', ${collected}, 'collected', '浙江省杭州市余杭区', '已揽收', 'sandbox', ${collected}),
        (${s!.id}, 'd', ${deliveredAt}, 'delivered', '北京,北京市', '已签收', 'sandbox', ${deliveredAt})`;
  }
}

describe('norms.windowDays', () => {
  it('only parcels delivered within the window count towards a recomputed norm', async () => {
    const now = '2026-11-20T00:00:00+08:00';
    const learned = async (a: TestApp) => (await a.deps.sql`select samples from transit_norms where source = 'learned' and carrier = '*'`).map((r) => r.samples);
    const wide = await app({}, now); // default 90 days: parcels delivered 10 days ago count
    await addDelivered(wide, 5, new Date('2026-11-10T00:00:00+08:00'));
    await refreshNorms(wide.deps);
    expect(await learned(wide)).toEqual([5]);
    const narrow = await app({ norms: { windowDays: 5 } }, now);
    await addDelivered(narrow, 5, new Date('2026-11-10T00:00:00+08:00'));
    expect(await refreshNorms(narrow.deps)).toMatchObject({ sampled: 5 });
    expect(await learned(narrow)).toEqual([]);
  });
});

describe('jobs.syncOutreach.concurrency', () => {
  it('that many pages are synced at once', async () => {
    const a = await app({ jobs: { syncOutreach: { concurrency: 3, batchSize: 1 } } }, '2026-11-11T00:00:00+08:00');
    // Paid and never shipped: past the warning age each order has an open late_shipment without a task.
    await a.addOrders([1, 2, 3, 4].map((i) => ({ orderId: `U${i}`, platform: 'taobao', paidAt: '2026-11-11T00:05:00+08:00', amount: 100 })));
    a.clock.set('2026-11-13T23:00:00+08:00');
    await runJob(a, 'detect-exceptions');
    const [{ n }] = (await a.deps.sql`select count(*)::int as n from exceptions where status = 'open' and outreach_task_id is null`) as unknown as [{ n: number }];
    expect(n).toBe(4);
    // Each page's transaction waits until three are open at once: with the default 2 runners this never
    // happens (the test would time out), with 3 it does; never more than 3.
    const want = 3;
    let open = 0;
    let most = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const real = a.deps.sql;
    const sql = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop !== 'begin') return Reflect.get(target, prop, receiver);
        return async (fn: (tx: Sql) => Promise<unknown>) => {
          most = Math.max(most, ++open);
          if (open >= want) release();
          await gate;
          try {
            return await target.begin(fn as never);
          } finally {
            open--;
          }
        };
      },
    }) as Sql;
    const s = await syncOutreach({ ...a.deps, sql } as Pick<Deps, 'sql' | 'config' | 'clock'>, async () => {});
    expect(most).toBe(3);
    expect(s.tasksCreated).toBe(4);
  }, 60_000);
});

describe('queues.concurrency.deliveries', () => {
  it('is the concurrency of the agent deliveries worker', async () => {
    const a = await app({ queues: { concurrency: { deliveries: 3 } } });
    const w = startTestWorkers(a.deps);
    cleanup.push(() => w.close());
    const workers = (w.runtime as unknown as { workers: Worker[] }).workers;
    expect(workers.find((x) => x.name === 'deliveries')?.concurrency).toBe(3); // default 8
    expect(workers.find((x) => x.name === 'notifications')?.concurrency).toBe(a.config.queues.concurrency.notifications);
  });
});

describe('push.abortResubscribeMinutes', () => {
  it('an aborted Kuaidi100 subscription is retried after that long', async () => {
    const NOW = '2021-12-16T08:00:00+08:00';
    const a = await app(pushConfig({ push: { abortResubscribeMinutes: 7 } }), NOW);
    await a.addOrders([{ ...shippedOrder(1, 'YTO', 'YT500000000000'), paidAt: '2021-12-15T08:00:00+08:00', shipments: [{ carrier: 'YTO', trackingNo: 'YT5000000000001', markedShippedAt: '2021-12-15T12:00:00+08:00' }] }]);
    const hooks = await startHooks(a.deps);
    cleanup.push(() => hooks.close());
    const param = k100Param('YT5000000000001', [], { status: 'abort', message: '3天查询无记录' });
    expect((await postForm(`${hooks.base}/hooks/kuaidi100`, k100Form(param))).status).toBe(200);
    const [x] = await a.deps.sql`select x.state, x.next_attempt_at from shipment_subscriptions x join shipments s on s.id = x.shipment_id where s.tracking_no = 'YT5000000000001'`;
    expect(x!.state).toBe('aborted');
    expect(x!.next_attempt_at).toEqual(new Date(new Date(NOW).getTime() + 7 * 60_000)); // default 30 min
  });
});

describe('replay.heartbeatSeconds', () => {
  it('a daemon seen within three intervals counts as running (refuses a far replay)', async () => {
    const a = await app({ replay: { heartbeatSeconds: 60 } });
    await a.deps.sql`
      insert into daemon_heartbeats (instance_id, role, host, pid, started_at, seen_at)
      values ('other:1', 'scheduler', 'other', 1, now() - interval '1 hour', now() - interval '100 seconds')`;
    const farPast = new Date(Date.now() - 30 * 86_400_000);
    // 100 s ago: live within 3 × 60 s; with the default 30 s (90 s) it would count as gone.
    expect(await replayRefusal(a.deps.sql, farPast, a.config.replay)).toMatch(/a daemon runs against this database: scheduler other pid 1/);
    expect(await replayRefusal(a.deps.sql, farPast, { ...a.config.replay, heartbeatSeconds: 30 })).toBeNull();
  });
});
