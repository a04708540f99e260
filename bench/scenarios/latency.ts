/**
 * Scenario 6, hub-moved latency: min(N, LATENCY_MAX) chased parcels reach a new hub in one poll cycle.
 *
 * Setup (untimed): N shipments seeded; each parcel's first two scans (collected, arrived at its first
 * hub) go through ingestResults as Kuaidi100 replies; then every parcel is chased through importChases
 * (what `parcelwatch import chases FILE` runs, 4 files at once: contact = the customer phone, channel webhook), so the
 * baseline hub is the first hub; the parcels are made due.
 *
 * Timed: one cron tick of plan-polls (triggerSlot, as the scheduler does) on real BullMQ workers
 * (QueueRuntime.startWorkers: poll-tracking against the loopback Kuaidi100 fake, which now answers with
 * a third scan at a new hub → ingestResults → notify-chasers → send-customer-message → the signed
 * customer webhook) delivering to a local HTTP server that records each message's arrival. Latency of a
 * message = its arrival at the server − the instant the fake answered that parcel's poll. Detection jobs
 * of the changed parcels run alongside, as in the daemon.
 *
 * Baseline: the same message bodies (as our run delivered them, with their signature headers) POSTed to
 * the same kind of server from BASELINE_LOOPS plain keep-alive loops (the notifications queue's worker
 * concurrency); its latency is send start → arrival.
 *
 * Nothing may hold a message: the clock is BENCH_NOW (12:00 Asia/Shanghai, outside the default 22:00–08:00
 * quiet hours, which stay enabled and are checked), coalesceSeconds 0, dailyCapPerContact 5 (every
 * contact gets one message: phones are unique per order).
 */
import http from 'node:http';
import { loadConfig } from '../../config/load.js';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseKuaidi100Reply } from '../../carriers/kuaidi100/parse.js';
import { loadShipmentsForPoll } from '../../db/queries/tracking.js';
import { fixedClock, HOUR_MS, MINUTE_MS } from '../../domain/clock.js';
import { importChases } from '../../ingest/import-chases.js';
import { chasePolicy } from '../../db/queries/chases.js';
import { planPolls } from '../../jobs/plan-polls.js';
import { ingestResults, type IngestItem } from '../../ingest/tracking.js';
import { quietUntil } from '../../notify/quiet-hours.js';
import { SIGNATURE_HEADER, verifySignature } from '../../notify/sign.js';
import { reply, send, startKuaidi100Fake, startServer } from '../../test/fakes/kuaidi100-server.js';
import { startHttp } from '../../worker/http.js';
import { createDeps } from '../../worker/deps.js';
import { createLogger } from '../../worker/logger.js';
import { RedisConnections } from '../../worker/redis.js';
import { QueueRuntime } from '../../worker/runtime.js';
import { triggerSlot } from '../../worker/scheduler.js';
import {
  benchConfig,
  dropRedisPrefix,
  freshTables,
  gc,
  jobBacklog,
  LOOPBACK_KUAIDI100,
  median,
  percentile,
  shanghaiWall,
  waitUntil,
  withRss,
  type BenchEnv,
} from '../context.js';
import { BENCH_NOW, seedShipments } from '../generate.js';
import { sidesOf, type ResultRow, type Scenario, type ScenarioContext } from '../types.js';
import { burst, SALT, signedPushForm, type Push } from './push.js';

export const LATENCY_MAX = 10_000;
const { customer: CUSTOMER, key: KEY, qps: QPS, concurrency: CONCURRENCY } = LOOPBACK_KUAIDI100;
/** The notifications queue's worker concurrency (worker/runtime.ts: non-poll queues run 2 at once). */
/** The baseline sends from as many loops as the shipped config runs notifications jobs at once. */
const BASELINE_LOOPS = loadConfig({ env: {} }).queues.concurrency.notifications;
const TARGET_P99_MS = 2000;
const CHASE_FILES = 4;
const SECRET = 'bench-customer-secret';
const SETUP_AT = new Date(BENCH_NOW.getTime() - 3 * HOUR_MS);
const REGISTER_AT = new Date(BENCH_NOW.getTime() - 2 * HOUR_MS);
/** The poll cycle's instant. */
const CYCLE_AT = BENCH_NOW;

