/**
 * Scenario 8, push ingestion: a burst of signed Kuaidi100 pushes (the real form: `param` + `sign`, ~8 events
 * each as in scenario 2, 20 % of the numbers pushed a second time with their history re-sent) posted by
 * concurrent keep-alive clients at a running daemon's /hooks/kuaidi100 (`parcelwatch start --role api`, a
 * child process, so its RSS is its own). Reported: acknowledged pushes/s, p50/p99 acknowledgement latency,
 * failed acknowledgements, the daemon's peak RSS. Baseline in the same run: the same events through one
 * INSERT … SELECT unnest … ON CONFLICT DO NOTHING per push, at the same concurrency.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { createServer } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { kuaidi100PushSign } from '../../carriers/kuaidi100/push.js';
import { kuaidi100Status } from '../../carriers/kuaidi100/status-map.js';
import { loadConfig } from '../../config/load.js';
import type { Sql } from '../../db/client.js';
import { eventKey } from '../../domain/event-key.js';
import { dropRedisPrefix, freshTables, gc, median, percentile, waitUntil, type BenchEnv } from '../context.js';
import { kuaidi100Body, seedShipments, timeline } from '../generate.js';
import { sidesOf, type ResultRow, type Scenario, type ScenarioContext } from '../types.js';
import { spawnDaemon, statusKb, stopDaemon, TARGET_RSS_MB } from './memory.js';

export const SALT = 'bench-salt';
const CLIENTS = 32;
const MAX_PUSHES = 20_000;
/**
 * Pushes posted before the timed burst, for parcels of their own (ids above the burst's), on both sides:
 * a daemon at a Double-11 peak has been running for hours, so the burst measures it warm (compiled code,
 * grown heap, open connections), not its first seconds of JIT compilation and heap growth. Untimed.
 */
const warmupOf = (n: number) => Math.min(2_000, Math.ceil(n / 2));
const trackingNo = (id: number) => 'T' + String(id).padStart(12, '0');
const ACK = JSON.stringify({ result: true, returnCode: '200', message: '成功' });

export interface Push {
  id: number;
  body: string;
}

/** A signed Kuaidi100 push form (status polling) carrying this query.do-style `lastResult` body. */
export function signedPushForm(lastResult: string): string {
  const param = JSON.stringify({ status: 'polling', billstatus: 'got', message: '', lastResult: JSON.parse(lastResult) });
  return new URLSearchParams({ param, sign: kuaidi100PushSign(param, SALT) }).toString();
}

