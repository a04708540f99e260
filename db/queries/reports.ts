import type { SqlOrTx } from '../client.js';

/** A report's period: [since, until). */
export interface Period {
  since: Date;
  until: Date;
}

const r1 = (n: unknown) => (n === null || n === undefined ? null : Math.round(Number(n) * 10) / 10);
const rate = (n: number, of: number) => (of > 0 ? Math.round((n / of) * 10000) / 10000 : null);

export interface Scorecard {
  carrier: string;
  /** Only with byRoute (null when the parcel's events name no area yet). */
  origin?: string | null;
  destination?: string | null;
  parcels: number;
  delivered: number;
  /** Delivered parcels judged against a norm, and those within its p90. */
  judged: number;
  onTime: number;
  onTimeRate: number | null;
  medianTransitHours: number | null;
  p90TransitHours: number | null;
  /** Marked shipped → the carrier's collection scan. */
  medianCollectionDelayHours: number | null;
  /** Parcels with at least one exception of each type (any status), and that as a share of parcels. */
  exceptions: Record<string, { parcels: number; rate: number | null }>;
  /** Parcels the recipient refused (拒签) / that went back to the sender (退回). */
  rejected: { parcels: number; rate: number | null };
  returned: { parcels: number; rate: number | null };
  outreach: { tasks: number; byStatus: Record<string, number>; byOutcome: Record<string, number>; compensationYuan: number };
}

/**
 * Carrier scorecards over a period. A parcel belongs to the period by when the carrier collected it (or,
 * never collected, when it was marked shipped). On time = delivered within the p90 of the norm that applies
 * to its route now (route → carrier → global, as the rules use). Every figure is aggregated in Postgres;
 * what comes back is a row per carrier (or route) and type.
 */
export async function carrierScorecards(sql: SqlOrTx, p: Period, opts: { minSamples: number; carrier?: string; byRoute?: boolean }): Promise<Scorecard[]> {
  const route = opts.byRoute === true;
  const parcels = sql`
    select s.id, s.carrier, s.order_id, s.collected_at, s.delivered_at, s.marked_shipped_at,
           ${route ? sql`r.origin, r.destination` : sql`null::text as origin, null::text as destination`}
    from shipments s ${route ? sql`cross join lateral parcelwatch_route(s.id) r` : sql``}
    where coalesce(s.collected_at, s.marked_shipped_at, s.created_at) >= ${p.since}
      and coalesce(s.collected_at, s.marked_shipped_at, s.created_at) < ${p.until}
      ${opts.carrier ? sql`and s.carrier = ${opts.carrier}` : sql``}`;
  const [base, exc, tasks] = await Promise.all([
    sql`
      with p as (${parcels}),
      t as (
        select p.*, extract(epoch from p.delivered_at - p.collected_at) / 3600.0 as hours,
               extract(epoch from p.collected_at - p.marked_shipped_at) / 3600.0 as collect_delay,
               exists (select 1 from tracking_events e where e.shipment_id = p.id and e.status = 'rejected') as rejected,
               exists (select 1 from tracking_events e where e.shipment_id = p.id and e.status in ('returning', 'returned')) as returned
        from p
      ),
      j as (
        select t.*, n.p90_hours
        from t
        left join transit_samples ts on ts.shipment_id = t.id
        left join lateral parcelwatch_norm(t.carrier, ts.origin, ts.destination, ${opts.minSamples}::int) n on t.hours is not null
      )
      select carrier, origin, destination, count(*)::int as parcels,
             count(*) filter (where delivered_at is not null)::int as delivered,
             count(*) filter (where hours is not null and p90_hours is not null)::int as judged,
             count(*) filter (where hours is not null and hours <= p90_hours)::int as on_time,
             percentile_cont(0.5) within group (order by hours) filter (where hours >= 0) as median_hours,
             percentile_cont(0.9) within group (order by hours) filter (where hours >= 0) as p90_hours,
             percentile_cont(0.5) within group (order by collect_delay) filter (where collect_delay is not null) as median_delay,
             count(*) filter (where rejected)::int as rejected, count(*) filter (where returned)::int as returned
      from j group by carrier, origin, destination order by carrier, origin nulls last, destination nulls last`,
    sql`
      with p as (${parcels})
      select p.carrier, p.origin, p.destination, e.type, count(distinct p.id)::int as parcels
      from p join exceptions e on e.shipment_id = p.id
      group by p.carrier, p.origin, p.destination, e.type`,
    sql`
      with p as (${parcels}),
      tk as (
        select distinct p.carrier, p.origin, p.destination, t.id, t.status, t.outcome, t.compensation_yuan
        from p join exceptions e on e.shipment_id = p.id join outreach_tasks t on t.id = e.outreach_task_id
      )
      select carrier, origin, destination, status, coalesce(outcome, '') as outcome, count(*)::int as n,
             coalesce(sum(compensation_yuan) filter (where status = 'done'), 0)::float8 as paid
      from tk group by carrier, origin, destination, status, outcome`,
  ]);
  const key = (r: Record<string, unknown>) => JSON.stringify([r.carrier, r.origin, r.destination]);
  const cards = new Map<string, Scorecard>();
  for (const r of base) {
    const n = r.parcels as number;
    cards.set(key(r), {
      carrier: r.carrier,
      ...(route ? { origin: r.origin, destination: r.destination } : {}),
      parcels: n,
      delivered: r.delivered,
      judged: r.judged,
      onTime: r.on_time,
      onTimeRate: rate(r.on_time, r.judged),
      medianTransitHours: r1(r.median_hours),
      p90TransitHours: r1(r.p90_hours),
      medianCollectionDelayHours: r1(r.median_delay),
      exceptions: {},
      rejected: { parcels: r.rejected, rate: rate(r.rejected, n) },
      returned: { parcels: r.returned, rate: rate(r.returned, n) },
      outreach: { tasks: 0, byStatus: {}, byOutcome: {}, compensationYuan: 0 },
    });
  }
  for (const r of exc) {
    const c = cards.get(key(r));
    if (c) c.exceptions[r.type] = { parcels: r.parcels, rate: rate(r.parcels, c.parcels) };
  }
  for (const r of tasks) {
    const c = cards.get(key(r));
    if (!c) continue;
    c.outreach.tasks += r.n;
    c.outreach.byStatus[r.status] = (c.outreach.byStatus[r.status] ?? 0) + r.n;
    if (r.outcome) c.outreach.byOutcome[r.outcome] = (c.outreach.byOutcome[r.outcome] ?? 0) + r.n;
    c.outreach.compensationYuan = Math.round((c.outreach.compensationYuan + Number(r.paid)) * 100) / 100;
  }
  return [...cards.values()];
}

