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
import { correctCarriers, findPushTargets, recordPushes, type OrphanRecord, type PushRecord, type PushTarget } from '../db/queries/push.js';
import { loadShipmentsForPoll, quarantineReplies } from '../db/queries/tracking.js';
import { Coalescer } from '../jobs/coalescer.js';
import type { Deps, FollowUp } from '../jobs/define-job.js';
import { ingestResults, type IngestItem } from './tracking.js';

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
export function pickTarget(candidates: PushTarget[], item: Pick<PushItem, 'carrier' | 'correctedCarrier'>, routedHere: (carrier: string) => boolean): PushTarget | null {
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
      // Flushes at once: while one waits on Postgres the next gathers the pushes that came meanwhile.
      maxInFlight: 3,
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
 * One flush: the shipments of every pushed number (one lookup), carrier corrections, the shared ingest,
 * then receipts/subscriptions/orphans and the follow-ups (side by side: both only need the events committed).
 */
async function flush(deps: PushDeps, provider: PushProvider, subs: Submission[]): Promise<Stored[]> {
  const { sql, config, log } = deps;
  const now = deps.clock.now();
  const targets = await findPushTargets(sql, subs.flatMap((s) => s.items.map((i) => i.trackingNo)));
  const byNo = new Map<string, PushTarget[]>();
  for (const t of targets) byNo.set(t.trackingNo, [...(byNo.get(t.trackingNo) ?? []), t]);
  const outs: Stored[] = subs.map(() => ({ matched: 0, newEvents: 0, orphans: 0, malformed: 0, corrected: 0 }));
  const matched: { sub: number; item: PushItem; target: PushTarget }[] = [];
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
      } else log.warn({ provider, shipmentId: m.target.id, to: m.item.correctedCarrier }, 'carrier correction not applied: the number is already known under that carrier');
    }
  }
  const rows = await loadShipmentsForPoll(sql, matched.map((m) => m.target.id));
  const byId = new Map(rows.map((r) => [r.id, r]));
  const items: IngestItem[] = [];
  for (const m of matched) {
    const shipment = byId.get(m.target.id);
    if (shipment) items.push({ shipment, result: withAbortFlag(m.item) });
  }
  // The shared ingest: events stored once, state folded from exactly the new ones, quarantine, next poll.
  const summary = await ingestResults(deps, provider, items, now);
  const records: PushRecord[] = matched.map((m) => ({
    shipmentId: m.target.id,
    trackingNo: m.item.trackingNo,
    kind: m.item.result.kind === 'malformed' ? `${m.item.kind}:malformed` : m.item.kind,
    subscription: m.item.subscription,
    message: m.item.message,
    newEvents: summary.changed.get(m.target.id)?.length ?? 0,
    raw: m.item.raw,
  }));
  for (const m of matched) outs[m.sub]!.newEvents += summary.changed.get(m.target.id)?.length ?? 0;
  const chased = new Set(rows.filter((r) => r.chased).map((r) => r.id));
  await Promise.all([
    recordPushes(sql, provider, records, orphans, now, config.push.abortResubscribeMinutes),
    enqueueFollowUps(deps, subs, matched, summary.changed, chased),
  ]);
  const done = performance.now();
  for (const s of subs) deps.metrics.pushStoreSeconds.observe({ provider }, (done - s.arrivedAt) / 1000);
  return outs;
}

/**
 * Detection of the changed shipments and chaser notices, as after a poll. The job id digests the new
 * events themselves: an event is inserted once, so the same change can never enqueue twice, and a later
 * change always gets a new job. A failed enqueue does not fail the push: the events are committed and
 * their shipments are marked due for judgement (next_check_at), so the detection sweep takes them.
 */
async function enqueueFollowUps(
  deps: PushDeps,
  subs: Submission[],
  matched: { sub: number; target: PushTarget }[],
  changed: Map<number, { eventKey: string }[]>,
  chased: Set<number>,
): Promise<void> {
  const byEnqueue = new Map<Enqueue, { ids: number[]; chased: number[]; keys: string[] }>();
  for (const m of matched) {
    const enqueue = subs[m.sub]!.enqueue;
    let g = byEnqueue.get(enqueue);
    if (!g) byEnqueue.set(enqueue, (g = { ids: [], chased: [], keys: [] }));
    const fresh = changed.get(m.target.id);
    if (!fresh?.length) continue;
    g.ids.push(m.target.id);
    if (chased.has(m.target.id)) g.chased.push(m.target.id);
    for (const e of fresh) g.keys.push(`${m.target.id}:${e.eventKey}`);
  }
  for (const [enqueue, g] of byEnqueue) {
    if (g.ids.length === 0) continue;
    const tag = createHash('sha1').update(g.keys.sort().join(',')).digest('hex').slice(0, 16);
    const followUps: FollowUp[] = [{ job: 'detect-exceptions', payload: { shipmentIds: g.ids.sort((a, b) => a - b) }, jobId: `detect-push-${tag}` }];
    if (g.chased.length) followUps.push({ job: 'notify-chasers', payload: { shipmentIds: g.chased.sort((a, b) => a - b) }, jobId: `chasers-push-${tag}` });
    try {
      await enqueue(followUps);
    } catch (err) {
      deps.log.warn({ err, shipments: g.ids.length }, 'push follow-ups not enqueued; the detection sweep will judge these shipments');
    }
  }
}