/** Every number once, then every fifth again (history re-sent), interleaved so re-sends meet fresh pushes. */
function pushes(n: number, from = 1): Push[] {
  const first: Push[] = [];
  for (let id = from; id < from + n; id++) first.push({ id, body: signedPushForm(kuaidi100Body(id, trackingNo(id), 'zhongtong')) });
  const out: Push[] = [];
  const resend = first.filter((p) => p.id % 5 === 0);
  for (let i = 0; i < first.length; i++) {
    out.push(first[i]!);
    if (i >= n / 2 && resend.length) out.push(resend.shift()!);
  }
  return [...out, ...resend];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * Post every push with CLIENTS keep-alive connections; per-push acknowledgement latency and failures.
 * `onSend` sees each push as it is sent; `perSecond` paces the sends (push i not before i / perSecond s).
 */
export async function burst(port: number, list: Push[], onSend?: (p: Push) => void, perSecond?: number): Promise<{ seconds: number; latencies: number[]; failed: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  const latencies: number[] = [];
  let failed = 0;
  let next = 0;
  const post = (p: Push) =>
    new Promise<boolean>((resolve) => {
      const req = http.request(
        { host: '127.0.0.1', port, path: '/hooks/kuaidi100', method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(p.body) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', () => resolve(false));
          res.on('end', () => resolve(res.statusCode === 200 && Buffer.concat(chunks).toString('utf8') === ACK));
        },
      );
      req.on('error', () => resolve(false));
      req.end(p.body);
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < list.length) {
        const i = next++;
        const p = list[i]!;
        if (perSecond) {
          const wait = t0 + (i * 1000) / perSecond - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        const s = performance.now();
        onSend?.(p);
        const ok = await post(p);
        latencies.push(performance.now() - s);
        if (!ok) failed++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return { seconds, latencies, failed };
}

/** The events of push `id` as raw rows (built before timing). */
function rowsOf(id: number) {
  const ev = timeline(id);
  return {
    shipmentId: ev.map(() => id),
    key: ev.map((e) => eventKey(e.at, e.context)),
    at: ev.map((e) => e.at.toISOString()),
    status: ev.map((e) => kuaidi100Status(e.statusCode) ?? 'unknown'),
    text: ev.map((e) => e.context),
    code: ev.map((e) => e.statusCode),
  };
}

async function baselineBurst(raw: Sql, list: Push[], warm: Push[]): Promise<{ seconds: number; latencies: number[] }> {
  const rows = new Map<number, ReturnType<typeof rowsOf>>();
  for (const p of [...warm, ...list]) if (!rows.has(p.id)) rows.set(p.id, rowsOf(p.id));
  const run = async (batch: Push[], latencies: number[]) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < batch.length) {
          const c = rows.get(batch[next++]!.id)!;
          const s = performance.now();
        await raw`
          insert into tracking_events (shipment_id, event_key, occurred_at, status, text, provider, provider_code, seen_at)
          select t.shipment_id, t.key, t.at, t.status, t.text, 'kuaidi100', t.code, now()
          from unnest(${raw.array(c.shipmentId)}::bigint[], ${raw.array(c.key)}::text[], ${raw.array(c.at)}::timestamptz[],
                      ${raw.array(c.status)}::text[], ${raw.array(c.text)}::text[], ${raw.array(c.code)}::text[]) as t(shipment_id, key, at, status, text, code)
          on conflict (shipment_id, event_key) do nothing`;
          latencies.push(performance.now() - s);
        }
      }),
    );
  };
  await run(warm, []);
  const latencies: number[] = [];
  const t0 = performance.now();
  await run(list, latencies);
  return { seconds: (performance.now() - t0) / 1000, latencies };
}

interface OursRun {
  seconds: number;
  latencies: number[];
  failed: number;
  peakRssMb: number;
  eventRows: number;
  /** The daemon's own CPU time (user + system) per push during the burst. */
  cpuMsPerPush: number;
  /** The kernel's share of it (socket writes to Postgres, Redis and the clients). */
  sysMsPerPush: number;
}

/** User and system CPU time of a process so far, in ms (/proc/<pid>/stat, 100 ticks a second). */
function cpuMs(pid: number): { user: number; sys: number } {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return { user: Number(f[11]) * 10, sys: Number(f[12]) * 10 };
}

async function oursRun(env: BenchEnv, list: Push[], warm: Push[], n: number): Promise<OursRun> {
  const prefix = `pwbench-push-${randomBytes(4).toString('hex')}`;
  const port = await freePort();
  const configFile = join(env.tmpDir, `push-${prefix}.yaml`);
  writeFileSync(
    configFile,
    stringify({
      log: { level: 'info' },
      database: { url: env.dbUrl, poolSize: 10 },
      redis: { url: env.redisUrl, prefix },
      http: { port, host: '127.0.0.1' },
      providers: {
        routes: { default: 'kuaidi100' },
        kuaidi100: { enabled: true, customer: 'BENCH', key: 'bench-key', mode: 'push', salt: SALT, callbackUrl: `http://127.0.0.1:${port}/hooks/kuaidi100` },
      },
    }),
  );
  const config = loadConfig({ file: configFile, env: {} });
  const daemon = spawnDaemon(configFile, env, 'api');
  try {
    const up = await Promise.race([daemon.started.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 60_000))]);
    if (!up) throw new Error(`push: the daemon did not start: ${daemon.tail.join('\n')}`);
    await waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.ok === true, 10_000);
    let peak = 0;
    const sampler = setInterval(() => {
      const s = statusKb(daemon.child.pid!);
      if (s) peak = Math.max(peak, s.hwm, s.rss);
    }, 100);
    const warmed = await burst(port, warm);
    if (warmed.failed) env.log(`bench:   push: ${warmed.failed} failed acks in the warm-up`);
    const cpu0 = cpuMs(daemon.child.pid!);
    const r = await burst(port, list);
    const cpu1 = cpuMs(daemon.child.pid!);
    clearInterval(sampler);
    if (r.failed) env.log(`bench:   push: ${r.failed} failed acks; daemon said: ${daemon.tail.slice(-5).join(' | ')}`);
    const s = statusKb(daemon.child.pid!);
    if (s) peak = Math.max(peak, s.hwm, s.rss);
    // The burst's parcels only (the warm-up's are ids above n).
    const [{ rows }] = (await env.sql`select count(*)::int as rows from tracking_events where shipment_id <= ${n}`) as unknown as [{ rows: number }];
    return { ...r, peakRssMb: peak / 1024, eventRows: rows, cpuMsPerPush: (cpu1.user + cpu1.sys - cpu0.user - cpu0.sys) / list.length, sysMsPerPush: (cpu1.sys - cpu0.sys) / list.length };
  } finally {
    await stopDaemon(daemon, config.shutdown.graceMs).catch(() => daemon.child.kill('SIGKILL'));
    await dropRedisPrefix(env.redisUrl, prefix);
  }
}

