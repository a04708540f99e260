/**
 * Scenario 3, poll workers: plan-polls enqueues one poll job per shipment; QueueRuntime.startWorkers runs
 * them (the real poll-tracking job, Kuaidi100 client, BullMQ limiter at POLL_QPS and the provider
 * concurrency of the shipped config/default.yaml) against the loopback Kuaidi100 fake
 * (test/fakes/kuaidi100-server.ts) answering instantly with a scripted query.do body. Baselines: (a) a
 * no-op BullMQ worker over the same number of jobs at the same concurrency, no limiter; (b) the fake's
 * raw rate from plain keep-alive HTTP loops (same concurrency). Limiter accuracy: requests counted at the
 * fake per 1 s window never exceed the limit. Runs on min(N, POLL_MAX) shipments, because a rate-limited
 * run lasts items ÷ qps seconds.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { kuaidi100Sign } from '../../carriers/kuaidi100/client.js';
import { slotId } from '../../jobs/define-job.js';
import { planPolls } from '../../jobs/plan-polls.js';
import { createDeps } from '../../worker/deps.js';
import { QueueRuntime } from '../../worker/runtime.js';
import { RedisConnections } from '../../worker/redis.js';
import { createLogger } from '../../worker/logger.js';
import { fixedClock } from '../../domain/clock.js';
import { startKuaidi100Fake } from '../../test/fakes/kuaidi100-server.js';
import { benchConfig, dropRedisPrefix, freshTables, gc, median, withRss } from '../context.js';
import { BENCH_NOW, kuaidi100Body, seedShipments } from '../generate.js';
import { sidesOf, type ResultRow, type Scenario, type ScenarioContext } from '../types.js';

export const POLL_MAX = 5000;
export const POLL_QPS = 500;
const CUSTOMER = 'BENCH';
const KEY = 'bench-key';
const trackingNo = (id: number) => 'T' + String(id).padStart(12, '0');

function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function waitDone(q: Queue, total: number, timeoutMs: number): Promise<{ completed: number; failed: number }> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const c = await q.getJobCounts('completed', 'failed');
    if ((c.completed ?? 0) + (c.failed ?? 0) >= total || Date.now() > until) return { completed: c.completed ?? 0, failed: c.failed ?? 0 };
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Max requests in any 1 s window (sliding over request arrival times). */
function maxPerSecond(times: number[]): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < t.length; hi++) {
    while (t[hi]! - t[lo]! >= 1000) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

export const pollScenario: Scenario = {
  id: 'poll',
  title: '3 poll workers',
  async run({ env, shipments, another }: ScenarioContext): Promise<ResultRow[]> {
    const n = Math.min(shipments, POLL_MAX);
    // What a deployment gets: the shipped default, not a number tuned for this benchmark.
    const concurrency = benchConfig(env.dbUrl, env.redisUrl, 'pwbench-poll').providers.kuaidi100.concurrency;
    const fake = await startKuaidi100Fake({ customer: CUSTOMER, key: KEY });
    for (let id = 1; id <= n; id++) fake.script(trackingNo(id), JSON.parse(kuaidi100Body(id, trackingNo(id), 'x')) as Record<string, unknown>);
    const ours: number[] = [];
    const noop: number[] = [];
    const rawHttp: number[] = [];
    const rss: number[] = [];
    const p50: number[] = [];
    const p99: number[] = [];
    const maxRps: number[] = [];
    const failed: number[] = [];
    const events: number[] = [];
    const tag = randomBytes(4).toString('hex');
    const slot = slotId(BENCH_NOW);
    try {
      for (let rep = 0; another(rep); rep++) {
        for (const side of sidesOf(rep)) {
          const prefix = `pwbench-${tag}-poll-${rep}-${side}`;
          gc();
          if (side === 'ours') {
            await freshTables(env.sql);
            await seedShipments(env.sql, n, 'fresh');
            const config = benchConfig(env.dbUrl, env.redisUrl, prefix);
            config.providers.kuaidi100 = { ...config.providers.kuaidi100, baseUrl: fake.url, qps: POLL_QPS, maxQueriesPer24h: 40 };
            const { deps, db } = await createDeps(config, fixedClock(BENCH_NOW), createLogger('silent', { pretty: false }));
            const connections = new RedisConnections(env.redisUrl, deps.log);
            const runtime = new QueueRuntime(deps, connections);
            try {
              await planPolls.handle({ slot }, deps, { log: deps.log, jobId: 'plan', attempt: 1, enqueue: runtime.enqueue });
              const q = runtime.queue('poll-kuaidi100');
              const jobs = await q.count();
              const before = fake.requests.length;
              const t0 = performance.now();
              const { value: done, peakRssMb } = await withRss(async () => {
                runtime.startWorkers();
                return waitDone(q, jobs, 600_000);
              });
              ours.push((performance.now() - t0) / 1000);
              rss.push(peakRssMb);
              failed.push(done.failed);
              const reqs = fake.requests.slice(before);
              maxRps.push(maxPerSecond(reqs.map((r) => r.at)));
              const completed = await q.getJobs(['completed'], 0, -1);
              const lat = completed.map((j) => (j.finishedOn ?? 0) - (j.processedOn ?? j.timestamp));
              p50.push(pct(lat, 50));
              p99.push(pct(lat, 99));
              const [{ c }] = (await env.sql`select count(*)::int as c from tracking_events`) as unknown as [{ c: number }];
              events.push(c);
            } finally {
              await runtime.close();
              await connections.quitAll();
              await db.close();
              await dropRedisPrefix(env.redisUrl, prefix);
            }
            // (b) raw keep-alive HTTP loops against the fake, same request bodies, same concurrency.
            const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
            const url = new URL('/poll/query.do', fake.url);
            const post = (id: number) =>
              new Promise<void>((resolve, reject) => {
                const param = JSON.stringify({ com: 'zhongtong', num: trackingNo(id), resultv2: '4' });
                const body = new URLSearchParams({ customer: CUSTOMER, param, sign: kuaidi100Sign(param, KEY, CUSTOMER) }).toString();
                const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
                  res.resume();
                  res.on('end', resolve);
                });
                req.on('error', reject);
                req.end(body);
              });
            let next = 1;
            const t1 = performance.now();
            await Promise.all(
              Array.from({ length: concurrency }, async () => {
                while (next <= n) await post(next++);
              }),
            );
            rawHttp.push((performance.now() - t1) / 1000);
            agent.destroy();
          } else {
            // (a) no-op BullMQ worker over the same number of jobs, same concurrency, no limiter.
            const connections = new RedisConnections(env.redisUrl, env.deps.log);
            const q = new Queue('noop', { connection: connections.create('producer'), prefix });
            const jobs = Array.from({ length: n }, (_, i) => ({ name: 'noop', data: { shipmentIds: [i + 1] }, opts: { jobId: `noop-${i + 1}` } }));
            for (let i = 0; i < jobs.length; i += 1000) await q.addBulk(jobs.slice(i, i + 1000));
            const t0 = performance.now();
            const w = new Worker('noop', async () => ({}), { connection: connections.create('worker'), prefix, concurrency });
            await waitDone(q, n, 600_000);
            noop.push((performance.now() - t0) / 1000);
            await w.close();
            await q.obliterate({ force: true });
            await q.close();
            await connections.quitAll();
            await dropRedisPrefix(env.redisUrl, prefix);
          }
        }
      }
    } finally {
      await fake.close();
    }
    const s = median(ours);
    const b = median(noop);
    const r = median(rawHttp);
    const limitOk = maxRps.every((x) => x <= POLL_QPS);
    return [
      {
        scenario: '3',
        label: `poll workers (fake, qps ${POLL_QPS}, conc ${concurrency})`,
        unit: 'shipments',
        measured: true,
        items: n,
        seconds: s,
        itemsPerSec: n / s,
        baseline: 'no-op BullMQ worker',
        baselineSeconds: b,
        baselineItemsPerSec: n / b,
        ratio: n / s / (n / b),
        peakRssMb: Math.max(...rss),
        shipmentsPerSec: n / s,
        target: `fake never sees > ${POLL_QPS} req/s`,
        met: limitOk && failed.every((x) => x === 0),
        note: `job latency p50 ${median(p50).toFixed(1)} ms, p99 ${median(p99).toFixed(1)} ms; max requests in any 1 s at the fake ${Math.max(...maxRps)} (limit ${POLL_QPS}); failed jobs ${failed.join(',')}; run on min(N, ${POLL_MAX}) shipments`,
        facts: { maxRequestsPerSecond: maxRps, failedJobs: failed, eventRows: events, p50Ms: p50, p99Ms: p99 },
        runs: { ours, baseline: noop },
      },
      {
        scenario: '3',
        label: 'poll: raw keep-alive HTTP loop vs fake',
        unit: 'requests',
        measured: true,
        items: n,
        seconds: r,
        itemsPerSec: n / r,
        baseline: null,
        baselineSeconds: null,
        baselineItemsPerSec: null,
        ratio: null,
        peakRssMb: null,
        shipmentsPerSec: null,
        target: '-',
        met: null,
        note: `ours reaches ${((n / s / (n / r)) * 100).toFixed(0)} % of the fake's raw request rate (${concurrency} loops)`,
        facts: {},
        runs: { ours: rawHttp, baseline: [] },
      },
    ];
  },
};
