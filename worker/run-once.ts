import type { Deps, FollowUp } from '../jobs/define-job.js';
import { slotId } from '../jobs/define-job.js';
import { jobByName, scheduledJobs } from '../jobs/index.js';
import { executeJob, jobFailedForGood } from './runtime.js';

export interface CycleSummary {
  now: string;
  ok: boolean;
  jobs: Record<string, number>;
  totals: Record<string, number>;
  failures: { job: string; jobId: string; error: string }[];
  seconds: number;
}

/**
 * One full cycle of every scheduled job at the deps' clock instant, processed in-process: each job's
 * follow-ups (poll batches, detection of changed shipments, …) run here too, until no work is left.
 * Rows are claimed with SKIP LOCKED and every write is idempotent, so this is safe beside a daemon.
 */
export async function runOnce(deps: Deps): Promise<CycleSummary> {
  const started = performance.now();
  const now = deps.clock.now();
  const slot = slotId(now);
  const summary: CycleSummary = { now: now.toISOString(), ok: true, jobs: {}, totals: {}, failures: [], seconds: 0 };
  const seen = new Set<string>();
  const work: FollowUp[] = [];
  const enqueue = async (items: FollowUp[]) => {
    for (const f of items) if (!seen.has(f.jobId)) (seen.add(f.jobId), work.push(f));
  };
  for (const def of scheduledJobs()) {
    await enqueue([{ job: def.name, payload: { slot }, jobId: `run-once-${def.name}-${slot}` }]);
    // Drain before the next scheduled job, so detection sees this cycle's polls.
    while (work.length) {
      const f = work.shift()!;
      const job = jobByName(f.job);
      summary.jobs[job.name] = (summary.jobs[job.name] ?? 0) + 1;
      try {
        const r = await executeJob(job, f.payload, deps, { jobId: f.jobId, attempt: 1, enqueue });
        for (const [k, v] of Object.entries(r.summary ?? {})) summary.totals[k] = (summary.totals[k] ?? 0) + v;
      } catch (err) {
        summary.ok = false;
        summary.failures.push({ job: job.name, jobId: f.jobId, error: (err as Error).message });
        // No retries here: the failure is final, so the job gives back what it holds (a poll job: its lease).
        await jobFailedForGood(job, f.payload, deps, { jobId: f.jobId, error: err as Error });
      }
    }
  }
  summary.seconds = Math.round(performance.now() - started) / 1000;
  return summary;
}
