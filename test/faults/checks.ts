import { createServer, type Server } from 'node:http';
import { expect } from 'vitest';
import { Redis } from 'ioredis';
import type { Daemon, FaultEnv } from './harness.js';
import { waitFor } from './harness.js';

/*
 * "Nothing lost" checkers of the fault tests with replicas, Redis data loss and skewed clocks, and the
 * pieces they need: orders whose parcels are well under way (so detection opens exceptions and outreach
 * queues tasks at the first sweep), and a local sink standing in for the agents' and the customers'
 * webhooks. Each checker reads the test's own database, Redis and sink.
 */

export interface SinkHit {
  /** 'agents' | 'customers' */
  to: string;
  key: string;
  event: string;
}

export interface Sink {
  url: string;
  hits: SinkHit[];
  close(): Promise<void>;
}

/** A local HTTP endpoint that answers 200 to every POST (after `delayMs`) and records its Idempotency-Key. */
export async function startSink(opts: { delayMs?: number } = {}): Promise<Sink> {
  const hits: SinkHit[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', async () => {
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      hits.push({ to: (req.url ?? '/').slice(1), key: String(req.headers['idempotency-key'] ?? ''), event: String(req.headers['x-parcelwatch-event'] ?? '') });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}

/** Config that sends agent deliveries and customer messages to the sink, fast retries, no quiet hours. */
export function sinkConfig(sink: Sink): Record<string, unknown> {
  return {
    outreach: {
      channels: { webhook: { enabled: true, url: `${sink.url}/agents`, secret: 'fault-agents-secret', timeoutMs: 3000 } },
      delivery: { attempts: 6, backoffMs: 300 },
    },
    chases: {
      quietHours: { enabled: false },
      dailyCapPerContact: 1000,
      channels: { webhook: { enabled: true, url: `${sink.url}/customers`, secret: 'fault-customers-secret', timeoutMs: 3000 } },
      delivery: { attempts: 6, backoffMs: 300 },
    },
    // The replicas in these tests share one clock (the skew test sets its own): a dead replica's rows are
    // taken over as soon as their lease runs out.
    replicas: { clockSkewSeconds: 0 },
  };
}

/**
 * `n` orders of one sandbox parcel each, paid `paidHoursAgo` ago (default 80 h: most parcels collected and
 * in transit, some never collected, stalled or with a carrier problem, so the first sweep opens exceptions).
 */
export async function postOrdersPaid(d: Daemon, n: number, opts: { prefix?: string; paidHoursAgo?: number } = {}): Promise<void> {
  const prefix = opts.prefix ?? 'R';
  const paidAt = new Date(Date.now() - (opts.paidHoursAgo ?? 80) * 3600_000).toISOString();
  const orders = Array.from({ length: n }, (_, i) => ({
    orderId: `${prefix}${i}`,
    paidAt,
    amount: 100,
    customer: { name: `顾客${i}`, phone: `1380000${String(i).padStart(4, '0')}` },
    shipments: [{ carrier: 'ZTO', trackingNo: `${prefix}W${String(i).padStart(9, '0')}`, markedShippedAt: paidAt }],
  }));
  for (let i = 0; i < orders.length; i += 500) {
    const part = orders.slice(i, i + 500);
    const r = await d.api('POST', '/api/orders', { orders: part });
    if (r.status !== 200 || r.json.accepted !== part.length) throw new Error(`orders not accepted: ${JSON.stringify(r.json).slice(0, 300)}`);
  }
}

async function count(env: FaultEnv, q: Promise<{ n: number }[]>): Promise<number> {
  const [r] = await q;
  return r!.n;
}

/** Every parcel has been polled since `since` (all of them, when omitted). */
export function allPolledSince(env: FaultEnv, since: Date | null, timeoutMs = 90_000) {
  return waitFor(
    `every parcel polled${since ? ` since ${since.toISOString()}` : ''}`,
    async () =>
      (await count(
        env,
        since
          ? env.sql`select count(*)::int as n from shipments where last_polled_at is null or last_polled_at < ${since}`
          : env.sql`select count(*)::int as n from shipments where last_polled_at is null`,
      )) === 0,
    timeoutMs,
    500,
  );
}

/**
 * The daemons have caught up: every parcel polled, exceptions open, every order with an open exception
 * has its active task, and no agent delivery or customer message is still waiting to be sent.
 */
export async function settled(env: FaultEnv, timeoutMs = 90_000, opts: { messagesSent?: boolean } = {}): Promise<void> {
  await allPolledSince(env, null, timeoutMs);
  await waitFor(
    'exceptions open and outreach in step (every open exception has its task, every delivery and message sent)',
    async () => {
      const [r] = await env.sql`
        select
          (select count(*)::int from exceptions where status = 'open') as open,
          (select count(distinct e.order_id)::int from exceptions e where e.status = 'open'
             and not exists (select 1 from outreach_tasks t where t.order_id = e.order_id and t.status in ('open', 'claimed'))) as untasked,
          (select count(*)::int from outreach_deliveries where status <> 'sent') as unsent,
          (select count(*)::int from notifications where status = 'pending') as unsent_messages`;
      return r!.open > 0 && r!.untasked === 0 && r!.unsent === 0 && (opts.messagesSent === false || r!.unsent_messages === 0);
    },
    timeoutMs,
    500,
  );
}

/**
 * (a) each provider event stored once; (b) each rule fired at most once per order and parcel (no
 * exception closed and opened again, none doubled), each order with an open exception has exactly one
 * active task and no order ever had two tasks; (c) each customer message recorded once per chase and
 * hub, every sent one (and every sent agent delivery) reached the sink. Returns counts for the report.
 */
export async function assertNothingLost(env: FaultEnv, sink?: Sink): Promise<{ events: number; exceptions: number; tasks: number; deliveries: number; messages: number }> {
  const [ev] = await env.sql`select count(*)::int as n, count(distinct (shipment_id, event_key))::int as d from tracking_events`;
  expect(ev!.n, 'events stored once').toBe(ev!.d);

  const doubled = await env.sql`
    select order_id, shipment_id, type, count(*)::int as n from exceptions
    group by order_id, shipment_id, type having count(*) > 1 limit 5`;
  expect(doubled, 'one exception per (order, parcel, rule)').toEqual([]);
  const untasked = () => env.sql`
    select distinct e.order_id from exceptions e where e.status = 'open'
    and not exists (select 1 from outreach_tasks t where t.order_id = e.order_id and t.status in ('open', 'claimed')) limit 5`;
  // The daemons keep judging (parcels move on): an exception opened a moment ago gets its task at the next
  // outreach sync, so this waits for one before it fails (seen once: five exceptions opened after settled()).
  await waitFor('every open exception has an active task', async () => (await untasked()).length === 0, 30_000, 500).catch(() => {});
  expect(await untasked(), 'every open exception has an active task').toEqual([]);
  const twoTasks = await env.sql`select order_id, count(*)::int as n from outreach_tasks group by order_id having count(*) > 1 limit 5`;
  expect(twoTasks, 'one task per order').toEqual([]);

  const messages = await env.sql`select chase_id, hub, kind, count(*)::int as n from notifications group by chase_id, hub, kind having count(*) > 1 limit 5`;
  expect(messages, 'one customer message per chase and hub').toEqual([]);

  const [c] = await env.sql`
    select (select count(*)::int from exceptions) as exceptions, (select count(*)::int from outreach_tasks) as tasks,
           (select count(*)::int from outreach_deliveries where status = 'sent') as deliveries,
           (select count(*)::int from notifications where status = 'sent') as messages`;
  if (sink) {
    const got = new Set(sink.hits.map((h) => h.key));
    const sent = await env.sql`
      select 'pw-outreach-' || id as key from outreach_deliveries where status = 'sent'
      union all select 'pw-notif-' || id from notifications where status = 'sent'`;
    expect(sent.map((r) => r.key).filter((k) => !got.has(k)), 'every sent delivery and message reached its endpoint').toEqual([]);
  }
  return { events: ev!.n, exceptions: c!.exceptions, tasks: c!.tasks, deliveries: c!.deliveries, messages: c!.messages };
}

/**
 * (d) BullMQ: no job has been active longer than lock + stalled interval (BullMQ defaults, 30 s each, with
 * `slackMs` for a loaded machine), and every failed job says why.
 */
export async function assertNoStuckJobs(env: FaultEnv, prefix = 'parcelwatch', slackMs = 30_000): Promise<{ active: number; failed: number }> {
  const r = new Redis(env.redis.url, { maxRetriesPerRequest: 1 });
  try {
    const now = Date.now(); // BullMQ stamps processedOn with the worker's wall time (same host)
    const activeKeys = await r.keys(`${prefix}:*:active`);
    let active = 0;
    for (const k of activeKeys) {
      const q = k.slice(0, -':active'.length);
      for (const id of await r.lrange(k, 0, -1)) {
        active++;
        const processedOn = Number(await r.hget(`${q}:${id}`, 'processedOn'));
        expect(now - processedOn, `${q}:${id} active for too long`).toBeLessThan(60_000 + slackMs);
      }
    }
    let failed = 0;
    for (const k of await r.keys(`${prefix}:*:failed`)) {
      const q = k.slice(0, -':failed'.length);
      for (const id of await r.zrange(k, '0', '-1')) {
        failed++;
        expect(await r.hget(`${q}:${id}`, 'failedReason'), `${q}:${id} failed without a reason`).toBeTruthy();
      }
    }
    return { active, failed };
  } finally {
    r.disconnect();
  }
}

/** (e) the daemon serves: ready, and the API answers. */
export async function assertServes(d: Daemon): Promise<void> {
  expect((await d.readyz()).status).toBe(200);
  expect((await d.api('GET', '/api/exceptions?status=open')).status).toBe(200);
}

/** Log lines that mean the process fell over (must never appear under a fault). */
/** Idempotency-Keys the sink received more than once. */
export function duplicateHits(sink: Sink, to: string): string[] {
  const seen = new Map<string, number>();
  for (const h of sink.hits) if (h.to === to) seen.set(h.key, (seen.get(h.key) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([k]) => k);
}

export function crashes(d: Daemon): Record<string, unknown>[] {
  return d.lines.filter((l) => l.msg === 'uncaught exception' || l.msg === 'unhandled rejection' || l.msg === 'stderr');
}

/**
 * `n` chased orders: each parcel's paid time is chosen (from the sandbox's own journey plan) so that its
 * next hub arrival lands `hubInSeconds` from now, wall time; a chase is registered on each at once, so
 * that move is news to the chase and must give exactly one customer message. `registerChases` (call it
 * once the parcels are polled, so the hub before the move is the chase's baseline) registers a chase on each.
 */
export async function postChasedOrders(d: Daemon, n: number, opts: { prefix?: string; hubInSeconds: number }): Promise<{ orderIds: string[]; registerChases(): Promise<void> }> {
  const { loadConfig } = await import('../../config/load.js');
  const { planJourney } = await import('../../carriers/sandbox/index.js');
  const cfg = loadConfig({ env: {} });
  const prefix = opts.prefix ?? 'C';
  const target = Date.now() + opts.hubInSeconds * 1000;
  const plan = (trackingNo: string, paidAt: Date) =>
    planJourney({ seed: cfg.providers.sandbox.seed, rates: cfg.providers.sandbox.rates, carrier: 'ZTO', trackingNo, paidAt, markedShippedAt: paidAt, timeZone: cfg.timezone });
  const orders: { orderId: string; paidAt: string; amount: number; customer: { name: string; phone: string }; shipments: unknown[] }[] = [];
  for (let i = 0; orders.length < n && i < n * 20; i++) {
    const trackingNo = `${prefix}H${String(i).padStart(9, '0')}`;
    const first = plan(trackingNo, new Date(target - 72 * 3600_000));
    // The second hub the parcel reaches (a move after one hub is known), at least 2 events in.
    const hubs = first?.events.filter((e) => e.intendedHub) ?? [];
    const move = hubs.find((e, k) => k > 0 && e.intendedHub !== hubs[k - 1]!.intendedHub);
    if (!first || !move) continue;
    const paidAt = new Date(target - 72 * 3600_000 + (target - move.at.getTime()));
    const again = plan(trackingNo, paidAt)!.events.find((e) => e.text === move.text);
    if (!again || Math.abs(again.at.getTime() - target) > 5000) continue;
    const k = orders.length;
    orders.push({
      orderId: `${prefix}${k}`,
      paidAt: paidAt.toISOString(),
      amount: 100,
      customer: { name: `催件${k}`, phone: `1390000${String(k).padStart(4, '0')}` },
      shipments: [{ carrier: 'ZTO', trackingNo, markedShippedAt: paidAt.toISOString() }],
    });
  }
  if (orders.length < n) throw new Error(`only ${orders.length} of ${n} sandbox parcels have a hub move to place`);
  const r = await d.api('POST', '/api/orders', { orders });
  if (r.status !== 200 || r.json.accepted !== n) throw new Error(`orders not accepted: ${JSON.stringify(r.json).slice(0, 300)}`);
  return {
    orderIds: orders.map((o) => o.orderId),
    async registerChases() {
      for (const o of orders) {
        const c = await d.api('POST', '/api/chases', { orderId: o.orderId, contact: o.customer.phone });
        if (c.status !== 201) throw new Error(`chase not registered: ${c.status} ${JSON.stringify(c.json).slice(0, 200)}`);
      }
    },
  };
}

/** Customer messages about hub moves recorded per chased order (one expected each). */
export async function hubMessagesPerOrder(env: FaultEnv, orderIds: string[]): Promise<Map<string, number>> {
  const rows = await env.sql`
    select o.external_id as order_id, count(n.id)::int as n
    from orders o join shipments s on s.order_id = o.id join chases c on c.shipment_id = s.id
    left join notifications n on n.chase_id = c.id and n.kind = 'hub_moved'
    where o.external_id = any(${orderIds}::text[]) group by o.external_id`;
  return new Map(rows.map((r) => [String(r.order_id), r.n as number]));
}

/** On failure, what the database and the daemons' warnings say (printed, then the error is rethrown). */
export async function diagnose<T>(env: FaultEnv, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const [s] = await env.sql`
      select (select count(*)::int from shipments where last_polled_at is null) as unpolled,
             (select count(*)::int from exceptions) as exceptions, (select count(*)::int from exceptions where status = 'open') as open,
             (select count(*)::int from outreach_tasks) as tasks,
             (select json_object_agg(status, n) from (select status, count(*)::int as n from outreach_deliveries group by status) x) as deliveries,
             (select json_object_agg(status, n) from (select status, count(*)::int as n from notifications group by status) x) as messages`.catch(() => [{ error: 'db down' }]);
    // The daemons' last warnings are printed by the harness for every failed fault test (harness.ts onTestFailed).
    console.log('fault diagnosis', JSON.stringify(s));
    throw err;
  }
}

/**
 * (c) Chaser pushes the stored moves imply and that are not recorded: for each active chase, each hub its
 * parcel reached after registration (events stored after it, other than the baseline hub) must have a
 * customer message. Returns the (chase, hub) pairs missing.
 */
export async function missingHubMessages(env: FaultEnv): Promise<{ chase_id: string; hub: string }[]> {
  const rows = await env.sql`
    select distinct c.id::text as chase_id, e.hub from chases c
    join tracking_events e on e.shipment_id = c.shipment_id and e.id > c.registered_after_event_id
    where e.status in ('in_transit', 'arrived_at_hub', 'at_pickup_point') and e.hub is not null
      and e.hub is distinct from c.baseline_hub
      and not exists (select 1 from notifications n where n.chase_id = c.id and n.hub = e.hub)`;
  return rows as unknown as { chase_id: string; hub: string }[];
}

/** Teardown of a test's servers, daemons and sink. */
export async function closeAll(env?: FaultEnv, sink?: Sink): Promise<void> {
  await env?.close();
  await sink?.close();
}
