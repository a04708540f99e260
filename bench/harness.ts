/**
 * The benchmark harness: one dedicated database per run (pw_bench_<ts>, migrated, dropped at the end),
 * scenarios run one after another in this process, each timing our code path and a raw baseline of the
 * same work back to back on fresh tables, alternating which goes first over the repetitions.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { createBenchDb, dropBenchDb, makeDeps, redisVersion, type BenchEnv } from './context.js';
import { detectScenario } from './scenarios/detect.js';
import { enqueueScenario } from './scenarios/enqueue.js';
import { importScenario } from './scenarios/import.js';
import { ingestScenario } from './scenarios/ingest.js';
import { latencyPushScenario, latencyScenario } from './scenarios/latency.js';
import { memoryScenario } from './scenarios/memory.js';
import { pollScenario } from './scenarios/poll.js';
import { pushScenario } from './scenarios/push.js';
import { repetitionBudget, type ResultRow, type Scenario } from './types.js';

export const SCENARIOS: Scenario[] = [importScenario, ingestScenario, pollScenario, detectScenario, enqueueScenario, latencyScenario, memoryScenario, pushScenario, latencyPushScenario];
export const SCENARIO_IDS = ['import', 'ingest', 'poll', 'detect', 'enqueue', 'latency', 'memory', 'push', 'latency-push'] as const;

/** 1,000,000 parcels polled once an hour. */
export const NEEDED_PER_SEC = 1_000_000 / 3600;

