/**
 * `npm run bench [-- --shipments N] [--reps R] [--rep-budget S] [--only import,ingest,poll,detect,enqueue,latency,memory] [--json-out FILE]`
 * Prints the median table, the external-ceiling lines and notes; writes JSON to bench/results/.
 */
import { parseArgs } from 'node:util';
import { runBench, SCENARIO_IDS } from './harness.js';

const { values } = parseArgs({
  options: {
    shipments: { type: 'string', default: '100000' },
    reps: { type: 'string', default: '3' },
    'rep-budget': { type: 'string', default: '300' },
    only: { type: 'string' },
    'json-out': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  allowPositionals: false,
});

if (values.help) {
  process.stdout.write(
    [
      `usage: npm run bench -- [--shipments N=100000] [--reps 3] [--rep-budget 300] [--only ${SCENARIO_IDS.join(',')}] [--json-out FILE]`,
      '',
      '  --reps R          repetitions per scenario (ours and baseline alternate which goes first); medians are reported',
      '  --rep-budget S    a scenario starts another repetition only if, at its pace so far, it ends within S seconds',
      '                    (the first always runs; the table\'s reps column says how many did)',
      '',
      '  import   1 order import (CSV) vs COPY',
      '  ingest   2 tracking ingestion, fresh and 100 % replay, vs INSERT … unnest',
      '  poll     3 poll workers against the loopback Kuaidi100 fake (min(N, 5000)) vs a no-op worker',
      '  detect   4 detection sweep, first and repeat, vs SELECT count(*)',
      '  enqueue  5 plan-polls → BullMQ vs raw addBulk; second run of the same slot',
      '  latency  6 hub-moved latency of min(N, 10000) chased parcels: provider answer → customer endpoint, p50/p95/p99/max',
      '  memory   7 peak RSS of a `parcelwatch start --role all` child working through N shipments',
      '           (time cap BENCH_MEMORY_CAP_SECONDS, default 300; one run whatever --reps)',
      '  push     8 signed Kuaidi100 pushes (min(N, 20000) numbers + 20 % re-sent) at a `start --role api` child\'s hook,',
      '           32 keep-alive clients, vs one INSERT … unnest per push; ack p50/p99, failed acks, daemon RSS',
      '  latency-push 6b  scenario 6 with the new scan arriving as signed Kuaidi100 pushes at the hook instead of a poll cycle',
      '',
    ].join('\n'),
  );
  process.exit(0);
}

const shipments = Number(values.shipments);
const reps = Number(values.reps);
if (!Number.isInteger(shipments) || shipments < 10) throw new Error('--shipments must be an integer >= 10');
if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps must be a positive integer');
const repBudgetSeconds = Number(values['rep-budget']);
if (!Number.isFinite(repBudgetSeconds) || repBudgetSeconds < 0) throw new Error('--rep-budget must be a number of seconds >= 0');
const only = values.only ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
for (const id of only ?? []) if (!(SCENARIO_IDS as readonly string[]).includes(id)) throw new Error(`unknown scenario ${id}; known: ${SCENARIO_IDS.join(', ')}`);

try {
  const r = await runBench({ shipments, reps, repBudgetSeconds, only, jsonOut: values['json-out'] });
  const out = [
    '',
    `parcelwatch bench — ${r.options.shipments.toLocaleString('en-US')} shipments, up to ${r.options.reps} rep(s) within ${r.options.repBudgetSeconds} s per scenario, medians; ${r.machine.cores} cores, ${r.machine.totalMemMb} MB; node ${r.versions.node}, postgres ${r.versions.postgres}, redis ${r.versions.redis}`,
    '',
    r.table,
    '',
    ...r.ceilings,
    '',
    ...r.rows.filter((x) => x.measured && x.note).map((x) => `note ${x.scenario} ${x.label}: ${x.note}`),
    '',
    `json: ${r.jsonFile ?? '(not written)'}`,
    '',
  ];
  process.stdout.write(out.join('\n'));
  process.exit(0);
} catch (err) {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
