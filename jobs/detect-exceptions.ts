import { z } from 'zod';
import { SEVERITIES, type ExceptionType } from '../config/schema.js';
import type { SqlOrTx as Sql } from '../db/client.js';
import {
  claimOrderSubjects,
  claimShipmentSubjects,
  escalateExceptions,
  loadOpenExceptions,
  lockSubjectOrders,
  openExceptions,
  resolveExceptions,
  setNextCheck,
  type NewException,
  type OpenException,
} from '../db/queries/exceptions.js';
import { attachTransitNorms } from '../db/queries/norms.js';
import { raiseAlert } from '../db/queries/tracking.js';
import type { SubjectFacts, Verdict } from '../domain/facts.js';
import { evaluateSubject, rulesByType } from '../rules/index.js';
import { defineJob, type Deps } from './define-job.js';

const rank = (s: string) => SEVERITIES.indexOf(s as (typeof SEVERITIES)[number]);

export interface DetectSummary {
  evaluated: number;
  opened: Record<string, number>;
  escalated: Record<string, number>;
  resolved: Record<string, number>;
  /** Orders whose exceptions changed (outreach follows them). */
  ordersTouched: Set<number>;
  /** Subjects set aside because judging them failed on their own data (see `isolate`), with the error. */
  quarantined: { subject: string; error: string }[];
}

function bump(map: Record<string, number>, key: string) {
  map[key] = (map[key] ?? 0) + 1;
}

/**
 * Diff what the rules say now against what is open: open new, escalate (never de-escalate: an alarm
 * raised stays raised until its condition ends), resolve what ended. Subjects are locked by the caller's
 * transaction; the partial unique index keeps one open exception per (subject, type) even so.
 */
async function judge(
  tx: Sql,
  deps: Pick<Deps, 'config'>,
  subjects: { key: string; facts: SubjectFacts | null; orderId: number }[],
  open: OpenException[],
  now: Date,
  summary: DetectSummary,
): Promise<{ key: string; nextCheckAt: Date | null }[]> {
  const openBySubject = new Map<string, OpenException[]>();
  for (const e of open) {
    const key = e.shipmentId === null ? `o${e.orderId}` : `s${e.shipmentId}`;
    let list = openBySubject.get(key);
    if (!list) openBySubject.set(key, (list = []));
    list.push(e);
  }
  const toOpen: NewException[] = [];
  const toEscalate: { id: number; from: string; verdict: Verdict; orderId: number }[] = [];
  const toResolve: { id: number; reason: string }[] = [];
  const next: { key: string; nextCheckAt: Date | null }[] = [];
  for (const { key, facts, orderId } of subjects) {
    const result = facts ? evaluateSubject(facts, now, deps.config) : { verdicts: [], nextCheckAt: null };
    next.push({ key, nextCheckAt: result.nextCheckAt });
    const existing = openBySubject.get(key) ?? [];
    const byType = new Map(existing.map((e) => [e.type, e]));
    for (const v of result.verdicts) {
      const cur = byType.get(v.type);
      if (!cur) toOpen.push({ facts: facts!, verdict: v });
      else if (rank(v.severity) > rank(cur.severity)) toEscalate.push({ id: cur.id, from: cur.severity, verdict: v, orderId });
      byType.delete(v.type);
    }
    for (const e of byType.values()) {
      const reason = facts ? rulesByType[e.type as ExceptionType].resolution(facts, deps.config) : 'shipment registered: judged per parcel from now on';
      toResolve.push({ id: e.id, reason });
      bump(summary.resolved, e.type);
      summary.ordersTouched.add(orderId);
    }
  }
  const opened = await openExceptions(tx, toOpen, now);
  for (const o of opened) bump(summary.opened, o.type);
  for (const o of toOpen) summary.ordersTouched.add(o.facts.orderId);
  await escalateExceptions(tx, toEscalate, now);
  for (const e of toEscalate) {
    bump(summary.escalated, e.verdict.type);
    summary.ordersTouched.add(e.orderId);
  }
  await resolveExceptions(tx, toResolve, now);
  summary.evaluated += subjects.length;
  return next;
}

