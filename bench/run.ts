/**
 * `npm run bench [-- --shipments N] [--reps R] [--only import,ingest,detect,enqueue] [--json-out FILE]`
 * Prints the median table, the external-ceiling lines and notes; writes JSON to bench/results/.
 */
import { parseArgs } from 'node:util';
import { runBench, SCENARIO_IDS } from './harness.js';

const { values } = parseArgs({
  options: {
    shipments: { type: 'string', default: '100000' },
    reps: { type: 'string', default: '3' },
    only: { type: 'string' },
    'json-out': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  allowPositionals: false,
});

if (values.help) {
  process.stdout.write(
    `usage: npm run bench -- [--shipments N=100000] [--reps 3] [--only ${SCENARIO_IDS.join(',')}] [--json-out FILE]\n`,
  );
  process.exit(0);
}

const shipments = Number(values.shipments);
const reps = Number(values.reps);
if (!Number.isInteger(shipments) || shipments < 10) throw new Error('--shipments must be an integer >= 10');
if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps must be a positive integer');
const only = values.only ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
for (const id of only ?? []) if (!(SCENARIO_IDS as readonly string[]).includes(id)) throw new Error(`unknown scenario ${id}; known: ${SCENARIO_IDS.join(', ')}`);

try {
  const r = await runBench({ shipments, reps, only, jsonOut: values['json-out'] });
  const out = [
    '',
    `parcelwatch bench — ${r.options.shipments.toLocaleString('en-US')} shipments, ${r.options.reps} rep(s), medians; ${r.machine.cores} cores, ${r.machine.totalMemMb} MB; node ${r.versions.node}, postgres ${r.versions.postgres}, redis ${r.versions.redis}`,
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
