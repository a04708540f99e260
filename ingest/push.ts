/**
 * Push ingestion: what the receivers (api/hooks.ts) do once a push is verified. The same pipeline as
 * polling: the provider's items go through the shared ingest (idempotent event insert, state folded
 * from exactly the new events, next poll, quarantine), then a receipt per item, the subscription's
 * last push, orphans; detection and chaser notices of what changed go to BullMQ, as after a poll.
 *
 * Pushes arriving at once (a provider bursts them over many connections) share their database work:
 * one flush per batch, like poll jobs (jobs/coalescer.ts); every push still waits for its own rows to be
 * committed before it is acknowledged. Two items for one shipment never go in one flush nor in two
 * flushes at once (coalescer keys), so the fold of one always sees the other's events.
 */
import { createHash } from 'node:crypto';
import { providerFor } from '../carriers/index.js';
import type { TrackResult } from '../carriers/carrier.js';
import type { PushItem, PushProvider } from '../carriers/push.js';
import { correctCarriers, recordPushes, type OrphanRecord, type PushRecord, type PushTarget } from '../db/queries/push.js';
import { loadShipmentsByTrackingNo, quarantineReplies, type ShipmentPollRow } from '../db/queries/tracking.js';
import { Coalescer } from '../jobs/coalescer.js';
import type { Deps, FollowUp } from '../jobs/define-job.js';
import { ingestResults, type IngestItem, type IngestSummary } from './tracking.js';

export type Enqueue = (followUps: FollowUp[]) => Promise<void>;
type PushDeps = Pick<Deps, 'sql' | 'config' | 'metrics' | 'log' | 'clock'>;

/** What one push added. */
export interface PushOutcome {
  items: number;
  /** Items matched to a shipment. */
  matched: number;
  newEvents: number;
  orphans: number;
  malformed: number;
  /** Shipments whose carrier the provider corrected. */
  corrected: number;
}

interface Submission {
  provider: PushProvider;
  /** Items of one push, at most one per tracking number. */
  items: PushItem[];
  enqueue: Enqueue;
  /** performance.now() when the request arrived (push-to-stored latency). */
  arrivedAt: number;
}

type Stored = Omit<PushOutcome, 'items'>;

const coalescers = new WeakMap<PushDeps, Map<PushProvider, Coalescer<Submission, Stored>>>();

/** Push items written in one flush. */
const FLUSH_MAX = 500;

/**
 * Store a verified push. Resolves once everything is committed (then the receiver acknowledges);
 * rejects on a database failure (the receiver answers a failure and the provider retries, which is
 * harmless: the events are stored once whatever happens).
 */
export async function ingestPush(deps: PushDeps, enqueue: Enqueue, provider: PushProvider, items: PushItem[], arrivedAt: number): Promise<PushOutcome> {
  const out: PushOutcome = { items: items.length, matched: 0, newEvents: 0, orphans: 0, malformed: 0, corrected: 0 };
  const unattributed = items.filter((i) => !i.trackingNo);
  if (unattributed.length) {
    // An item without a number cannot belong to a shipment; keep it raw, the others go on.
    out.malformed += unattributed.length;
    await quarantineReplies(
      deps.sql,
      unattributed.map((i) => ({ shipmentId: null, provider, errorKind: 'malformed', error: i.result.kind === 'malformed' ? i.result.error : 'push item without a tracking number', raw: i.raw })),
      deps.clock.now(),
    );
    deps.metrics.pushesRejected.inc({ provider, reason: 'item_malformed' }, unattributed.length);
  }
  // One submission per round in which each number appears once (a push may repeat a number).
  const rounds: PushItem[][] = [];
  for (const item of items.filter((i) => i.trackingNo)) {
    const round = rounds.find((r) => !r.some((x) => x.trackingNo === item.trackingNo));
    if (round) round.push(item);
    else rounds.push([item]);
  }
  const coalescer = pushCoalescer(deps, provider);
  for (const round of rounds) {
    const stored = await coalescer.submit({ provider, items: round, enqueue, arrivedAt });
    out.matched += stored.matched;
    out.newEvents += stored.newEvents;
    out.orphans += stored.orphans;
    out.malformed += stored.malformed;
    out.corrected += stored.corrected;
  }
  return out;
}

/**
 * Which shipment a pushed number is: the one under the carrier the push names, else the one routed to
 * this provider, else the only one. Null = not ours (orphan).
 */
export function pickTarget<T extends PushTarget>(candidates: T[], item: Pick<PushItem, 'carrier' | 'correctedCarrier'>, routedHere: (carrier: string) => boolean): T | null {
  if (candidates.length === 0) return null;
  for (const c of [item.carrier, item.correctedCarrier]) {
    const hit = c ? candidates.find((t) => t.carrier === c) : undefined;
    if (hit) return hit;
  }
  return candidates.find((t) => routedHere(t.carrier)) ?? candidates[0]!;
}