/**
 * Judge due subjects (or exactly `shipmentIds`) in locked batches until none is due, or until `signal`
 * aborts (daemon stopping): then it stops between batches, each committed; the next sweep goes on.
 */
export async function detect(deps: Pick<Deps, 'sql' | 'config' | 'clock'>, shipmentIds?: number[], signal?: AbortSignal): Promise<DetectSummary> {
  const { sql, config } = deps;
  const now = deps.clock.now();
  const batch = config.jobs.detectExceptions.batchSize;
  const summary = emptySummary();

  const shipmentBatch = (ids?: number[]) =>
    isolate(sql, 'shipments', now, summary, async (tx, one, claimed, summary) => {
      const facts = await claimShipmentSubjects(tx, now, batch, one ?? ids);
      claimed(facts.map((f) => f.shipmentId!));
      if (facts.length === 0) return 0;
      // Orders before exceptions, as sync-outreach locks them (see lockSubjectOrders: one lock order, no deadlock).
      await lockSubjectOrders(tx, facts.map((f) => f.orderId));
      await attachTransitNorms(tx, facts, config.norms.minSamples);
      const open = await loadOpenExceptions(tx, { shipmentIds: facts.map((f) => f.shipmentId!) });
      const next = await judge(tx, deps, facts.map((f) => ({ key: `s${f.shipmentId}`, facts: f, orderId: f.orderId })), open, now, summary);
      const version = new Map(facts.map((f) => [f.shipmentId!, f.scheduleVersion]));
      await setNextCheck(tx, 'shipments', next.map((n) => ({ id: Number(n.key.slice(1)), at: n.nextCheckAt, version: version.get(Number(n.key.slice(1))) })));
      return facts.length;
    });

  if (shipmentIds) {
    for (let i = 0; i < shipmentIds.length; i += batch) await shipmentBatch(shipmentIds.slice(i, i + batch));
    return summary;
  }
  // Several batches in flight: while Node judges one, Postgres claims and writes another. The claims
  // (advisory, per parcel) keep them disjoint, and each locks its orders, then its exceptions, in id order.
  await Promise.all(Array.from({ length: config.jobs.detectExceptions.concurrency }, async () => {
    while ((await shipmentBatch()) === batch && !signal?.aborted);
  }));
  while (!signal?.aborted) {
    const n = await isolate(sql, 'orders', now, summary, async (tx, one, claimed, summary) => {
      const subjects = await claimOrderSubjects(tx, now, batch, one);
      claimed(subjects.map((s) => s.orderId));
      if (subjects.length === 0) return 0;
      const open = await loadOpenExceptions(tx, { orderLevelOf: subjects.map((s) => s.orderId) });
      const next = await judge(tx, deps, subjects.map((s) => ({ key: `o${s.orderId}`, facts: s.facts, orderId: s.orderId })), open, now, summary);
      await setNextCheck(tx, 'orders', next.map((n) => ({ id: Number(n.key.slice(1)), at: n.nextCheckAt })));
      return subjects.length;
    });
    if (n < batch) break;
  }
  return summary;
}

const emptySummary = (): DetectSummary => ({ evaluated: 0, opened: {}, escalated: {}, resolved: {}, ordersTouched: new Set(), quarantined: [] });

function mergeSummary(into: DetectSummary, from: DetectSummary): void {
  into.evaluated += from.evaluated;
  for (const k of ['opened', 'escalated', 'resolved'] as const) for (const [type, n] of Object.entries(from[k])) into[k][type] = (into[k][type] ?? 0) + n;
  for (const id of from.ordersTouched) into.ordersTouched.add(id);
  into.quarantined.push(...from.quarantined);
}

/**
 * A failure that comes from one subject's own data, not from the database or the code at large: Postgres'
 * data exceptions (class 22: a date beyond its range, "time zone displacement out of range" for an order paid in
 * year 9999) and the RangeError of date arithmetic past JS's range. Anything else (a lost connection, a
 * deadlock) fails the sweep as before, to be retried whole.
 */
