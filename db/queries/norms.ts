import type { Sql, SqlOrTx } from '../client.js';
import type { SubjectFacts } from '../../domain/facts.js';
import type { TransitNorm } from '../../domain/norms.js';

/** Routes whose norms a batch of new samples changed. */
interface Route {
  carrier: string;
  origin: string | null;
  destination: string | null;
}

/**
 * Turn up to `limit` parcels from transit_pending into transit samples, in one statement: the pending rows
 * are deleted (SKIP LOCKED, so two replicas take disjoint batches) and each parcel's route is read from its
 * own events by `parcelwatch_route`. Returns the distinct routes touched (a handful per batch, never the history).
 */
export async function sampleDelivered(sql: SqlOrTx, limit: number): Promise<{ taken: number; routes: Route[] }> {
  const rows = await sql`
    with taken as (
      delete from transit_pending p
      where p.shipment_id in (select shipment_id from transit_pending order by shipment_id limit ${limit} for update skip locked)
      returning p.shipment_id
    ), ins as (
      insert into transit_samples (shipment_id, carrier, origin, destination, collected_at, delivered_at, hours)
      select s.id, s.carrier, r.origin, r.destination, s.collected_at, s.delivered_at,
             extract(epoch from s.delivered_at - s.collected_at) / 3600.0
      from taken t
      join shipments s on s.id = t.shipment_id
      cross join lateral parcelwatch_route(s.id) r
      -- A parcel delivered without a collection scan, or signed before it was collected (clock skew between
      -- a carrier's outlets), says nothing about transit time.
      where s.collected_at is not null and s.delivered_at is not null and s.delivered_at >= s.collected_at
      on conflict (shipment_id) do update
        set carrier = excluded.carrier, origin = excluded.origin, destination = excluded.destination,
            collected_at = excluded.collected_at, delivered_at = excluded.delivered_at, hours = excluded.hours
      returning carrier, origin, destination
    )
    select (select count(*) from taken)::int as taken,
           coalesce((select jsonb_agg(distinct jsonb_build_object('carrier', carrier, 'origin', origin, 'destination', destination)) from ins), '[]'::jsonb) as routes`;
  return { taken: rows[0]!.taken as number, routes: rows[0]!.routes as Route[] };
}

/**
 * Recompute the learned norms of the given routes, their carriers and the global norm from the samples
 * delivered within the window: one percentile_cont per level, grouped in Postgres. A key whose samples all
 * left the window loses its learned row (deleted first), so a stale norm never outlives its evidence.
 */
export async function recomputeNorms(sql: Sql, routes: Route[], now: Date, windowDays: number): Promise<number> {
  if (routes.length === 0) return 0;
  const since = new Date(now.getTime() - windowDays * 86_400_000);
  const located = routes.filter((r) => r.origin !== null && r.destination !== null);
  const carriers = [...new Set(routes.map((r) => r.carrier))];
  const keys = {
    carrier: sql.array([...located.map((r) => r.carrier), ...carriers, '*']),
    origin: sql.array([...located.map((r) => r.origin!), ...carriers.map(() => '*'), '*']),
    destination: sql.array([...located.map((r) => r.destination!), ...carriers.map(() => '*'), '*']),
  };
  return sql.begin(async (tx) => {
    await tx`
      delete from transit_norms n using unnest(${keys.carrier}::text[], ${keys.origin}::text[], ${keys.destination}::text[]) as k(carrier, origin, destination)
      where n.source = 'learned' and n.carrier = k.carrier and n.origin = k.origin and n.destination = k.destination`;
    const rows = await tx`
      insert into transit_norms (source, carrier, origin, destination, p50_hours, p90_hours, samples, updated_at)
      select 'learned', g.carrier, g.origin, g.destination, g.p50, g.p90, g.n, ${now}::timestamptz
      from (
        select s.carrier, s.origin, s.destination,
               percentile_cont(0.5) within group (order by s.hours) as p50, percentile_cont(0.9) within group (order by s.hours) as p90, count(*)::int as n
        from transit_samples s
        join unnest(${sql.array(located.map((r) => r.carrier))}::text[], ${sql.array(located.map((r) => r.origin!))}::text[], ${sql.array(located.map((r) => r.destination!))}::text[])
          as k(carrier, origin, destination) on s.carrier = k.carrier and s.origin = k.origin and s.destination = k.destination
        where s.delivered_at >= ${since}
        group by s.carrier, s.origin, s.destination
        union all
        select s.carrier, '*', '*', percentile_cont(0.5) within group (order by s.hours), percentile_cont(0.9) within group (order by s.hours), count(*)::int
        from transit_samples s
        where s.carrier = any(${sql.array(carriers)}::text[]) and s.delivered_at >= ${since}
        group by s.carrier
        union all
        select '*', '*', '*', percentile_cont(0.5) within group (order by s.hours), percentile_cont(0.9) within group (order by s.hours), count(*)::int
        from transit_samples s
        where s.delivered_at >= ${since}
        having count(*) > 0
      ) g
      returning 1`;
    return rows.length;
  });
}