const HUBS = ['苏州转运中心', '上海转运中心', '杭州转运中心', '广州转运中心', '深圳转运中心', '北京转运中心', '成都转运中心', '武汉转运中心', '南京转运中心', '郑州转运中心'];
const trackingNo = (id: number) => 'T' + String(id).padStart(12, '0');
/** The hub parcel `id` reaches in the measured cycle. */
export const newHubOf = (id: number) => HUBS[(id + 3) % HUBS.length]!;

/** Kuaidi100 query.do body (resultv2=4, newest first) with the first `scans` of parcel `id`'s three scans. */
function replyBody(id: number, scans: 2 | 3): string {
  const now = BENCH_NOW.getTime();
  const city = HUBS[id % HUBS.length]!.slice(0, 2);
  const events = [
    { at: now - 30 * HOUR_MS, context: `【${city}市】快件已被 ${city}${id % 97}号网点 揽收`, code: '103' },
    { at: now - 20 * HOUR_MS, context: `快件已到达【${HUBS[id % HUBS.length]}】`, code: '1001' },
    { at: now - 30 * MINUTE_MS, context: `快件已到达【${newHubOf(id)}】`, code: '1001' },
  ].slice(0, scans);
  const data = events
    .map((e) => ({ time: shanghaiWall(e.at), ftime: shanghaiWall(e.at), context: e.context, location: '', areaName: '', status: '在途', statusCode: e.code }))
    .reverse();
  return JSON.stringify({ message: 'ok', nu: trackingNo(id), ischeck: '0', com: 'x', status: '200', condition: 'F00', state: '0', data });
}

interface Arrival {
  at: number;
  raw: string;
  headers: Record<string, string>;
}

/** The customer's messaging endpoint: records every request's arrival (ms), body and headers, answers 200. */
async function startArrivalSink() {
  const arrivals: Arrival[] = [];
  const server = await startServer((req, raw, res) => {
    const at = Date.now();
    const headers: Record<string, string> = {};
    for (const k of ['content-type', 'x-parcelwatch-signature', 'idempotency-key', 'x-parcelwatch-event']) {
      const v = req.headers[k];
      if (typeof v === 'string') headers[k] = v;
    }
    arrivals.push({ at, raw, headers });
    return send(res, reply.json({ ok: true }));
  });
  return { ...server, arrivals };
}

/** How the new scan reaches us: a poll cycle (scenario 6) or Kuaidi100 pushes at the hook (6b). */
type Via = 'poll' | 'push';

function overrides(prefix: string, fakeUrl: string, sinkUrl: string, via: Via) {
  const push = via === 'push' ? { mode: 'push', salt: SALT, callbackUrl: 'http://127.0.0.1:9/hooks/kuaidi100' } : {};
  return {
    redis: { prefix },
    providers: { kuaidi100: { baseUrl: fakeUrl, qps: QPS, concurrency: CONCURRENCY, maxQueriesPer24h: 40, ...push } },
    chases: {
      defaultChannel: 'webhook',
      quietHours: { enabled: true, start: '22:00', end: '08:00' },
      coalesceSeconds: 0,
      dailyCapPerContact: 5,
      channels: { webhook: { enabled: true, url: `${sinkUrl}/customer`, secret: SECRET, timeoutMs: 5000 } },
    },
  };
}

interface OursRun {
  seconds: number;
  latencies: number[];
  peakRssMb: number;
  facts: Record<string, number>;
  /** What the customer endpoint received, for the baseline to re-send. */
  delivered: Arrival[];
  setupSeconds: number;
}