function isDataError(err: unknown): boolean {
  if (err instanceof RangeError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('22');
}

/**
 * Run one locked batch (`work` with no ids: claim what is due). If it fails on some subject's data, the batch
 * rolls back and each subject it had claimed is judged alone in a transaction of its own; one that still fails
 * is set aside: not due again until new facts make it due (a poll, an order update), recorded as an open alert
 * (`detection:s<id>` / `detection:o<id>`, with the error; counted if it recurs) and in the summary, which the
 * job logs and counts in /metrics. The happy path stays one set-based transaction per batch; one poisoned row
 * costs its batch a second, row-by-row pass instead of stopping every sweep.
 */
async function isolate(
  sql: Pick<Deps, 'sql'>['sql'],
  table: 'shipments' | 'orders',
  now: Date,
  summary: DetectSummary,
  work: (tx: Sql, one: number[] | undefined, claimed: (ids: number[]) => void, into: DetectSummary) => Promise<number>,
): Promise<number> {
  let ids: number[] = [];
  // Counts go into the summary only once their transaction has committed: a rolled-back batch counts nothing.
  const committed = async (one: number[] | undefined, claimed: (ids: number[]) => void) => {
    const local = emptySummary();
    const n = await sql.begin((tx) => work(tx, one, claimed, local));
    mergeSummary(summary, local);
    return n;
  };
  try {
    return await committed(undefined, (c) => (ids = c));
  } catch (err) {
    if (!isDataError(err) || ids.length === 0) throw err;
  }
  for (const id of ids) {
    try {
      await committed([id], () => {});
    } catch (err) {
      if (!isDataError(err)) throw err;
      const subject = `${table === 'shipments' ? 's' : 'o'}${id}`;
      const error = (err as Error).message;
      await setNextCheck(sql, table, [{ id, at: null }]);
      await raiseAlert(sql, `detection:${subject}`, `detection skipped ${table === 'shipments' ? 'shipment' : 'order'} ${id}: ${error}`, now);
      summary.quarantined.push({ subject, error });
    }
  }
  return ids.length;
}

function flatten(prefix: string, counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [`${prefix}.${k}`, v]));
}

export const detectExceptions = defineJob({
  name: 'detect-exceptions',
  queue: 'detection',
  payload: z.object({ slot: z.string().optional(), shipmentIds: z.array(z.number().int().positive()).optional() }),
  schedule: (c) => c.jobs.detectExceptions.schedule,
  cycleOrder: 20,
  async handle({ shipmentIds }, deps, ctx) {
    const s = await detect(deps, shipmentIds, ctx.signal);
    for (const [type, n] of Object.entries(s.opened)) deps.metrics.exceptions.inc({ type, action: 'opened' }, n);
    for (const [type, n] of Object.entries(s.escalated)) deps.metrics.exceptions.inc({ type, action: 'escalated' }, n);
    for (const [type, n] of Object.entries(s.resolved)) deps.metrics.exceptions.inc({ type, action: 'resolved' }, n);
    if (s.quarantined.length) {
      deps.metrics.detectionQuarantined.inc(s.quarantined.length);
      ctx.log.error({ quarantined: s.quarantined }, 'detection skipped subjects whose data it cannot judge (see alerts)');
    }
    const total = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
    if (total(s.opened) + total(s.escalated) + total(s.resolved) > 0 && shipmentIds) {
      // Triggered by new tracking events: bring the outreach tasks in step right away.
      await ctx.enqueue([{ job: 'sync-outreach', payload: {}, jobId: `sync-${ctx.jobId}` }]);
    }
    if (total(s.opened) + total(s.escalated) + total(s.resolved) > 0) {
      ctx.log.info({ opened: s.opened, escalated: s.escalated, resolved: s.resolved }, 'exceptions changed');
    }
    return {
      summary: {
        evaluated: s.evaluated,
        quarantined: s.quarantined.length,
        exceptionsOpened: total(s.opened),
        exceptionsEscalated: total(s.escalated),
        exceptionsResolved: total(s.resolved),
        ...flatten('opened', s.opened),
        ...flatten('escalated', s.escalated),
        ...flatten('resolved', s.resolved),
      },
    };
  },
});
