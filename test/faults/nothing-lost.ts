import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type postgres from 'postgres';
import { expect } from 'vitest';
import type { ChannelSink, SinkRequest } from '../fakes/channel-sink.js';
import type { RecordedRequest } from '../fakes/kuaidi100-server.js';
import type { Daemon } from './harness.js';

/*
 * "Nothing lost", as reusable checks for the fault suite (issue 13):
 * (a) every provider event served is stored exactly once;
 * (b) every exception the rules imply exists exactly once, with exactly one active outreach task per order;
 * (c) every chaser push the moves imply is recorded once and attempted;
 * (d) no job stays active past lock + stall interval, failed jobs are visible with a reason;
 * (e) the daemon serves afterwards (and stops with 0).
 * Each one reads the test's own database, Redis or fakes, never timing.
 */

type Sql = postgres.Sql;

/** Kuaidi100 queries the fake answered with a well-formed 200 (no fault injected), by tracking number. */
export function servedNumbers(requests: RecordedRequest[]): Set<string> {
  const out = new Set<string>();
  for (const r of requests) {
    if (r.path === '/poll/query.do' && r.answer?.status === 200 && !r.answer.fault) for (const n of r.numbers) out.add(n);
  }
  return out;
}

/**
 * (a) Every number the provider served has exactly its `eventCount(num)` events stored, each once (no
 * duplicate `(shipment_id, event_key)` anywhere, none missing), and no events exist for numbers never served.
 */
export async function expectEventsStoredOnce(sql: Sql, served: Set<string>, eventCount: (num: string) => number): Promise<void> {
  const [dup] = await sql`select count(*)::int as n, count(distinct (shipment_id, event_key))::int as d from tracking_events`;
  expect(dup!.n, 'an event stored twice').toBe(dup!.d);
  const rows = await sql`
    select s.tracking_no, count(e.id)::int as events
    from shipments s left join tracking_events e on e.shipment_id = s.id
    group by s.tracking_no`;
  const stored = new Map(rows.map((r) => [String(r.tracking_no), Number(r.events)]));
  const wrong: string[] = [];
  for (const num of served) if (stored.get(num) !== eventCount(num)) wrong.push(`${num}: served ${eventCount(num)}, stored ${stored.get(num) ?? 'no shipment'}`);
  for (const [num, n] of stored) if (n > 0 && !served.has(num)) wrong.push(`${num}: ${n} events stored, never served`);
  expect(wrong).toEqual([]);
}

/**
 * Every parcel has been polled (last_polled_at set): the work a fault interrupted got done. `except`: numbers
 * a test knows were never answered usably (they must still be scheduled: next_poll_at set).
 */
export async function expectAllPolled(sql: Sql, opts: { except?: string[] } = {}): Promise<void> {
  const except = opts.except ?? [];
  const rows = await sql`
    select s.tracking_no, c.next_poll_at from shipments s left join shipment_schedule c on c.shipment_id = s.id
    where s.last_polled_at is null order by s.tracking_no`;
  expect(rows.filter((r) => !except.includes(String(r.tracking_no))).map((r) => r.tracking_no)).toEqual([]);
  expect(rows.filter((r) => r.next_poll_at === null).map((r) => r.tracking_no)).toEqual([]);
}

/**
 * (b) The exceptions ever opened are exactly `expected` (order external id + type), each once and still
 * open (no duplicate, none opened and resolved on the way), and each of those orders has exactly one
 * outreach task ever, active; no other order has a task.
 */
export async function expectExceptionsOnce(sql: Sql, expected: { orderId: string; type: string }[]): Promise<void> {
  const ex = await sql`
    select o.external_id, e.type, e.status from exceptions e join orders o on o.id = e.order_id order by 1, 2`;
  const key = (o: string, t: string) => `${o}:${t}`;
  expect(ex.map((r) => key(String(r.external_id), String(r.type))).sort()).toEqual(expected.map((e) => key(e.orderId, e.type)).sort());
  expect(ex.filter((r) => r.status !== 'open').map((r) => key(String(r.external_id), String(r.type)))).toEqual([]);
  const tasks = await sql`
    select o.external_id, count(*)::int as n, count(*) filter (where t.status in ('open', 'claimed'))::int as active
    from outreach_tasks t join orders o on o.id = t.order_id group by o.external_id order by 1`;
  const orders = [...new Set(expected.map((e) => e.orderId))].sort();
  expect(tasks.map((t) => ({ order: String(t.external_id), n: Number(t.n), active: Number(t.active) }))).toEqual(orders.map((order) => ({ order, n: 1, active: 1 })));
}

/** Requests the sink received with this Idempotency-Key, and whether the last one was answered 2xx. */
function byKey(requests: SinkRequest[], path: string): Map<string, SinkRequest[]> {
  const out = new Map<string, SinkRequest[]>();
  for (const r of requests) {
    if (!r.url.startsWith(path)) continue;
    const k = String(r.headers['idempotency-key'] ?? '');
    out.set(k, [...(out.get(k) ?? []), r]);
  }
  return out;
}
const answeredOk = (list: SinkRequest[]) => list.some((r) => r.status !== undefined && r.status >= 200 && r.status < 300);

/**
 * (c) Every chased parcel in `chased` (tracking numbers) got at least one hub-move push; every push row is
 * unique (its dedupe key), ended sent (never left pending/sending/failed), and reached the sink's
 * `/customers` under its Idempotency-Key with a 2xx; the sink saw no key without a row.
 */