function pushCoalescer(deps: PushDeps, provider: PushProvider): Coalescer<Submission, Stored> {
  let byProvider = coalescers.get(deps);
  if (!byProvider) coalescers.set(deps, (byProvider = new Map()));
  let c = byProvider.get(provider);
  if (!c) {
    c = new Coalescer((subs) => flush(deps, provider, subs), {
      maxWeight: FLUSH_MAX,
      // One flush at a time: the pushes arriving while it waits on Postgres gather into the next one, so a burst
      // is written in fewer, larger flushes (fewer statements per push for the daemon and Postgres). Warm A/B,
      // 3 runs each: 1 in flight 837 pushes/s median, 0.84 ms daemon CPU a push, p99 77 ms; 3 in flight 780/s,
      // 0.95 ms, p99 90 ms (README "Push ingestion").
      maxInFlight: 1,
      weight: (s) => s.items.length,
      // The same number never goes in one flush or two flushes at once: the fold of one sees the other's events.
      keys: (s) => s.items.map((i) => i.trackingNo),
      isolate: (err) => err instanceof Error && err.name === 'PostgresError',
    });
    byProvider.set(provider, c);
  }
  return c;
}

/** A Kuaidi100 abort with no record at all still has to show on the shipment: an empty result carrying the flag. */
function withAbortFlag(item: PushItem): TrackResult {
  if (item.subscription !== 'aborted' || item.result.kind !== 'not_found') return item.result;
  return { kind: 'ok', trackingNo: item.trackingNo, events: [], summaryStatus: null, flags: ['kuaidi100:abort'] };
}

/**
 * One flush, three round trips: the shipments of every pushed number with their state (one read), then one
 * transaction (the shared ingest: events stored once, state folded from exactly the new ones; receipts,
 * subscriptions and orphans in the same commit), then the follow-ups. A carrier correction (rare) adds its own.
 */
async function flush(deps: PushDeps, provider: PushProvider, subs: Submission[]): Promise<Stored[]> {
  const { sql, config, log } = deps;
  const now = deps.clock.now();
  const rows = await loadShipmentsByTrackingNo(sql, subs.flatMap((s) => s.items.map((i) => i.trackingNo)));
  const byNo = new Map<string, ShipmentPollRow[]>();
  for (const r of rows) {
    const list = byNo.get(r.trackingNo);
    if (list) list.push(r);
    else byNo.set(r.trackingNo, [r]);
  }
  const outs: Stored[] = subs.map(() => ({ matched: 0, newEvents: 0, orphans: 0, malformed: 0, corrected: 0 }));
  const matched: { sub: number; item: PushItem; target: ShipmentPollRow }[] = [];
  const orphans: OrphanRecord[] = [];
  subs.forEach((s, sub) => {
    for (const item of s.items) {
      const target = pickTarget(byNo.get(item.trackingNo) ?? [], item, (c) => providerFor(config, c) === provider);
      if (target) {
        matched.push({ sub, item, target });
        outs[sub]!.matched++;
        if (item.result.kind === 'malformed') outs[sub]!.malformed++;
      } else {
        orphans.push({ trackingNo: item.trackingNo, carrier: item.correctedCarrier ?? item.carrier, raw: item.raw });
        outs[sub]!.orphans++;
      }
    }
  });
  if (orphans.length) {
    deps.metrics.pushOrphans.inc({ provider }, orphans.length);
    log.info({ provider, numbers: orphans.map((o) => o.trackingNo).slice(0, 10), count: orphans.length }, 'push for unknown tracking numbers acknowledged and recorded as orphaned');
  }
  const corrections = matched.filter((m) => m.item.correctedCarrier && m.item.correctedCarrier !== m.target.carrier);
  if (corrections.length) {
    const done = await correctCarriers(sql, corrections.map((m) => ({ id: m.target.id, carrier: m.item.correctedCarrier! })), now);
    for (const m of corrections) {
      if (done.includes(m.target.id)) {
        outs[m.sub]!.corrected++;
        log.info({ provider, shipmentId: m.target.id, from: m.target.carrier, to: m.item.correctedCarrier }, 'carrier corrected by the provider');
        m.target = { ...m.target, carrier: m.item.correctedCarrier! };
      } else log.warn({ provider, shipmentId: m.target.id, to: m.item.correctedCarrier }, 'carrier correction not applied: the number is already known under that carrier');
    }
  }
  const items: IngestItem[] = matched.map((m) => ({ shipment: m.target, result: withAbortFlag(m.item) }));
  const records = (summary: IngestSummary | null): PushRecord[] =>
    matched.map((m) => ({
      shipmentId: m.target.id,
      trackingNo: m.item.trackingNo,
      kind: m.item.result.kind === 'malformed' ? `${m.item.kind}:malformed` : m.item.kind,
      subscription: m.item.subscription,
      message: m.item.message,
      newEvents: summary?.changed.get(m.target.id)?.length ?? 0,
      raw: m.item.raw,
    }));
  // The shared ingest as a push (not a poll: the per-number query caps are left alone); receipts and
  // subscriptions commit with the events, so an acknowledged push is entirely stored or, on failure, not at all.
  const changed = items.length
    ? (
        await ingestResults(deps, provider, items, now, {
          source: 'push',
          within: (tx, [summary]) => [recordPushes(tx, provider, records(summary!), orphans, now, config.push.abortResubscribeMinutes)],
        })
      ).changed
    : (await recordPushes(sql, provider, [], orphans, now, config.push.abortResubscribeMinutes), new Map<number, { eventKey: string }[]>());
  const done = performance.now();
  for (const s of subs) deps.metrics.pushStoreSeconds.observe({ provider }, (done - s.arrivedAt) / 1000);
  for (const m of matched) outs[m.sub]!.newEvents += changed.get(m.target.id)?.length ?? 0;
  const chased = new Set(matched.filter((m) => m.target.chased).map((m) => m.target.id));
  await enqueueFollowUps(deps, subs, matched, changed, chased);
  return outs;
}

