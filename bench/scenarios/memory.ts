/**
 * Scenario 7, daemon memory: peak RSS of one real `parcelwatch start --role all` child process
 * (bin/parcelwatch.mjs, env DATABASE_URL / REDIS_URL / PARCELWATCH_CONFIG → a bench YAML) while it works
 * through N shipments: polls them against a loopback Kuaidi100 fake (real wire format and signature
 * check, answering at once), detects, syncs outreach (signed agent webhook) and notifies chasers (signed
 * customer webhook; every eleventh parcel is chased), until the work drains or MEMORY_CAP_SECONDS pass.
 *
 * Measured: the daemon's process tree (the node process bin/parcelwatch.mjs runs in, tsx included, plus
 * any child), VmRSS summed over the tree every 100 ms and each process's VmHWM, from /proc. Baseline:
 * the same daemon's peak while idle (started, migrated, workers and cron running, nothing due), read
 * before the order book is committed. The book (seedShipments 'fresh', shifted so its timeline ends at
 * the real now, because the daemon runs on the system clock) is written in one transaction, so the
 * daemon sees all of it at once.
 *
 * The first poll cycle is kicked as the scheduler would (a plan-polls job on the daemon's schedules
 * queue, own slot id) right after the commit, instead of waiting for the next cron slot.
 * Bench settings in the YAML: plan-polls, the detection sweep, outreach sync and notification release
 * every minute; Kuaidi100 fake
 * at qps 500 / concurrency 4 (scenario 3's); quiet hours off (the system clock may be at night in
 * Shanghai); the loopback fake and the webhook sink run in the bench process, not in the daemon.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { loadConfig } from '../../config/load.js';
import type { Sql } from '../../db/client.js';
import { MINUTE_MS } from '../../domain/clock.js';
import { K100_NO_RESULT, md5Hex, reply, send, startServer } from '../../test/fakes/kuaidi100-server.js';
import { RedisConnections } from '../../worker/redis.js';
import { QueueRuntime } from '../../worker/runtime.js';
import { dropRedisPrefix, freshTables, jobBacklog, LOOPBACK_KUAIDI100, shanghaiWall, waitUntil, type BenchEnv } from '../context.js';
import { BENCH_NOW, kuaidi100Body, seedShipments } from '../generate.js';
import type { ResultRow, Scenario, ScenarioContext } from '../types.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'parcelwatch.mjs');
export const TARGET_RSS_MB = 512;
/** Time cap of the loaded run; override with BENCH_MEMORY_CAP_SECONDS. */
export const MEMORY_CAP_SECONDS = Number(process.env.BENCH_MEMORY_CAP_SECONDS ?? 300);
const IDLE_MS = 2000;
const { customer: CUSTOMER, key: KEY, qps: QPS, concurrency: CONCURRENCY } = LOOPBACK_KUAIDI100;
const SECRET = 'bench-secret';

// ---------------------------------------------------------------------------------------------
// /proc sampling of a process tree

export function statusKb(pid: number): { rss: number; hwm: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rss: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0), hwm: Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0) };
  } catch {
    return null; // gone
  }
}