export async function expectChaserPushesOnce(sql: Sql, sink: ChannelSink, chased: string[]): Promise<void> {
  const rows = await sql`
    select n.id, n.status, n.kind, n.dedupe_key, s.tracking_no
    from notifications n join chases c on c.id = n.chase_id join shipments s on s.id = c.shipment_id order by n.id`;
  expect(new Set(rows.map((r) => r.dedupe_key)).size).toBe(rows.length);
  expect(rows.filter((r) => !['sent', 'superseded'].includes(String(r.status))).map((r) => `${r.tracking_no}:${r.kind}:${r.status}`)).toEqual([]);
  const moved = new Set(rows.filter((r) => r.kind === 'hub_moved' && r.status === 'sent').map((r) => String(r.tracking_no)));
  expect(chased.filter((n) => !moved.has(n))).toEqual([]);
  const seen = byKey(sink.requests, '/customers');
  const sent = rows.filter((r) => r.status === 'sent').map((r) => `pw-notif-${r.id}`);
  expect(sent.filter((k) => !answeredOk(seen.get(k) ?? []))).toEqual([]);
  const known = new Set(rows.map((r) => `pw-notif-${r.id}`));
  expect([...seen.keys()].filter((k) => !known.has(k))).toEqual([]);
}

/**
 * Agent deliveries: every delivery row ended `sent` (none pending, sending or failed, unless listed in
 * `failedTaskOrders`: those must be `failed` with an alert), and the sink's `/agents` saw each sent row's
 * Idempotency-Key with a final 2xx — retries of a key are allowed, distinct keys equal the rows sent.
 */
export async function expectDeliveredOncePerKey(sql: Sql, sink: ChannelSink, opts: { failedTaskOrders?: string[] } = {}): Promise<{ rows: number; keys: number }> {
  const rows = await sql`
    select d.id, d.status, d.last_error, o.external_id
    from outreach_deliveries d join outreach_tasks t on t.id = d.task_id join orders o on o.id = t.order_id order by d.id`;
  const failedOrders = new Set(opts.failedTaskOrders ?? []);
  const bad = rows.filter((r) => (failedOrders.has(String(r.external_id)) ? r.status !== 'failed' : r.status !== 'sent'));
  expect(bad.map((r) => `${r.external_id}#${r.id}:${r.status}:${r.last_error ?? ''}`)).toEqual([]);
  if (failedOrders.size) {
    const alerts = await sql`select key, message from alerts where key like 'delivery:%'`;
    expect(alerts.length).toBeGreaterThan(0);
  }
  const seen = byKey(sink.requests, '/agents');
  const sent = rows.filter((r) => r.status === 'sent').map((r) => `pw-outreach-${r.id}`);
  expect(sent.filter((k) => !answeredOk(seen.get(k) ?? []))).toEqual([]);
  // No key answered 2xx twice: once delivered, a key is never sent again.
  expect([...seen].filter(([, list]) => list.filter((r) => r.status !== undefined && r.status < 300).length > 1).map(([k]) => k)).toEqual([]);
  const known = new Set(rows.map((r) => `pw-outreach-${r.id}`));
  expect([...seen.keys()].filter((k) => !known.has(k))).toEqual([]);
  return { rows: rows.length, keys: [...seen.keys()].length };
}

export interface FailedJob {
  queue: string;
  id: string;
  name: string;
  failedReason: string;
  attemptsMade: number;
  data: unknown;
}

/** BullMQ's defaults (the daemon sets neither): a job's lock, and the stalled-job check interval. */
export const LOCK_PLUS_STALL_MS = 30_000 + 30_000;

/**
 * (d) No job of any queue has been active longer than lock + stall interval, and every failed job carries
 * a reason. Returns the failed jobs so a test can assert on them.
 */
export async function expectNoStuckJobs(redisUrl: string, opts: { prefix?: string; maxActiveMs?: number } = {}): Promise<FailedJob[]> {
  const prefix = opts.prefix ?? 'parcelwatch';
  const maxActiveMs = opts.maxActiveMs ?? LOCK_PLUS_STALL_MS;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const failed: FailedJob[] = [];
  const stuck: string[] = [];
  try {
    const names = (await redis.keys(`${prefix}:*:meta`)).map((k) => k.slice(prefix.length + 1, -':meta'.length));
    for (const name of names) {
      const q = new Queue(name, { connection: redis, prefix });
      for (const j of await q.getActive()) {
        if (j.processedOn && Date.now() - j.processedOn > maxActiveMs) stuck.push(`${name}/${j.id} active since ${new Date(j.processedOn).toISOString()}`);
      }
      for (const j of await q.getFailed()) failed.push({ queue: name, id: String(j.id), name: j.name, failedReason: j.failedReason, attemptsMade: j.attemptsMade, data: j.data });
    }
  } finally {
    redis.disconnect();
  }
  expect(stuck).toEqual([]);
  expect(failed.filter((j) => !j.failedReason)).toEqual([]);
  return failed;
}

/** Log lines that say the daemon let an error escape. */
export function uncaughtLines(d: Daemon): Record<string, unknown>[] {
  return d.lines.filter((l) => l.msg === 'uncaught exception' || l.msg === 'unhandled rejection');
}

/** (e) The daemon serves after the fault: /readyz 200, no escaped error, SIGTERM ends it with exit 0. */
export async function expectServesThenStops(d: Daemon): Promise<void> {
  expect((await d.readyz()).status).toBe(200);
  expect(uncaughtLines(d)).toEqual([]);
  expect(await d.stop()).toBe(0);
}