export const pushScenario: Scenario = {
  id: 'push',
  title: '8 push ingestion',
  async run({ env, shipments, another }: ScenarioContext): Promise<ResultRow[]> {
    const load = loadavg()[0]!;
    const n = Math.min(shipments, MAX_PUSHES);
    const list = pushes(n);
    const w = warmupOf(n);
    const warm = pushes(w, n + 1);
    const ours: OursRun[] = [];
    const base: { seconds: number; latencies: number[] }[] = [];
    for (let rep = 0; another(rep); rep++) {
      for (const side of sidesOf(rep)) {
        await freshTables(env.sql);
        await seedShipments(env.sql, n + w, 'fresh');
        gc();
        if (side === 'ours') ours.push(await oursRun(env, list, warm, n));
        else base.push(await baselineBurst(env.raw, list, warm));
      }
    }
    const s = median(ours.map((r) => r.seconds));
    const bs = median(base.map((r) => r.seconds));
    const lat = ours[Math.floor(ours.length / 2)]!.latencies;
    const p50 = percentile(lat, 50);
    const p99 = percentile(lat, 99);
    const failed = Math.max(...ours.map((r) => r.failed));
    const rss = Math.max(...ours.map((r) => r.peakRssMb));
    const perSec = list.length / s;
    const ratio = perSec / (list.length / bs);
    return [
      {
        scenario: '8',
        label: `push burst, ${CLIENTS} keep-alive clients (p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, ${failed} failed acks)`,
        unit: 'pushes',
        measured: true,
        items: list.length,
        seconds: s,
        itemsPerSec: perSec,
        baseline: 'INSERT…unnest ON CONFLICT DO NOTHING per push',
        baselineSeconds: bs,
        baselineItemsPerSec: list.length / bs,
        ratio,
        peakRssMb: rss,
        shipmentsPerSec: null,
        target: `>= 1000 pushes/s, p99 <= 250 ms, 0 failed, >= 50 % of raw, daemon RSS <= ${TARGET_RSS_MB} MB`,
        met: perSec >= 1000 && p99 <= 250 && failed === 0 && ratio >= 0.5 && rss <= TARGET_RSS_MB,
        note: `${n} numbers, ${list.length - n} re-sent with their history, after an untimed warm-up of ${warm.length} pushes for other parcels on both sides; daemon CPU ${median(ours.map((r) => r.cpuMsPerPush)).toFixed(2)} ms per push (${median(ours.map((r) => r.sysMsPerPush)).toFixed(2)} of it system); load average at start ${load.toFixed(2)}; event rows after ours: ${ours.map((r) => r.eventRows).join('/')}; baseline p99 ${percentile(base[0]!.latencies, 99).toFixed(0)} ms`,
        facts: { failedAcks: ours.map((r) => r.failed), eventRows: ours.map((r) => r.eventRows), p99Ms: ours.map((r) => Math.round(percentile(r.latencies, 99))) },
        runs: { ours: ours.map((r) => r.seconds), baseline: base.map((r) => r.seconds) },
      },
    ];
  },
};
