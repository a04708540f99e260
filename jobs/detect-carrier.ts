import { z } from 'zod';
import { ProviderError, type TrackingProvider } from '../carriers/carrier.js';
import { carrierFromProviderCode, normalizeCarrier } from '../carriers/carrier-codes.js';
import type { Config } from '../config/schema.js';
import { raiseAlert } from '../db/queries/tracking.js';
import { MINUTE_MS } from '../domain/clock.js';
import { defineJob, type Deps } from './define-job.js';

type Detector = Config['providers']['detection']['order'][number];

/** Where an alert about one parcel's unknown carrier is kept (one open alert per parcel). */
export const carrierAlertKey = (shipmentId: number) => `carrier-unknown:${shipmentId}`;

/** The enabled providers that can detect carriers, in the configured order. */
export function carrierDetectors(config: Config, providers: Deps['providers']): { name: Detector; provider: TrackingProvider }[] {
  return config.providers.detection.order.flatMap((name) => {
    const provider = providers.get(name);
    return provider?.detectCarrier ? [{ name, provider }] : [];
  });
}

/**
 * A parcel whose order named no carrier of our table (or none): ask the providers' detection APIs which
 * carrier the number belongs to, store the detected canonical code (the given text moves to carrier_given)
 * and make it due, so the next plan-polls run polls it like any other. A number no provider recognises
 * raises an ops alert (one per parcel) and is asked about again after detection.retryMinutes.
 *
 * The planner hands these parcels here instead of to a poll job (jobs/plan-polls.ts). No transaction is held
 * across the provider calls; the writes at the end are one statement each and only touch parcels whose
 * carrier is still the text we asked about, so a replay or a second worker changes nothing.
 */
export const detectCarrier = defineJob({
  name: 'detect-carrier',
  // Always enqueued onto the first detector's poll queue (its rate limit applies), like poll-tracking.
  queue: 'tracking',
  payload: z.object({ shipmentIds: z.array(z.number().int().positive()).min(1).max(100) }),
  attempts: () => 5,
  async handle({ shipmentIds }, deps, ctx) {
    const { sql, clock, config, metrics } = deps;
    const now = clock.now();
    const rows = await sql<{ id: string; carrier: string; tracking_no: string; external_id: string }[]>`
      select s.id, s.carrier, s.tracking_no, o.external_id
      from shipments s join orders o on o.id = s.order_id
      where s.id = any(${sql.array(shipmentIds)}::bigint[])
      order by s.id`;
    const detectors = carrierDetectors(config, deps.providers);
    const pctx = { clock, log: ctx.log, timeZone: config.timezone, ...(ctx.signal ? { signal: ctx.signal } : {}) };
    const found: { id: number; given: string; code: string; by: Detector }[] = [];
    const unrecognised: { id: number; given: string; trackingNo: string; orderId: string }[] = [];
    const retry: number[] = [];
    for (const r of rows) {
      if (normalizeCarrier(r.carrier)) continue; // detected meanwhile (replay, second worker)
      const id = Number(r.id);
      let hit: { code: string; by: Detector } | null = null;
      let failed = false;
      for (const d of detectors) {
        try {
          const codes = await d.provider.detectCarrier!(r.tracking_no, pctx);
          metrics.providerRequests.inc({ provider: d.name, result: 'ok' });
          // The provider's most likely candidate that our table knows; an unknown provider code is no answer.
          const code = codes.map((c) => carrierFromProviderCode(d.name, c)).find((c) => c !== null);
          if (code) {
            hit = { code, by: d.name };
            break;
          }
        } catch (err) {
          if (!(err instanceof ProviderError)) throw err;
          if (err.opts.stopped) throw err; // the daemon is stopping: no further call; the job is retried
          // One provider down or refusing must not keep the others from answering.
          metrics.providerRequests.inc({ provider: d.name, result: err.opts.notSent ? 'not_sent' : err.kind });
          if (err.kind === 'auth' || err.kind === 'quota') await raiseAlert(sql, `${err.kind}:${d.name}`, err.message, now);
          ctx.log.warn({ provider: d.name, err: { message: err.message, kind: err.kind }, shipmentId: id }, 'carrier detection call failed');
          failed = true;
        }
      }
      if (hit) found.push({ id, given: r.carrier, ...hit });
      // Nobody said "not recognised" with certainty when a call failed: ask again soon rather than alert.
      else if (failed) retry.push(id);
      else unrecognised.push({ id, given: r.carrier, trackingNo: r.tracking_no, orderId: r.external_id });
    }

    const stored = await storeDetected(deps, found, now);
    for (const f of found) metrics.carrierDetections.inc({ provider: f.by, result: stored.has(f.id) ? 'detected' : 'duplicate' });
    // The same parcel already tracked under the detected carrier (another order row named it right): stop
    // polling this copy and say so, rather than poll one number twice.
    for (const f of found.filter((x) => !stored.has(x.id))) {
      await raiseAlert(sql, carrierAlertKey(f.id), `shipment ${f.id}: tracking number is already tracked under carrier ${f.code} (detected by ${f.by}); this copy is not polled`, now);
    }
    const dupIds = found.filter((x) => !stored.has(x.id)).map((x) => x.id);
    if (dupIds.length) await sql`update shipment_schedule set next_poll_at = null where shipment_id = any(${sql.array(dupIds)}::bigint[])`;

    const asked = detectors.map((d) => d.name).join(', ') || 'no provider with carrier detection is enabled';
    for (const u of unrecognised) {
      metrics.carrierDetections.inc({ provider: 'none', result: 'unrecognised' });
      const given = u.given ? `"${u.given}"` : 'none';
      await raiseAlert(sql, carrierAlertKey(u.id), `order ${u.orderId}, tracking number ${u.trackingNo} (carrier given: ${given}): no provider recognises the carrier (asked: ${asked})`, now);
    }
    await reschedule(deps, unrecognised.map((u) => u.id), new Date(now.getTime() + config.providers.detection.retryMinutes * MINUTE_MS));
    await reschedule(deps, retry, new Date(now.getTime() + config.polling.errorBackoffMinutes * MINUTE_MS));
    return { summary: { asked: found.length + unrecognised.length + retry.length, detected: stored.size, duplicates: dupIds.length, unrecognised: unrecognised.length, retry: retry.length } };
  },
});

