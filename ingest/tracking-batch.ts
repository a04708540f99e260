/**
 * Per process, the poll jobs a worker runs concurrently share their shipment loads and their ingest
 * writes (one statement per flush instead of one per job, see jobs/coalescer.ts), and one flush enqueues
 * the follow-up work (detection, chaser notices) for everything it changed.
 */
import { createHash } from 'node:crypto';
import type { ProviderName } from '../carriers/carrier.js';
import { loadShipmentsForPoll, type ShipmentPollRow } from '../db/queries/tracking.js';
import { Coalescer } from '../jobs/coalescer.js';
import type { Deps, FollowUp, JobContext } from '../jobs/define-job.js';
import { ingestGroups, type IngestItem, type IngestSummary } from './tracking.js';

/** What one poll job hands to the shared ingest flush. */
export interface IngestInput {
  items: IngestItem[];
  now: Date;
  /** The job's id and enqueue: detection of what changed is enqueued before the job completes. */
  jobId: string;
  enqueue: JobContext['enqueue'];
}

/** Postgres rejected the statement (bad data), as opposed to a lost connection. */
const isPostgresError = (err: unknown) => err instanceof Error && err.name === 'PostgresError';

/**
 * Per process (per Deps): the poll jobs a worker runs concurrently share their loads and their writes,
 * one statement per flush instead of one per job (see Coalescer).
 */
interface PollBatching {
  load: Coalescer<number[], ShipmentPollRow[]>;
  ingest: Map<ProviderName, Coalescer<IngestInput, IngestSummary>>;
}

const batching = new WeakMap<Deps, PollBatching>();

/** Shipments loaded in one flush (a job brings at most 100). */
const LOAD_MAX = 1000;
/** Shipments written in one flush: ~8 events each, one statement per table. */
const INGEST_MAX = 500;

export function pollBatching(deps: Deps): PollBatching {
  let b = batching.get(deps);
  if (!b) {
    b = {
      load: new Coalescer(
        async (inputs) => {
          const rows = await loadShipmentsForPoll(deps.sql, [...new Set(inputs.flat())]);
          const byId = new Map(rows.map((r) => [r.id, r]));
          return inputs.map((ids) => [...new Set(ids)].flatMap((id) => byId.get(id) ?? []));
        },
        // One load at a time: the next one collects the jobs that start meanwhile.
        { maxWeight: LOAD_MAX, maxInFlight: 1, weight: (ids) => ids.length },
      ),
      ingest: new Map(),
    };
    batching.set(deps, b);
  }
  return b;
}

/**
 * The shared write of one provider's poll jobs: events, shipments and quarantine in one transaction,
 * then one detection job (and one chaser notice job) for every shipment of the flush that changed.
 * Two flushes may run at once (never with a shipment in common), so the next batch is written while
 * the previous one commits.
 */
export function ingestBatcher(deps: Deps, provider: ProviderName): Coalescer<IngestInput, IngestSummary> {
  const b = pollBatching(deps);
  let c = b.ingest.get(provider);
  if (!c) {
    c = new Coalescer(
      async (inputs) => {
        // Written as of the batch's latest poll instant (its jobs polled within milliseconds of each other).
        const now = new Date(Math.max(...inputs.map((i) => i.now.getTime())));
        const summaries = await ingestGroups(deps, provider, inputs.map((i) => i.items), now);
        await enqueueFollowUps(inputs, summaries);
        return summaries;
      },
      {
        maxWeight: INGEST_MAX,
        maxInFlight: 2,
        weight: (i) => i.items.length,
        keys: (i) => i.items.map((it) => it.shipment.id),
        isolate: isPostgresError,
      },
    );
    b.ingest.set(provider, c);
  }
  return c;
}

/**
 * New facts: judge the changed shipments now, so a delivered parcel resolves within one poll; chased
 * parcels with new scans: tell the customer within this cycle. One job for the whole flush; its id is
 * the first poll job's id plus a digest of the shipment ids, so a re-enqueue of the same work is a no-op
 * while a different set never collides with it (a flush of one job keeps `detect-<poll job id>`).
 */
async function enqueueFollowUps(inputs: IngestInput[], summaries: IngestSummary[]): Promise<void> {
  const byEnqueue = new Map<JobContext['enqueue'], { jobIds: string[]; changed: number[]; chased: number[] }>();
  inputs.forEach((input, i) => {
    const summary = summaries[i]!;
    if (summary.changed.size === 0) return;
    let g = byEnqueue.get(input.enqueue);
    if (!g) byEnqueue.set(input.enqueue, (g = { jobIds: [], changed: [], chased: [] }));
    g.jobIds.push(input.jobId);
    for (const { shipment } of input.items) {
      if (!summary.changed.has(shipment.id)) continue;
      g.changed.push(shipment.id);
      if (shipment.chased) g.chased.push(shipment.id);
    }
  });
  for (const [enqueue, g] of byEnqueue) {
    const changed = [...new Set(g.changed)].sort((a, b) => a - b);
    const chased = [...new Set(g.chased)].sort((a, b) => a - b);
    const tag = g.jobIds.length === 1 ? g.jobIds[0]! : `${g.jobIds[0]!}-${createHash('sha1').update(changed.join(',')).digest('hex').slice(0, 12)}`;
    const followUps: FollowUp[] = [{ job: 'detect-exceptions', payload: { shipmentIds: changed }, jobId: `detect-${tag}` }];
    if (chased.length) followUps.push({ job: 'notify-chasers', payload: { shipmentIds: chased }, jobId: `chasers-${tag}` });
    await enqueue(followUps);
  }
}

