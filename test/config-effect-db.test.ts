import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { usefulConcurrency, rateWindow } from '../carriers/rate-gate.js';
import { loadConfig } from '../config/load.js';
import type { Sql } from '../db/client.js';
import { chasePolicy, registerChases } from '../db/queries/chases.js';
import type { Deps } from '../jobs/define-job.js';
import { jobByName } from '../jobs/index.js';
import { refreshNorms } from '../jobs/refresh-norms.js';
import { syncOutreach } from '../jobs/sync-outreach.js';
import { replayRefusal } from '../worker/heartbeat.js';
import { startHttp } from '../worker/http.js';
import { RedisConnections } from '../worker/redis.js';
import { executeJob } from '../worker/runtime.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { cli, cliDatabase } from './helpers/cli.js';
import { at, scriptedProvider, type ScriptedEvent } from './helpers/scripted-provider.js';
import { k100Form, k100Param, postForm, pushConfig, startHooks } from './helpers/push.js';
import { TEST_REDIS_URL } from './helpers/services.js';
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

describe('queue workers: queues.concurrency.*, providers.<p>.enabled/qps/concurrency/timeoutMs, push.subscribe.qps.*', () => {
  type W = { name: string; concurrency: number; opts: { limiter?: { max: number; duration: number } } };
  async function workersOf(a: TestApp): Promise<Map<string, W>> {
    const w = startTestWorkers(a.deps);
    cleanup.push(() => w.close());
    return new Map((w.runtime as unknown as { workers: W[] }).workers.map((x) => [x.name, x]));
  }
  const limiterOf = (qps: number) => {
    const r = rateWindow(qps);
    return { max: r.max, duration: r.durationMs };
  };
  const DEFAULTS = loadConfig({ env: {} });

  it('queues.concurrency.* and the sandbox poll queue', async () => {
    const concurrency = { schedules: 3, detection: 5, outreach: 6, deliveries: 7, notifications: 9 };
    const a = await app({ queues: { concurrency }, providers: { sandbox: { qps: 7, concurrency: 1 } } });
    const workers = await workersOf(a);
    for (const [queue, n] of Object.entries(concurrency)) {
      expect(workers.get(queue)?.concurrency, queue).toBe(n);
      expect(DEFAULTS.queues.concurrency[queue as keyof typeof concurrency], queue).not.toBe(n);
    }
    expect(workers.get('poll-sandbox')?.concurrency).toBe(1);
    expect(workers.get('poll-sandbox')?.opts.limiter).toEqual(limiterOf(7));
    expect(limiterOf(DEFAULTS.providers.sandbox.qps)).not.toEqual(limiterOf(7));
    // Only enabled providers get a poll queue (by default the sandbox alone).
    expect([...workers.keys()].filter((n) => n.startsWith('poll-'))).toEqual(['poll-sandbox']);
  });

  it('real providers: enabled, qps, concurrency and timeoutMs (the cap on useful concurrency); subscribe queues paced by push.subscribe.qps', async () => {
    const providers = { kuaidi100: { qps: 5, concurrency: 1 }, kdniao: { qps: 2, concurrency: 1 }, seventeenTrack: { qps: 6, concurrency: 1 } } as const;
    const a = await app(
      pushConfig({
        providers: { routes: { default: 'kuaidi100' }, sandbox: { enabled: false }, ...providers },
        push: { subscribe: { qps: { kuaidi100: 3, kdniao: 4, seventeenTrack: 5 } } },
      }),
    );
    const workers = await workersOf(a);
    expect(workers.has('poll-sandbox')).toBe(false); // providers.sandbox.enabled: false
    for (const [p, { qps }] of Object.entries(providers)) {
      const w = workers.get(`poll-${p}`);
      expect(w, `providers.${p}.enabled`).toBeDefined();
      expect(w!.concurrency, `providers.${p}.concurrency`).toBe(1);
      expect(w!.opts.limiter, `providers.${p}.qps`).toEqual(limiterOf(qps));
      const sub = workers.get(`subscribe-${p}`)!;
      expect(sub.opts.limiter, `push.subscribe.qps.${p}`).toEqual(limiterOf(a.config.push.subscribe.qps[p as keyof typeof providers]));
    }
    expect(limiterOf(3)).not.toEqual(limiterOf(DEFAULTS.push.subscribe.qps.kuaidi100));
  });

  it.each(['sandbox', 'kuaidi100', 'kdniao', 'seventeenTrack'] as const)('providers.%s.timeoutMs caps the poll concurrency at what qps lets through in 1 s plus the timeout', async (p) => {
    const over = { qps: 1, concurrency: 64, timeoutMs: 4000 }; // defaults 1000 (sandbox), 10000, 10000, 15000
    const a = await app(pushConfig({ providers: { [p]: { enabled: true, ...over } } }));
    const workers = await workersOf(a);
    expect(workers.get(`poll-${p}`)!.concurrency).toBe(usefulConcurrency(1, 4000));
    expect(usefulConcurrency(1, DEFAULTS.providers[p].timeoutMs)).not.toBe(usefulConcurrency(1, 4000));
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

describe('providers.<p>.mode', () => {
  const numbers = { kuaidi100: ['YTO', 'YT5000000000001'], kdniao: ['STO', '773000000000006'], seventeenTrack: ['EMS', '1234567890'] } as const;
  it.each(Object.keys(numbers) as (keyof typeof numbers)[])('providers.%s.mode poll: its shipments are never subscribed (push subscribes them)', async (p) => {
    const [carrier, no] = numbers[p];
    const plan = async (mode: 'poll' | 'push') => {
      const a = await app(pushConfig({ providers: { [p]: { mode } } }), '2026-11-11T13:00:00+08:00');
      await a.addOrders([{ ...shippedOrder(1), shipments: [{ carrier, trackingNo: no, markedShippedAt: '2026-11-11T12:00:00+08:00' }] }]);
      return (await runJob(a, 'plan-subscriptions')).summary;
    };
    expect(await plan('push')).toMatchObject({ subscriptionsPlanned: 1 });
    expect(await plan('poll')).toMatchObject({ subscriptionsPlanned: 0, subscriptionsPollOnly: 1 });
  });
});

describe('push.fallbackAfterHours', () => {
  it('a subscribed shipment without a push for that long is polled again', async () => {
    const plan = async (fallbackAfterHours?: number) => {
      const a = await app(pushConfig(fallbackAfterHours ? { push: { fallbackAfterHours } } : {}), '2026-11-12T12:00:00+08:00');
      await a.addOrders([shippedOrder(1, 'YTO', 'YT500000000000')]);
      const now = a.clock.now();
      const h = (n: number) => new Date(now.getTime() - n * 3_600_000);
      await a.deps.sql`update shipments set collected_at = ${h(20)}, status = 'in_transit'`;
      await a.deps.sql`update shipment_subscriptions set state = 'subscribed', subscribed_at = ${h(30)}, last_push_at = ${h(5)}, next_attempt_at = null`;
      await a.deps.sql`update shipment_schedule set next_poll_at = ${h(1)}`;
      return (await runJob(a, 'plan-polls')).summary;
    };
    expect(await plan()).toMatchObject({ pollsPlanned: 0, leftToPushes: 1 }); // default 12 h: the push 5 h ago covers it
    expect(await plan(4)).toMatchObject({ pollsPlanned: 1 });
  });
});

describe('chases.maxAgeDays', () => {
  it('a chase ends (expired) after that many days', async () => {
    const a = await app({ chases: { maxAgeDays: 2, channels: { webhook: { enabled: true, url: 'http://127.0.0.1:9/customer', secret: 's' } } } }, '2026-11-11T13:00:00+08:00');
    await a.addOrders([shippedOrder(1)]);
    await registerChases(a.deps.sql, { orderId: 'C1' }, chasePolicy(a.config), a.clock.now());
    a.clock.set('2026-11-13T12:00:00+08:00'); // under 2 days
    await runJob(a, 'send-notifications');
    expect((await a.deps.sql`select status from chases`).map((r) => r.status)).toEqual(['active']);
    a.clock.set('2026-11-14T13:00:00+08:00'); // 3 days: the default 15 would keep it
    await runJob(a, 'send-notifications');
    expect((await a.deps.sql`select status, end_reason from chases`).map((r) => `${r.status}/${r.end_reason}`)).toEqual(['ended/expired']);
  });
});

describe('log.level', () => {
  it('sets what the CLI logs (debug shows each job done; the default info does not)', { timeout: 180_000 }, async () => {
    const { env, drop } = await cliDatabase();
    cleanup.push(drop);
    const dir = mkdtempSync(join(tmpdir(), 'pw-log-'));
    const debugFile = join(dir, 'debug.yaml');
    writeFileSync(debugFile, 'log:\n  level: debug\n');
    const infoFile = join(dir, 'info.yaml');
    writeFileSync(infoFile, 'log:\n  level: info\n'); // the default, written out so the machine's config cannot differ
    expect(loadConfig({ env: {} }).log.level).toBe('info');
    const run = (file: string) => cli(['run-once', '--now', '2026-11-12T12:00:00+08:00'], { ...env, LOG_LEVEL: '', PARCELWATCH_CONFIG: file });
    const debug = await run(debugFile);
    expect(debug.code).toBe(0);
    expect(debug.stderr).toMatch(/"level":20,.*"msg":"job done"/);
    const info = await run(infoFile);
    expect(info.code).toBe(0);
    expect(info.stderr).not.toMatch(/"msg":"job done"/);
  });
});

describe('http.port and http.host', () => {
  it('the API listens on the configured address and port', async () => {
    const free = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.2', () => {
        const port = (s.address() as AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const a = await app({ http: { port: free, host: '127.0.0.2' } }); // defaults 8080 on 127.0.0.1
    const connections = new RedisConnections(TEST_REDIS_URL, a.deps.log);
    const http = await startHttp(a.deps, connections, async () => {}, {});
    cleanup.push(async () => {
      await http.close();
      await connections.quitAll();
    });
    expect(http.server.address()).toMatchObject({ address: '127.0.0.2', port: free });
    expect((await fetch(`http://127.0.0.2:${free}/api/exceptions`)).status).toBe(200);
  });
});

// The per-number floor of whichever provider the carrier is routed to (the provider itself is scripted: the
// floor is applied by poll-tracking from providers.<name>, whatever the wire format).
const PROVIDER_CREDENTIALS = {
  sandbox: {},
  kuaidi100: { customer: 'C', key: 'K' },
  kdniao: { eBusinessId: 'E', appKey: 'A' },
  seventeenTrack: { token: 'T' },
} as const;
describe('providers.<name>.minPollIntervalMinutes', () => {
  it.each(Object.keys(PROVIDER_CREDENTIALS) as (keyof typeof PROVIDER_CREDENTIALS)[])('%s: no number is polled again sooner than its floor', async (name) => {
    const a = await app(
      { providers: { routes: { default: name }, [name]: { enabled: true, ...(name === 'sandbox' ? {} : { mode: 'poll' }), minPollIntervalMinutes: 500, ...PROVIDER_CREDENTIALS[name] } } },
      '2026-11-11T13:00:00+08:00',
    );
    a.deps.providers.set(name, scriptedProvider(new Map([['PW000000101', [{ h: 14, status: 'collected', text: '【杭州市】已揽收', hub: '杭州余杭营业部' }]]])));
    await a.addOrders([shippedOrder(1)]);
    const cycle = await a.cycle('2026-11-11T14:00:00+08:00');
    expect(cycle.totals.polled).toBe(1);
    const [r] = await a.deps.sql`select next_poll_at from shipment_schedule`;
    // Every polling interval is below 500 min (at most 240 in transit): the floor sets the next poll.
    expect(r!.next_poll_at).toEqual(new Date(a.clock.now().getTime() + 500 * 60_000));
  });
});

describe('chases.sendDelivered', () => {
  it.each([true, false])('sendDelivered %s: a delivered message is queued only when on', async (sendDelivered) => {
    const a = await app({ chases: { sendDelivered, channels: { webhook: { enabled: true, url: 'http://127.0.0.1:9/customer', secret: 's' } } } }, at(12).toISOString());
    const no = 'PW000000101';
    const script = new Map<string, ScriptedEvent[]>([[no, [
      { h: 14, status: 'collected', text: '【杭州市】已揽收', hub: '杭州余杭营业部' },
      { h: 40, status: 'delivered', text: '【上海市】已签收，签收人: 本人' },
    ]]]);
    a.deps.providers.set('sandbox', scriptedProvider(script));
    await a.addOrders([shippedOrder(1)]);
    await registerChases(a.deps.sql, { orderId: 'C1' }, chasePolicy(a.config), a.clock.now());
    expect((await a.cycle(at(48).toISOString())).failures).toEqual([]);
    const kinds = (await a.deps.sql`select kind from notifications`).map((r) => r.kind);
    expect(kinds.includes('delivered')).toBe(sendDelivered);
  });
});