/**
 * One statement: the detected code replaces the given text (kept in carrier_given), the parcel is due for its
 * first poll now, and its unknown-carrier alert is resolved. A parcel whose carrier changed meanwhile, or whose
 * number is already tracked under the detected code (unique carrier + tracking number), is left alone.
 */
async function storeDetected(deps: Pick<Deps, 'sql'>, found: { id: number; given: string; code: string; by: string }[], now: Date): Promise<Set<number>> {
  if (found.length === 0) return new Set();
  const { sql } = deps;
  const rows = await sql<{ id: string }[]>`
    with u as (
      select * from unnest(${sql.array(found.map((f) => f.id))}::bigint[], ${sql.array(found.map((f) => f.given))}::text[],
                           ${sql.array(found.map((f) => f.code))}::text[], ${sql.array(found.map((f) => f.by))}::text[])
        as u(id, given, code, by_provider)
    ), moved as (
      update shipments s set carrier = u.code, carrier_given = coalesce(s.carrier_given, u.given),
        carrier_detected_by = u.by_provider, carrier_detected_at = ${now}, updated_at = ${now}
      from u
      where s.id = u.id and s.carrier = u.given
        and not exists (select 1 from shipments x where x.carrier = u.code and x.tracking_no = s.tracking_no)
      returning s.id
    ), due as (
      update shipment_schedule c set next_poll_at = ${now} from moved where c.shipment_id = moved.id returning c.shipment_id
    ), resolved as (
      update alerts a set resolved_at = ${now} from moved
      where a.key = 'carrier-unknown:' || moved.id and a.resolved_at is null returning a.id
    )
    select id from moved`;
  return new Set(rows.map((r) => Number(r.id)));
}

async function reschedule(deps: Pick<Deps, 'sql'>, ids: number[], at: Date): Promise<void> {
  if (ids.length === 0) return;
  await deps.sql`update shipment_schedule set next_poll_at = ${at} where shipment_id = any(${deps.sql.array(ids)}::bigint[])`;
}