export interface BenchOptions {
  shipments?: number;
  reps?: number;
  /**
   * Seconds one scenario may spend on repetitions beyond its first (default 300): at 1,000,000 shipments a
   * repetition of ingestion takes about 25 min here, so the full run would not fit a working session.
   */
  repBudgetSeconds?: number;
  /** Scenario ids to run (SCENARIO_IDS); default all. */
  only?: string[];
  /** Shipments for one scenario instead of `shipments`, by id (the smoke test runs the daemon child smaller). */
  shipmentsFor?: Partial<Record<(typeof SCENARIO_IDS)[number], number>>;
  /** Write JSON here; default bench/results/<timestamp>.json; false = do not write. */
  jsonOut?: string | false;
  adminUrl?: string;
  redisUrl?: string;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

export interface BenchResult {
  startedAt: string;
  finishedAt: string;
  options: { shipments: number; reps: number; repBudgetSeconds: number; only: string[] | null; shipmentsFor: Record<string, number> | null };
  machine: { cores: number; cpuModel: string; totalMemMb: number; freeMemMbAtStart: number; platform: string };
  versions: { node: string; postgres: string; redis: string };
  database: string;
  rows: ResultRow[];
  ceilings: string[];
  table: string;
  jsonFile: string | null;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function runBench(opts: BenchOptions = {}): Promise<BenchResult> {
  const shipments = opts.shipments ?? 100_000;
  const reps = opts.reps ?? 3;
  const repBudgetSeconds = opts.repBudgetSeconds ?? 300;
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const adminUrl = opts.adminUrl ?? process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = opts.redisUrl ?? process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const started = new Date();
  const stamp = started.toISOString().replace(/[-:.]/g, '').replace('T', '_').slice(0, 17).toLowerCase();
  const dbName = `pw_bench_${stamp}_${process.pid}`;
  const wanted = (id: string) => !opts.only || opts.only.includes(id);

  const machine = {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    totalMemMb: Math.round(totalmem() / 2 ** 20),
    freeMemMbAtStart: Math.round(freemem() / 2 ** 20),
    platform: `${process.platform} ${process.arch}`,
  };
  log(`bench: ${shipments} shipments, ${reps} rep(s), database ${dbName}`);
  const dbUrl = await createBenchDb(adminUrl, dbName);
  const tmpDir = mkdtempSync(join(tmpdir(), 'pw-bench-'));
  const { config, deps, db } = await makeDeps(dbUrl, redisUrl, `pwbench-${process.pid}`);
  const raw = postgres(dbUrl, { max: config.database.poolSize, onnotice: () => {} });
  const env: BenchEnv = {
    adminUrl,
    dbName,
    dbUrl,
    redisUrl,
    config,
    deps,
    sql: deps.sql,
    raw,
    tmpDir,
    log,
    close: async () => {
      await db.close();
      await raw.end({ timeout: 5 });
    },
  };
  const rows: ResultRow[] = [];
  let versions = { node: process.version, postgres: 'unknown', redis: 'unknown' };
  try {
    const [{ v }] = (await raw`select current_setting('server_version') as v`) as unknown as [{ v: string }];
    versions = { node: process.version, postgres: v, redis: await redisVersion(redisUrl) };
    const byId = new Map(SCENARIOS.map((s) => [s.id, s]));
    for (const id of SCENARIO_IDS) {
      if (!wanted(id)) continue;
      const sc = byId.get(id);
      if (!sc) throw new Error(`bench: scenario ${id} is listed but not registered`);
      const t0 = performance.now();
      log(`bench: ${sc.title} …`);
      const another = repetitionBudget(reps, repBudgetSeconds, t0, () => performance.now());
      const out = await sc.run({ env, shipments: opts.shipmentsFor?.[id] ?? shipments, reps, another });
      rows.push(...out);
      log(`bench: ${sc.title} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    await env.close().catch(() => {});
    await dropBenchDb(adminUrl, dbName).catch((err) => log(`bench: could not drop ${dbName}: ${(err as Error).message}`));
    rmSync(tmpDir, { recursive: true, force: true });
  }
  const ceilings = ceilingLines(rows);
  const table = formatTable(rows);
  const result: BenchResult = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    options: { shipments, reps, repBudgetSeconds, only: opts.only ?? null, shipmentsFor: opts.shipmentsFor ?? null },
    machine,
    versions,
    database: dbName,
    rows,
    ceilings,
    table,
    jsonFile: null,
  };
  if (opts.jsonOut !== false) {
    const file = opts.jsonOut ?? join(ROOT, 'bench', 'results', `${stamp}.json`);
    mkdirSync(dirname(file), { recursive: true });
    result.jsonFile = file;
    writeFileSync(file, JSON.stringify(result, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  }
  return result;
}

const fmt = (x: number | null, digits = 0) =>
  x === null || !Number.isFinite(x) ? '-' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function ceilingLines(rows: ResultRow[]): string[] {
  const need = `1 M parcels/h needs ${Math.round(NEEDED_PER_SEC)} numbers/s`;
  return rows.map((r) => {
    if (!r.measured) return `${r.scenario} ${r.label}: ${need}; this run did: not measured`;
    if (r.shipmentsPerSec === null) return `${r.scenario} ${r.label}: ${r.note ?? 'correctness line'}`;
    return `${r.scenario} ${r.label}: ${need}; this run did ${fmt(r.shipmentsPerSec)} shipments/s (${fmt(r.shipmentsPerSec / NEEDED_PER_SEC, 1)}× the need)`;
  });
}

export function formatTable(rows: ResultRow[]): string {
  const head = ['#', 'scenario', 'reps', 'items', 'unit', 'seconds', 'items/s', 'baseline items/s', 'ratio', 'peak RSS MB', 'target', 'met'];
  const body = rows.map((r) =>
    r.measured
      ? [
          r.scenario,
          r.label,
          String(r.runs.ours.length),
          fmt(r.items),
          r.unit,
          fmt(r.seconds, 3),
          fmt(r.itemsPerSec),
          fmt(r.baselineItemsPerSec),
          r.ratio === null ? '-' : `${(r.ratio * 100).toFixed(0)} %`,
          fmt(r.peakRssMb),
          r.target,
          r.met === null ? '-' : r.met ? 'yes' : 'NO',
        ]
      : [r.scenario, r.label, '-', '-', '-', '-', '-', '-', '-', '-', r.target, r.note ?? 'not measured'],
  );
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  return [line(head), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...body.map(line)].join('\n');
}