function treeOf(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const tid of readdirSync(`/proc/${out[i]}/task`)) {
        const kids = readFileSync(`/proc/${out[i]}/task/${tid}/children`, 'utf8').trim();
        if (kids) out.push(...kids.split(/\s+/).map(Number));
      }
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Peak of the summed VmRSS of `pid`'s tree (sampled) and of each process's own VmHWM (kernel-tracked). */
class TreeRss {
  peakSumKb = 0;
  peakHwmKb = 0;
  processes = 1;
  private timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), 100);
  }

  sample(): void {
    const tree = treeOf(this.pid);
    this.processes = Math.max(this.processes, tree.length);
    let sum = 0;
    for (const p of tree) {
      const s = statusKb(p);
      if (!s) continue;
      sum += s.rss;
      this.peakHwmKb = Math.max(this.peakHwmKb, s.hwm);
    }
    this.peakSumKb = Math.max(this.peakSumKb, sum);
  }

  /** Peak so far in MB: the larger of the sampled tree sum and the largest single-process high-water mark. */
  peakMb(): number {
    return Math.max(this.peakSumKb, this.peakHwmKb) / 1024;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Loopback services in the bench process

const fromShanghai = (s: string) => Date.parse(`${s.replace(' ', 'T')}+08:00`);

/**
 * Kuaidi100 poll/query.do for any bench number T<12 digits>: scenario 2's reply of that parcel
 * (kuaidi100Body), its times moved by `shiftMs`. Computed per request, so memory stays flat at any N.
 */
async function startOnDemandKuaidi100(shiftMs: () => number) {
  const stats = { requests: 0, answered: 0, rejected: 0 };
  const server = await startServer(async (req, body, res) => {
    stats.requests++;
    const form = new URLSearchParams(body);
    const param = form.get('param') ?? '';
    if (req.url !== '/poll/query.do' || form.get('customer') !== CUSTOMER || form.get('sign') !== md5Hex(param + KEY + CUSTOMER).toUpperCase()) {
      stats.rejected++;
      return send(res, reply.json({ result: false, returnCode: '503', message: '验证签名失败' }));
    }
    const p = JSON.parse(param) as { num?: string; com?: string };
    const id = /^T\d{12}$/.test(p.num ?? '') ? Number(p.num!.slice(1)) : 0;
    if (!id) return send(res, reply.json(K100_NO_RESULT));
    const shift = shiftMs();
    const reply0 = JSON.parse(kuaidi100Body(id, p.num!, p.com ?? '')) as { data: { time: string; ftime: string }[] };
    for (const d of reply0.data) {
      d.time = shanghaiWall(fromShanghai(d.time) + shift);
      d.ftime = shanghaiWall(fromShanghai(d.ftime) + shift);
    }
    stats.answered++;
    return send(res, reply.json(reply0));
  });
  return { ...server, stats };
}

/** Counts what the agent and customer webhooks receive; answers 200. */
async function startCountingSink() {
  const counts = { customer: 0, agents: 0, other: 0 };
  const server = await startServer((req, _raw, res) => {
    if (req.url === '/customer') counts.customer++;
    else if (req.url === '/agents') counts.agents++;
    else counts.other++;
    return send(res, reply.json({ errcode: 0, errmsg: 'ok' }));
  });
  return { ...server, counts };
}

// ---------------------------------------------------------------------------------------------
// The daemon child

function daemonYaml(env: BenchEnv, prefix: string, fakeUrl: string, sinkUrl: string) {
  return {
    log: { level: 'info' },
    database: { url: env.dbUrl, poolSize: 10 },
    redis: { url: env.redisUrl, prefix },
    http: { port: 0, host: '127.0.0.1' },
    jobs: {
      planPolls: { schedule: '* * * * *' },
      detectExceptions: { schedule: '* * * * *' },
      syncOutreach: { schedule: '* * * * *' },
      sendNotifications: { schedule: '* * * * *' },
    },
    providers: {
      routes: { default: 'kuaidi100' },
      kuaidi100: { enabled: true, baseUrl: fakeUrl, customer: CUSTOMER, key: KEY, qps: QPS, concurrency: CONCURRENCY, maxQueriesPer24h: 40 },
    },
    outreach: { channels: { webhook: { enabled: true, url: `${sinkUrl}/agents`, secret: SECRET, timeoutMs: 5000 } } },
    chases: {
      quietHours: { enabled: false },
      channels: { webhook: { enabled: true, url: `${sinkUrl}/customer`, secret: SECRET, timeoutMs: 5000 } },
    },
  };
}

export interface Daemon {
  child: ChildProcess;
  exited: Promise<number | null>;
  /** The last lines the daemon wrote (for error messages). */
  tail: string[];
  started: Promise<void>;
}

export function spawnDaemon(configFile: string, env: BenchEnv, role: 'all' | 'api' = 'all'): Daemon {
  const childEnv: NodeJS.ProcessEnv = { DATABASE_URL: env.dbUrl, REDIS_URL: env.redisUrl, PARCELWATCH_CONFIG: configFile };
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) if (process.env[k] !== undefined) childEnv[k] = process.env[k];
  // The young-generation size the image sets (Dockerfile NODE_OPTIONS, npm start), so its RSS is measured too.
  // BENCH_DAEMON_NODE_ARGS: extra node flags for the daemon child (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it).
  const extra = (process.env.BENCH_DAEMON_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, ['--max-semi-space-size=64', ...extra, BIN, 'start', '--role', role], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const onData = (buf: Buffer) => {
    for (const line of buf.toString('utf8').split('\n')) {
      if (!line) continue;
      if (line.includes('parcelwatch started')) markStarted();
      tail.push(line.slice(0, 500));
      if (tail.length > 20) tail.shift();
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, tail, started };
}

/** SIGTERM, then SIGKILL if it has not exited within its grace period (+5 s). Returns the exit code (null = killed). */
export async function stopDaemon(d: Daemon, graceMs: number): Promise<number | null> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return d.child.exitCode;
  d.child.kill('SIGTERM');
  const code = await Promise.race([d.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs + 5000))]);
  if (code !== 'timeout') return code;
  d.child.kill('SIGKILL');
  await d.exited;
  return null;
}

