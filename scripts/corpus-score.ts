/**
 * Score of today's code on the golden corpus (test/corpus/README.md): one verdict line per sample and
 * the totals. `npx tsx scripts/corpus-score.ts [--verbose] [--failing]`: --verbose also lists each event
 * as read (status, hub, text) for failing samples; --failing prints only failing samples.
 */
import { formatHubs, judge, loadCorpus } from '../test/corpus/corpus.js';

/** Beijing wall time, as carriers write it. */
function formatLocal(d: Date): string {
  return new Date(d.getTime() + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
}

const verbose = process.argv.includes('--verbose');
const failingOnly = process.argv.includes('--failing');
const verdicts = loadCorpus().map(judge);

for (const v of verdicts) {
  const ok = v.state && v.collected && v.hubs;
  if (failingOnly && ok) continue;
  const e = v.sample.expect;
  const mark = (b: boolean) => (b ? 'ok ' : 'BAD');
  console.log(`${ok ? 'PASS' : 'FAIL'} ${v.sample.file} [${v.sample.carrier}]`);
  if (!ok) {
    const outcome = (o: string | undefined) => (o && o !== 'ok' ? ` (${o})` : '');
    console.log(`  state     ${mark(v.state)} want ${e.finalStatus}${outcome(e.outcome)}, got ${v.run.finalStatus}${outcome(v.run.outcome)}${v.run.detail ? ` — ${v.run.detail}` : ''}`);
    const at = (d: Date | null) => (d ? ` at ${formatLocal(d)}` : '');
    console.log(`  collected ${mark(v.collected)} want ${e.collected}${e.collectedAt ? ` at ${e.collectedAt}` : ''}, got ${v.run.collected}${at(v.run.collectedAt)}`);
    console.log(`  hubs      ${mark(v.hubs)} want ${formatHubs(e.hubs)}`);
    if (!v.hubs) console.log(`                got  ${formatHubs(v.run.hubs)}`);
    if (verbose) for (const ev of v.run.events) console.log(`    ${ev.at} ${ev.status.padEnd(16)} ${(ev.hub ?? '-').padEnd(20)} ${ev.text}`);
  }
}

const n = verdicts.length;
const count = (f: (v: (typeof verdicts)[number]) => boolean) => verdicts.filter(f).length;
const carriers = new Set(verdicts.map((v) => v.sample.carrier)).size;
console.log('');
console.log(`corpus: ${n} replies, ${carriers} carriers`);
console.log(
  `score: state ${count((v) => v.state)}/${n}, collected ${count((v) => v.collected)}/${n}, hubs ${count((v) => v.hubs)}/${n}, all three ${count((v) => v.state && v.collected && v.hubs)}/${n}`,
);