export interface TrendPoint {
  /** Business-time-zone day, YYYY-MM-DD. */
  day: string;
  type: string;
  /** The parcel's carrier; null for order-level exceptions (not shipped yet). */
  carrier: string | null;
  opened: number;
  resolved: number;
}

/** Exceptions opened and resolved per business day, by type and carrier. */
export async function exceptionTrends(sql: SqlOrTx, p: Period, timeZone: string, opts: { carrier?: string; type?: string } = {}): Promise<TrendPoint[]> {
  const rows = await sql`
    with ev as (
      select (e.opened_at at time zone ${timeZone})::date as day, e.type, s.carrier, 1 as opened, 0 as resolved
      from exceptions e left join shipments s on s.id = e.shipment_id
      where e.opened_at >= ${p.since} and e.opened_at < ${p.until}
      union all
      select (e.resolved_at at time zone ${timeZone})::date, e.type, s.carrier, 0, 1
      from exceptions e left join shipments s on s.id = e.shipment_id
      where e.resolved_at >= ${p.since} and e.resolved_at < ${p.until}
    )
    select to_char(day, 'YYYY-MM-DD') as day, type, carrier, sum(opened)::int as opened, sum(resolved)::int as resolved
    from ev
    where true ${opts.carrier ? sql`and carrier = ${opts.carrier}` : sql``} ${opts.type ? sql`and type = ${opts.type}` : sql``}
    group by day, type, carrier order by day, type, carrier nulls first`;
  return rows.map((r) => ({ day: r.day, type: r.type, carrier: r.carrier ?? null, opened: r.opened, resolved: r.resolved }));
}

/** What ops read first in the morning: open exceptions, late-shipment breaches and their penalty, overdue tasks, waiting chasers. */
export async function todaySummary(sql: SqlOrTx, now: Date) {
  const [open, breach, tasks, agents, chases] = await Promise.all([
    sql`select type, severity, count(*)::int as n from exceptions where status = 'open' group by type, severity order by type, severity`,
    sql`select count(*)::int as n, coalesce(sum(penalty_yuan), 0)::float8 as penalty
        from exceptions where status = 'open' and type = 'late_shipment' and severity = 'breach'`,
    sql`select count(*) filter (where status = 'open')::int as open, count(*) filter (where status = 'claimed')::int as claimed,
               count(*) filter (where due_by < ${now})::int as overdue
        from outreach_tasks where status in ('open', 'claimed')`,
    sql`select coalesce(agent, '') as agent, status, count(*)::int as n, count(*) filter (where status in ('open', 'claimed') and due_by < ${now})::int as overdue
        from outreach_tasks group by agent, status order by agent, status`,
    sql`select count(*)::int as active, count(distinct shipment_id)::int as parcels,
               (select count(*)::int from notifications where status = 'pending') as pending_messages
        from chases where status = 'active'`,
  ]);
  const byAgent = new Map<string, { agent: string | null; byStatus: Record<string, number>; overdue: number }>();
  for (const r of agents) {
    let a = byAgent.get(r.agent);
    if (!a) byAgent.set(r.agent, (a = { agent: r.agent || null, byStatus: {}, overdue: 0 }));
    a.byStatus[r.status] = r.n;
    a.overdue += r.overdue;
  }
  return {
    at: now.toISOString(),
    openExceptions: open.map((r) => ({ type: r.type as string, severity: r.severity as string, count: r.n as number })),
    openExceptionsTotal: open.reduce((a, r) => a + (r.n as number), 0),
    lateShipmentBreaches: { count: breach[0]!.n as number, penaltyYuan: Math.round(Number(breach[0]!.penalty) * 100) / 100 },
    outreach: { open: tasks[0]!.open as number, claimed: tasks[0]!.claimed as number, overdue: tasks[0]!.overdue as number, byAgent: [...byAgent.values()] },
    chasers: { active: chases[0]!.active as number, parcels: chases[0]!.parcels as number, pendingMessages: chases[0]!.pending_messages as number },
  };
}