async function seedBook(sql: Sql, n: number, shiftMs: number): Promise<void> {
  await sql.begin(async (tx) => {
    await seedShipments(tx as unknown as Sql, n, 'fresh');
    // The daemon runs on the system clock: move the book so "now" is the real now, and make every parcel due.
    await tx`update orders set paid_at = paid_at + ${shiftMs} * interval '1 millisecond'`;
    await tx`update shipments set marked_shipped_at = marked_shipped_at + ${shiftMs} * interval '1 millisecond'`;
    await tx`update shipment_schedule set next_poll_at = now() - (shipment_id % 60) * interval '1 minute'`;
    // Every eleventh parcel chased by its customer, registered an hour ago with no hub known yet. 11 is prime to
    // the 60 next_poll_at groups above, so chased parcels come up all through the cycle, also before a time cap.
    // No event is stored yet, so each chase hears about every event from the first (watermark 0).
    await tx`insert into chases (shipment_id, contact, channel, baseline_hub, registered_at, registered_after_event_id)
             select s.id, o.customer_phone, 'webhook', null, now() - interval '1 hour', 0
             from shipments s join orders o on o.id = s.order_id where s.id % 11 = 0`;
  });
}

export const memoryScenario: Scenario = {
  id: 'memory',
  title: '7 daemon memory',
  async run({ env, shipments: n }: ScenarioContext): Promise<ResultRow[]> {
    const prefix = `pwbench-${randomBytes(4).toString('hex')}-memory`;
    await freshTables(env.sql);
    let shiftMs = 0;
    const fake = await startOnDemandKuaidi100(() => shiftMs);
    const sink = await startCountingSink();
    const configFile = join(env.tmpDir, `${prefix}.yaml`);
    writeFileSync(configFile, stringify(daemonYaml(env, prefix, fake.url, sink.url)));
    const config = loadConfig({ file: configFile, env: {} }); // fail here, not in the child, on a bad YAML
    const connections = new RedisConnections(env.redisUrl, env.deps.log);
    // Producer side only (no workers here): the kick and the job counts of the daemon's queues.
    const runtime = new QueueRuntime({ ...env.deps, config }, connections);
    const jobCounts = () => jobBacklog(runtime, config);
    let daemon: Daemon | null = null;
    let rss: TreeRss | null = null;
    const killOnExit = () => daemon?.child.kill('SIGKILL');
    process.once('exit', killOnExit);
    try {
      const spawnedAt = performance.now();
      daemon = spawnDaemon(configFile, env);
      rss = new TreeRss(daemon.child.pid!);
      const up = await Promise.race([daemon.started.then(() => true), daemon.exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(false), 120_000))]);
      if (!up) throw new Error(`memory scenario: the daemon did not start:\n${daemon.tail.join('\n')}`);
      await new Promise((r) => setTimeout(r, IDLE_MS));
      rss.sample();
      const idleMb = rss.peakMb();
      env.log(`bench:   memory: daemon up in ${((performance.now() - spawnedAt) / 1000 - IDLE_MS / 1000).toFixed(1)} s, idle peak ${idleMb.toFixed(0)} MB`);

      shiftMs = Math.round((Date.now() - BENCH_NOW.getTime()) / MINUTE_MS) * MINUTE_MS;
      await seedBook(env.sql, n, shiftMs);
      const t0 = performance.now();
      await runtime.enqueue([{ job: 'plan-polls', payload: { slot: 'benchkick' }, jobId: 'plan-polls-benchkick' }]);
      let processed = 0;
      let quietChecks = 0;
      let lastLog = t0;
      const drained = await waitUntil(
        async () => {
          if (daemon!.child.exitCode !== null) throw new Error(`memory scenario: the daemon exited (${daemon!.child.exitCode}):\n${daemon!.tail.join('\n')}`);
          const [r] = await env.sql`select count(*)::int as c from shipments where last_polled_at is not null`;
          processed = r!.c as number;
          const { pending, byQueue } = await jobCounts();
          quietChecks = processed >= n && pending === 0 ? quietChecks + 1 : 0;
          if (performance.now() - lastLog > 30_000) {
            lastLog = performance.now();
            env.log(`bench:   memory: ${((lastLog - t0) / 1000).toFixed(0)} s, ${processed}/${n} polled, jobs pending ${JSON.stringify(byQueue)}, peak ${rss!.peakMb().toFixed(0)} MB`);
          }
          return quietChecks >= 2;
        },
        MEMORY_CAP_SECONDS * 1000,
        500,
      );
      const seconds = (performance.now() - t0) / 1000;
      rss.sample();
      const peakMb = rss.peakMb();
      const { failed, byQueue: backlog } = await jobCounts();
      const [facts] = await env.sql`
        select (select count(*) from tracking_events)::int as events,
               (select count(*) from exceptions)::int as exceptions,
               (select count(*) from outreach_tasks)::int as tasks,
               (select count(*) from notifications where status = 'sent')::int as messages_sent`;
      const stopAt = performance.now();
      const exitCode = await stopDaemon(daemon, config.shutdown.graceMs);
      env.log(`bench:   memory: ${drained ? 'drained' : 'capped'} after ${seconds.toFixed(1)} s, stopped in ${((performance.now() - stopAt) / 1000).toFixed(1)} s (exit ${exitCode})`);
      rss.stop();
      const note =
        `peak of the daemon's process tree (${rss.processes} process${rss.processes > 1 ? 'es' : ''}, /proc VmRSS sum sampled every 100 ms and VmHWM); ` +
        `idle daemon ${idleMb.toFixed(0)} MB; ${drained ? 'work drained' : `time cap ${MEMORY_CAP_SECONDS} s reached (BENCH_MEMORY_CAP_SECONDS)`} after ${seconds.toFixed(0)} s: ` +
        `${processed}/${n} shipments polled, ${facts!.events} events, ${facts!.exceptions} exceptions, ${facts!.tasks} outreach tasks, ` +
        `${sink.counts.agents} agent webhooks, ${sink.counts.customer} customer messages; jobs still queued ${JSON.stringify(backlog)}; Kuaidi100 fake qps ${QPS} conc ${CONCURRENCY}, ` +
        `first cycle kicked at commit, then cron every minute, quiet hours off; exit code ${exitCode} after SIGTERM; 1 run whatever --reps`;
      return [
        {
          scenario: '7',
          label: 'daemon memory (start --role all)',
          unit: 'shipments',
          measured: true,
          items: processed,
          seconds,
          itemsPerSec: processed / seconds,
          baseline: 'idle daemon',
          baselineSeconds: null,
          baselineItemsPerSec: null,
          ratio: null,
          peakRssMb: peakMb,
          shipmentsPerSec: processed / seconds,
          target: `peak RSS <= ${TARGET_RSS_MB} MB`,
          met: peakMb <= TARGET_RSS_MB,
          note,
          facts: {
            shipmentsSeeded: [n],
            shipmentsPolled: [processed],
            drained: [drained ? 1 : 0],
            pollRequests: [fake.stats.requests],
            rejectedPollRequests: [fake.stats.rejected],
            eventRows: [facts!.events as number],
            exceptions: [facts!.exceptions as number],
            outreachTasks: [facts!.tasks as number],
            agentWebhooks: [sink.counts.agents],
            customerMessages: [sink.counts.customer],
            customerMessagesSent: [facts!.messages_sent as number],
            failedJobs: [failed],
            exitCode: [exitCode ?? -1],
            idleRssMb: [idleMb],
            peakRssMb: [peakMb],
          },
          runs: { ours: [seconds], baseline: [] },
        },
        {
          scenario: '7',
          label: 'daemon memory: idle (nothing due)',
          unit: '-',
          measured: true,
          items: 0,
          seconds: IDLE_MS / 1000,
          itemsPerSec: NaN,
          baseline: null,
          baselineSeconds: null,
          baselineItemsPerSec: null,
          ratio: null,
          peakRssMb: idleMb,
          shipmentsPerSec: null,
          target: '-',
          met: null,
          note: `the same daemon ${IDLE_MS / 1000} s after 'parcelwatch started', before the book was committed (baseline of the row above)`,
          facts: { idleRssMb: [idleMb] },
          runs: { ours: [IDLE_MS / 1000], baseline: [] },
        },
      ];
    } finally {
      rss?.stop();
      if (daemon) await stopDaemon(daemon, config.shutdown.graceMs).catch(() => daemon!.child.kill('SIGKILL'));
      process.removeListener('exit', killOnExit);
      await runtime.close().catch(() => {});
      await connections.quitAll();
      await dropRedisPrefix(env.redisUrl, prefix);
      await fake.close();
      await sink.close();
    }
  },
};