async function oursRun(env: BenchEnv, n: number, prefix: string, via: Via): Promise<OursRun> {
  const setup0 = performance.now();
  await freshTables(env.sql);
  await seedShipments(env.sql, n, 'fresh');
  const fake = await startKuaidi100Fake({ customer: CUSTOMER, key: KEY });
  const sink = await startArrivalSink();
  const config = benchConfig(env.dbUrl, env.redisUrl, prefix, overrides(prefix, fake.url, sink.url, via));
  if (quietUntil(CYCLE_AT, config.chases.quietHours, config.timezone)) throw new Error('latency scenario: the bench clock is inside quiet hours');
  const { deps, db } = await createDeps(config, fixedClock(CYCLE_AT), createLogger('silent', { pretty: false }));
  const connections = new RedisConnections(env.redisUrl, deps.log);
  const runtime = new QueueRuntime(deps, connections);
  // Push: the daemon's HTTP server (hooks) on the same deps and queues, as `start --role all` runs it.
  const hooks = via === 'push' ? await startHttp(deps, connections, runtime.enqueue, { port: 0 }) : null;
  try {
    // The first two scans: baseline hub known before the chase.
    for (let first = 1; first <= n; first += 100) {
      const ids = Array.from({ length: Math.min(100, n - first + 1) }, (_, k) => first + k);
      const rows = await loadShipmentsForPoll(env.sql, ids);
      const items: IngestItem[] = rows.map((s) => {
        const body = replyBody(s.id, 2);
        return { shipment: s, result: parseKuaidi100Reply(JSON.parse(body), s.trackingNo, config.timezone, body) };
      });
      await ingestResults(deps, 'kuaidi100', items, SETUP_AT);
    }
    // Registered through the chase importer, as `parcelwatch import chases FILE` runs it: 4 files at once (setup only).
    const files = Array.from({ length: CHASE_FILES }, (_, f) => {
      let text = 'orderId,trackingNo,contact,channel,note\n';
      for (let id = 1 + f; id <= n; id += CHASE_FILES) text += `,${trackingNo(id)},,,bench\n`;
      const file = join(env.tmpDir, `chases-${prefix}-${f}.csv`);
      writeFileSync(file, text);
      return file;
    });
    const imported = await Promise.all(
      files.map((file) => importChases({ sql: env.sql, clock: fixedClock(REGISTER_AT), file, policy: chasePolicy(config), format: 'csv' })),
    );
    const created = imported.reduce((a, r) => a + r.chasesCreated, 0);
    if (created !== n) throw new Error(`latency scenario: ${created} chases created for ${n} parcels (${imported.reduce((a, r) => a + r.rejectedRows, 0)} rejected)`);
    await env.sql`update shipment_schedule set next_poll_at = ${new Date(CYCLE_AT.getTime() - MINUTE_MS)}::timestamptz`;
    if (via === 'poll') for (let id = 1; id <= n; id++) fake.script(trackingNo(id), JSON.parse(replyBody(id, 3)) as Record<string, unknown>);
    const pushList: Push[] = via === 'push' ? Array.from({ length: n }, (_, k) => ({ id: k + 1, body: signedPushForm(replyBody(k + 1, 3)) })) : [];
    /** Push: when each number's push was sent (the provider's "answer" in this path). */
    const pushedAt = new Map<string, number>();
    let failedAcks = 0;
    const setupSeconds = (performance.now() - setup0) / 1000;
    gc();

    const capMs = 120_000 + n * 100;
    const { value: finished, peakRssMb } = await withRss(async () => {
      runtime.startWorkers();
      // Pushes come at the pace the poll scenario's provider answers (QPS): latency, not a backlog of a burst.
      if (hooks) failedAcks = (await burst(hooks.port, pushList, (p) => pushedAt.set(trackingNo(p.id), Date.now()), QPS)).failed;
      else await triggerSlot(planPolls, runtime, CYCLE_AT);
      const all = await waitUntil(() => sink.arrivals.length >= n, capMs, 20);
      // Let the rest of the cycle (detection, any stray retry) finish, so a late duplicate would be seen.
      await waitUntil(async () => (await jobBacklog(runtime, config)).pending === 0, 60_000, 100);
      return all;
    });
    const answered = via === 'push' ? pushedAt : new Map<string, number>();
    if (via === 'poll') for (const r of fake.requests) if (r.numbers[0] && !answered.has(r.numbers[0])) answered.set(r.numbers[0], r.at);
    const latencies: number[] = [];
    const perId = new Map<number, number>();
    let badSignatures = 0;
    let unmatched = 0;
    for (const a of sink.arrivals) {
      const body = JSON.parse(a.raw) as { notificationId: number; trackingNo: string; event: string; hub: string };
      perId.set(body.notificationId, (perId.get(body.notificationId) ?? 0) + 1);
      if (!verifySignature(SECRET, a.raw, a.headers['x-parcelwatch-signature'])) badSignatures++;
      const t = answered.get(body.trackingNo);
      if (t === undefined || body.event !== 'customer.hub_moved' || body.hub !== newHubOf(Number(body.trackingNo.slice(1)))) unmatched++;
      else latencies.push(a.at - t);
    }
    let first = Infinity;
    for (const t of answered.values()) first = Math.min(first, t);
    let last = first;
    for (const a of sink.arrivals) last = Math.max(last, a.at);
    const [counts] = (await env.sql`
      select count(*) filter (where sent = 1)::int as exactly_one, count(*) filter (where sent = 0)::int as none,
             count(*) filter (where sent > 1)::int as more
      from (select c.id, (select count(*) from notifications x where x.chase_id = c.id and x.status = 'sent') as sent from chases c) t`) as unknown as [
      { exactly_one: number; none: number; more: number },
    ];
    const { failed } = await jobBacklog(runtime, config);
    // Where the time goes: queue wait (added → picked up) per job kind, from the completed jobs.
    const waits: Record<string, number[]> = {};
    for (const qn of ['notifications', 'poll-kuaidi100']) {
      for (const j of await runtime.queue(qn).getJobs(['completed'], 0, -1)) (waits[j.name] ??= []).push((j.processedOn ?? j.timestamp) - j.timestamp);
    }
    return {
      seconds: (last - first) / 1000,
      latencies,
      peakRssMb,
      delivered: sink.arrivals.slice(),
      setupSeconds,
      facts: {
        chases: n,
        allArrivedInTime: finished ? 1 : 0,
        pollRequests: fake.requests.length,
        pushes: pushList.length,
        failedAcks,
        messagesReceived: sink.arrivals.length,
        distinctMessages: perId.size,
        duplicateDeliveries: sink.arrivals.length - perId.size,
        unmatchedMessages: unmatched,
        badSignatures,
        chasesWithExactlyOneSent: counts.exactly_one,
        chasesWithNoneSent: counts.none,
        chasesWithMoreSent: counts.more,
        failedJobs: failed,
        pollWaitP50Ms: percentile(waits['poll-tracking'] ?? [], 50),
        notifyWaitP50Ms: percentile(waits['notify-chasers'] ?? [], 50),
        notifyWaitP99Ms: percentile(waits['notify-chasers'] ?? [], 99),
        sendWaitP50Ms: percentile(waits['send-customer-message'] ?? [], 50),
        sendWaitP99Ms: percentile(waits['send-customer-message'] ?? [], 99),
      },
    };
  } finally {
    await hooks?.close();
    await runtime.close();
    await connections.quitAll();
    await db.close();
    await dropRedisPrefix(env.redisUrl, prefix);
    await fake.close();
    await sink.close();
  }
}