/** What one flush hands to BullMQ: the shipments with new events, the chased ones, and those events' keys. */
interface FollowUpWork {
  ids: number[];
  chased: number[];
  keys: string[];
}

const followUpCoalescers = new WeakMap<Enqueue, Coalescer<FollowUpWork, null>>();

/**
 * Detection of the changed shipments and chaser notices, as after a poll. The flushes finishing while one
 * enqueue is on its way to Redis share the next one (one detection job and one chaser job for all of them):
 * a BullMQ add per flush was a visible share of a push's CPU. The job id digests the new events themselves:
 * an event is inserted once, so the same change can never enqueue twice, and a later change always gets a
 * new job. A failed enqueue does not fail the push: the events are committed and their shipments are marked
 * due for judgement (next_check_at), so the detection sweep takes them (and send-notifications re-judges
 * chased parcels with recent events).
 */
async function enqueueFollowUps(
  deps: PushDeps,
  subs: Submission[],
  matched: { sub: number; target: { id: number } }[],
  changed: Map<number, { eventKey: string }[]>,
  chased: Set<number>,
): Promise<void> {
  const byEnqueue = new Map<Enqueue, FollowUpWork>();
  for (const m of matched) {
    const fresh = changed.get(m.target.id);
    if (!fresh?.length) continue;
    const enqueue = subs[m.sub]!.enqueue;
    let g = byEnqueue.get(enqueue);
    if (!g) byEnqueue.set(enqueue, (g = { ids: [], chased: [], keys: [] }));
    g.ids.push(m.target.id);
    if (chased.has(m.target.id)) g.chased.push(m.target.id);
    for (const e of fresh) g.keys.push(`${m.target.id}:${e.eventKey}`);
  }
  await Promise.all(
    [...byEnqueue].map(async ([enqueue, work]) => {
      try {
        await followUpCoalescer(enqueue).submit(work);
      } catch (err) {
        deps.log.warn({ err, shipments: work.ids.length }, 'push follow-ups not enqueued; the detection sweep will judge these shipments');
      }
    }),
  );
}

function followUpCoalescer(enqueue: Enqueue): Coalescer<FollowUpWork, null> {
  let c = followUpCoalescers.get(enqueue);
  if (!c) {
    c = new Coalescer(
      async (works) => {
        const ids = [...new Set(works.flatMap((w) => w.ids))].sort((a, b) => a - b);
        const chased = [...new Set(works.flatMap((w) => w.chased))].sort((a, b) => a - b);
        const tag = createHash('sha1').update(works.flatMap((w) => w.keys).sort().join(',')).digest('hex').slice(0, 16);
        const followUps: FollowUp[] = [{ job: 'detect-exceptions', payload: { shipmentIds: ids }, jobId: `detect-push-${tag}` }];
        if (chased.length) followUps.push({ job: 'notify-chasers', payload: { shipmentIds: chased }, jobId: `chasers-push-${tag}` });
        await enqueue(followUps);
        return works.map(() => null);
      },
      // One enqueue at a time: what finishes meanwhile goes in the next. Detection jobs of up to FLUSH_MAX shipments.
      { maxInFlight: 1, maxWeight: FLUSH_MAX, weight: (w) => w.ids.length },
    );
    followUpCoalescers.set(enqueue, c);
  }
  return c;
}
