/**
 * Scenario 5, enqueue path: the plan-polls handler (due-shipment scan with FOR UPDATE SKIP LOCKED, lease,
 * grouping by provider) enqueuing through QueueRuntime.enqueue vs raw BullMQ addBulk (chunks of 1000) of
 * the same jobs (same names, payloads, jobIds and options) built outside the timing. Each side gets its
 * own Redis prefix, obliterated afterwards. A second run of the same slot must add 0 jobs; on the first
 * repetition the slot is also re-planned with next_poll_at reset, so the jobIds alone must keep it at 0.
 * Outreach/notification enqueue is not measured in this version.
 */
import { Queue } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { slotId } from '../../jobs/define-job.js';
import { planPolls } from '../../jobs/plan-polls.js';
import { QueueRuntime } from '../../worker/runtime.js';
import { RedisConnections } from '../../worker/redis.js';
import { BENCH_NOW, seedShipments } from '../generate.js';
import { dropRedisPrefix, freshTables, gc, median, withRss } from '../context.js';
import { sidesOf, type ResultRow, type Scenario, type ScenarioContext } from '../types.js';

const QUEUE = 'poll-kuaidi100';

export const enqueueScenario: Scenario = {
  id: 'enqueue',
  title: '5 enqueue path',
  async run({ env, shipments: n, another }: ScenarioContext): Promise<ResultRow[]> {
    const ours: number[] = [];
    const second: number[] = [];
    const base: number[] = [];
    const rss: number[] = [];
    const jobsAdded: number[] = [];
    const secondAdded: number[] = [];
    const replanAdded: number[] = [];
    const slot = slotId(BENCH_NOW);
    const tag = randomBytes(4).toString('hex');
    for (let rep = 0; another(rep); rep++) {
      for (const side of sidesOf(rep)) {
        await freshTables(env.sql);
        await seedShipments(env.sql, n, 'fresh');
        gc();
        const prefix = `pwbench-${tag}-${rep}-${side}`;
        if (side === 'ours') {
          const connections = new RedisConnections(env.redisUrl, env.deps.log);
          const deps = { ...env.deps, config: { ...env.deps.config, redis: { ...env.deps.config.redis, prefix } } };
          const runtime = new QueueRuntime(deps, connections);
          const ctx = { log: deps.log, jobId: `plan-polls-${slot}`, attempt: 1, enqueue: runtime.enqueue };
          try {
            const q = runtime.queue(QUEUE);
            const t0 = performance.now();
            const { value: r1, peakRssMb } = await withRss(() => planPolls.handle({ slot }, deps, ctx));
            ours.push((performance.now() - t0) / 1000);
            rss.push(peakRssMb);
            const c1 = await q.count();
            jobsAdded.push(c1);
            if (r1.summary?.pollJobs !== c1) throw new Error(`enqueue scenario: planned ${r1.summary?.pollJobs} jobs, queue holds ${c1}`);
            const t1 = performance.now();
            await planPolls.handle({ slot }, deps, ctx);
            second.push((performance.now() - t1) / 1000);
            const c2 = await q.count();
            secondAdded.push(c2 - c1);
            if (rep === 0) {
              await env.sql`update shipment_schedule set next_poll_at = ${BENCH_NOW}::timestamptz - interval '1 minute'`;
              await planPolls.handle({ slot }, deps, ctx);
              replanAdded.push((await q.count()) - c2);
            }
            await q.obliterate({ force: true });
          } finally {
            await runtime.close();
            await connections.quitAll();
            await dropRedisPrefix(env.redisUrl, prefix);
          }
        } else {
          const rows = await env.raw`select shipment_id as id from shipment_schedule where next_poll_at <= ${BENCH_NOW} order by shipment_id`;
          const q = env.deps.config.queues;
          const jobs = rows.map((r) => ({
            name: 'poll-tracking',
            data: { provider: 'kuaidi100', shipmentIds: [Number(r.id)] },
            opts: {
              jobId: `poll-kuaidi100-${slot}-${r.id}`,
              attempts: 5,
              backoff: { type: 'provider-aware', delay: env.deps.config.providers.retry.backoffMs },
              removeOnComplete: { age: q.keepCompletedSeconds },
              removeOnFail: { age: q.keepFailedSeconds },
            },
          }));
          const connections = new RedisConnections(env.redisUrl, env.deps.log);
          const queue = new Queue(QUEUE, { connection: connections.create('producer'), prefix });
          try {
            await queue.waitUntilReady();
            const t0 = performance.now();
            for (let i = 0; i < jobs.length; i += 1000) await queue.addBulk(jobs.slice(i, i + 1000));
            base.push((performance.now() - t0) / 1000);
            await queue.obliterate({ force: true });
          } finally {
            await queue.close();
            await connections.quitAll();
            await dropRedisPrefix(env.redisUrl, prefix);
          }
        }
      }
    }
    const items = jobsAdded[0]!;
    const s = median(ours);
    const b = median(base);
    const ratio = items / s / (items / b);
    return [
      {
        scenario: '5',
        label: 'enqueue: plan-polls → BullMQ',
        unit: 'jobs',
        measured: true,
        items,
        seconds: s,
        itemsPerSec: items / s,
        baseline: 'BullMQ addBulk (1000/call)',
        baselineSeconds: b,
        baselineItemsPerSec: items / b,
        ratio,
        peakRssMb: Math.max(...rss),
        shipmentsPerSec: n / s,
        target: '>= 50 % of raw addBulk',
        met: ratio >= 0.5,
        note: 'Kuaidi100 takes one number per call: one job per shipment',
        facts: { jobsAdded },
        runs: { ours, baseline: base },
      },
      {
        scenario: '5',
        label: 'enqueue: second run, same slot',
        unit: 'jobs',
        measured: true,
        items: secondAdded[0]!,
        seconds: median(second),
        itemsPerSec: NaN,
        baseline: null,
        baselineSeconds: null,
        baselineItemsPerSec: null,
        ratio: null,
        peakRssMb: null,
        shipmentsPerSec: null,
        target: 'adds 0 jobs',
        met: secondAdded.every((x) => x === 0) && replanAdded.every((x) => x === 0),
        note: `re-plan with next_poll_at reset added ${replanAdded.join(',')} jobs (jobId dedupe)`,
        facts: { jobsAdded: secondAdded, jobsAddedOnReplanWithReset: replanAdded },
        runs: { ours: second, baseline: [] },
      },
    ];
  },
};