/** The same bodies and headers POSTed from `loops` keep-alive loops; latency = send start → arrival. */
async function baselineRun(messages: Arrival[]): Promise<{ seconds: number; latencies: number[] }> {
  const sink = await startArrivalSink();
  const agent = new http.Agent({ keepAlive: true, maxSockets: BASELINE_LOOPS });
  const url = new URL('/customer', sink.url);
  const sentAt = new Map<string, number>();
  const post = (m: Arrival) =>
    new Promise<void>((resolve, reject) => {
      sentAt.set(m.headers['idempotency-key']!, Date.now());
      const req = http.request(url, { method: 'POST', agent, headers: { ...m.headers, [SIGNATURE_HEADER]: m.headers['x-parcelwatch-signature']! } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end(m.raw);
    });
  try {
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: BASELINE_LOOPS }, async () => {
        while (next < messages.length) await post(messages[next++]!);
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const latencies = sink.arrivals.map((a) => a.at - sentAt.get(a.headers['idempotency-key']!)!);
    if (sink.arrivals.length !== messages.length) throw new Error(`latency baseline: ${sink.arrivals.length} of ${messages.length} arrived`);
    return { seconds, latencies };
  } finally {
    agent.destroy();
    await sink.close();
  }
}

const pcts = (xs: number[]) => ({ p50: percentile(xs, 50), p95: percentile(xs, 95), p99: percentile(xs, 99), max: xs.length ? Math.max(...xs) : NaN });
const ms = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`);

function latencyVia(via: Via): Scenario {
  return {
    id: via === 'poll' ? 'latency' : 'latency-push',
    title: via === 'poll' ? '6 hub-moved latency' : '6b hub-moved latency through pushes',
    async run({ env, shipments, another }: ScenarioContext): Promise<ResultRow[]> {
      const n = Math.min(shipments, LATENCY_MAX);
      const tag = randomBytes(4).toString('hex');
      const ours: OursRun[] = [];
      const base: { seconds: number; latencies: number[] }[] = [];
      let delivered: Arrival[] | null = null;
      for (let rep = 0; another(rep); rep++) {
        // The baseline re-sends what our first run delivered, so rep 0 always starts with ours.
        for (const side of rep === 0 ? (['ours', 'baseline'] as const) : sidesOf(rep)) {
          if (side === 'ours') {
            const r = await oursRun(env, n, `pwbench-${tag}-latency-${via}-${rep}`, via);
            env.log(`bench:   latency (${via}) rep ${rep}: setup ${r.setupSeconds.toFixed(1)} s, cycle ${r.seconds.toFixed(1)} s`);
            ours.push(r);
            delivered ??= r.delivered;
          } else {
            base.push(await baselineRun(delivered!));
          }
        }
      }
      const p = ours.map((r) => pcts(r.latencies));
      const b = base.map((r) => pcts(r.latencies));
      const med = (xs: { p50: number; p95: number; p99: number; max: number }[], k: 'p50' | 'p95' | 'p99' | 'max') => median(xs.map((x) => x[k]));
      const s = median(ours.map((r) => r.seconds));
      const bs = median(base.map((r) => r.seconds));
      const facts: Record<string, number[]> = {};
      for (const r of ours) for (const [k, v] of Object.entries(r.facts)) (facts[k] ??= []).push(v);
      facts.p50Ms = p.map((x) => x.p50);
      facts.p95Ms = p.map((x) => x.p95);
      facts.p99Ms = p.map((x) => x.p99);
      facts.maxMs = p.map((x) => x.max);
      facts.baselineP99Ms = b.map((x) => x.p99);
      const correct = ours.every(
        (r) => r.facts.chasesWithExactlyOneSent === n && r.facts.duplicateDeliveries === 0 && r.facts.unmatchedMessages === 0 && r.facts.badSignatures === 0,
      );
      const p99 = med(p, 'p99');
      return [
        {
          scenario: via === 'poll' ? '6' : '6b',
          label: via === 'poll' ? 'hub-moved latency' : `hub-moved latency through pushes (${facts.failedAcks!.join(',')} failed acks)`,
          unit: 'messages',
          measured: true,
          items: n,
          seconds: s,
          itemsPerSec: n / s,
          baseline: `plain keep-alive POSTs (${BASELINE_LOOPS} loops)`,
          baselineSeconds: bs,
          baselineItemsPerSec: n / bs,
          ratio: n / s / (n / bs),
          peakRssMb: Math.max(...ours.map((r) => r.peakRssMb)),
          shipmentsPerSec: n / s,
          target: `p99 <= ${TARGET_P99_MS / 1000} s; one message per chase`,
          met: p99 <= TARGET_P99_MS && correct && ours.every((r) => r.facts.failedAcks === 0),
          note:
            `${via === 'poll' ? 'provider answer' : 'push sent'} → customer endpoint: p50 ${ms(med(p, 'p50'))}, p95 ${ms(med(p, 'p95'))}, p99 ${ms(p99)}, max ${ms(med(p, 'max'))} ` +
            `(baseline POST: p50 ${ms(med(b, 'p50'))}, p99 ${ms(med(b, 'p99'))}); seconds = first provider answer → last arrival; ${via === 'push' ? `${n} signed Kuaidi100 pushes (3 scans each) paced at ${QPS}/s (the poll scenario's answer rate) from 32 keep-alive clients at the hook of an in-process HTTP server; ` : ''}` +
            `queue wait p50/p99 on the notifications queue: notify-chasers ${ms(median(facts.notifyWaitP50Ms!))}/${ms(median(facts.notifyWaitP99Ms!))}, ` +
            `send-customer-message ${ms(median(facts.sendWaitP50Ms!))}/${ms(median(facts.sendWaitP99Ms!))}; ` +
            `${n} chases (min(N, ${LATENCY_MAX})), Kuaidi100 fake qps ${QPS} conc ${CONCURRENCY}, notifications queue concurrency ${BASELINE_LOOPS}; ` +
            `clock 12:00 Asia/Shanghai with quiet hours 22:00–08:00 on, coalesceSeconds 0, dailyCapPerContact 5 (1 message per contact); ` +
            `chases with exactly one sent message ${facts.chasesWithExactlyOneSent!.join(',')}/${n}, duplicates ${facts.duplicateDeliveries!.join(',')}`,
          facts,
          runs: { ours: ours.map((r) => r.seconds), baseline: base.map((r) => r.seconds) },
        },
      ];
    },
  };
}

export const latencyScenario = latencyVia('poll');
export const latencyPushScenario = latencyVia('push');