/** Postgres row → the norm as rules and scripts see it. */
export function normFromRow(r: Record<string, unknown>, prefix = 'norm_'): TransitNorm | null {
  if (r[`${prefix}level`] === null || r[`${prefix}level`] === undefined) return null;
  return {
    level: r[`${prefix}level`] as TransitNorm['level'],
    source: r[`${prefix}source`] as TransitNorm['source'],
    carrier: r[`${prefix}carrier`] as string,
    origin: r[`${prefix}origin`] as string,
    destination: r[`${prefix}destination`] as string,
    p50Hours: Number(r[`${prefix}p50_hours`]),
    p90Hours: Number(r[`${prefix}p90_hours`]),
    samples: Number(r[`${prefix}samples`]),
  };
}

/** The norm that applies to each shipment now (route → carrier → global), by shipment id. */
export async function normsForShipments(sql: SqlOrTx, shipmentIds: number[], minSamples: number): Promise<Map<number, TransitNorm>> {
  if (shipmentIds.length === 0) return new Map();
  const rows = await sql`
    select t.id, r.origin as route_origin, r.destination as route_destination,
           n.level as norm_level, n.source as norm_source, n.carrier as norm_carrier, n.origin as norm_origin,
           n.destination as norm_destination, n.p50_hours as norm_p50_hours, n.p90_hours as norm_p90_hours, n.samples as norm_samples
    from unnest(${sql.array(shipmentIds)}::bigint[]) as t(id)
    join shipments s on s.id = t.id
    cross join lateral parcelwatch_route(s.id) r
    cross join lateral parcelwatch_norm(s.carrier, r.origin, r.destination, ${minSamples}::int) n`;
  return new Map(rows.map((r) => [Number(r.id), { ...normFromRow(r)!, routeOrigin: r.route_origin, routeDestination: r.route_destination }]));
}

/** A seed norm row (CSV import): the figures of a TransitNorm, without where it was looked up. */
export type NormSeed = Pick<TransitNorm, 'carrier' | 'origin' | 'destination' | 'p50Hours' | 'p90Hours' | 'samples'>;

/** Upsert seed norms (idempotent: re-importing a file changes nothing). */
export async function upsertNormSeeds(sql: SqlOrTx, seeds: NormSeed[], now: Date): Promise<number> {
  if (seeds.length === 0) return 0;
  const rows = await sql`
    insert into transit_norms (source, carrier, origin, destination, p50_hours, p90_hours, samples, updated_at)
    select 'seed', t.carrier, t.origin, t.destination, t.p50, t.p90, t.n, ${now}::timestamptz
    from unnest(${sql.array(seeds.map((s) => s.carrier))}::text[], ${sql.array(seeds.map((s) => s.origin))}::text[],
                ${sql.array(seeds.map((s) => s.destination))}::text[], ${sql.array(seeds.map((s) => s.p50Hours))}::float8[],
                ${sql.array(seeds.map((s) => s.p90Hours))}::float8[], ${sql.array(seeds.map((s) => s.samples))}::int[])
      as t(carrier, origin, destination, p50, p90, n)
    on conflict (source, carrier, origin, destination) do update
      set p50_hours = excluded.p50_hours, p90_hours = excluded.p90_hours, samples = excluded.samples, updated_at = excluded.updated_at
      where (transit_norms.p50_hours, transit_norms.p90_hours, transit_norms.samples) is distinct from (excluded.p50_hours, excluded.p90_hours, excluded.samples)
    returning 1`;
  return rows.length;
}

/**
 * Give each collected, undelivered parcel of a detection batch its norm (one query per batch); route_overdue
 * reads it. Delivered or uncollected parcels get null: no transit-time rule looks at them.
 */
export async function attachTransitNorms(sql: SqlOrTx, facts: SubjectFacts[], minSamples: number): Promise<void> {
  const moving = facts.filter((f) => f.shipmentId !== null && f.collectedAt !== null && f.deliveredAt === null);
  const norms = await normsForShipments(sql, moving.map((f) => f.shipmentId!), minSamples);
  for (const f of facts) f.transitNorm = f.shipmentId === null ? null : (norms.get(f.shipmentId) ?? null);
}
