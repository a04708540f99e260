/**
 * Scenario 2, tracking ingestion: Kuaidi100 query.do bodies (real wire format, ~8 events each) through
 * loadShipmentsForPoll → JSON.parse → parseKuaidi100Reply → ingestResults (de-dup, idempotent event
 * upsert, fold, shipment update), 100 shipments per batch (the poll job's payload limit), vs the same
 * event rows through one raw INSERT … SELECT unnest(…) ON CONFLICT DO NOTHING per batch. Run fresh and as
 * a 100 % replay. Body generation and baseline row building happen outside the timed sections.
 */
import { parseKuaidi100Reply } from '../../carriers/kuaidi100/parse.js';
import { kuaidi100Status } from '../../carriers/kuaidi100/status-map.js';
import { loadShipmentsForPoll } from '../../db/queries/tracking.js';
import { eventKey } from '../../domain/event-key.js';
import { ingestResults, type IngestItem } from '../../ingest/tracking.js';
import type { Sql } from '../../db/client.js';
import { BENCH_NOW, kuaidi100Body, seedShipments, timeline } from '../generate.js';
import { freshTables, gc, median, rowsWrittenSince, withRss, xidMark, type BenchEnv } from '../context.js';
import { sidesOf, type ResultRow, type Scenario, type ScenarioContext } from '../types.js';

const BATCH = 100;
const trackingNo = (id: number) => 'T' + String(id).padStart(12, '0');

interface Pass {
  seconds: number;
  events: number;
  written: number;
  peakRssMb: number;
}

async function oursPass(env: BenchEnv, n: number): Promise<Pass> {
  let busy = 0;
  let events = 0;
  let written = 0;
  const { peakRssMb } = await withRss(async () => {
    for (let first = 1; first <= n; first += BATCH) {
      const ids: number[] = [];
      for (let id = first; id < Math.min(first + BATCH, n + 1); id++) ids.push(id);
      const bodies = new Map(ids.map((id) => [id, kuaidi100Body(id, trackingNo(id), 'zhongtong')]));
      const t0 = performance.now();
      const rows = await loadShipmentsForPoll(env.sql, ids);
      const items: IngestItem[] = rows.map((s) => ({
        shipment: s,
        result: parseKuaidi100Reply(JSON.parse(bodies.get(s.id)!), s.trackingNo, env.config.timezone, bodies.get(s.id)!),
      }));
      const summary = await ingestResults(env.deps, 'kuaidi100', items, BENCH_NOW);
      busy += performance.now() - t0;
      for (const it of items) if (it.result.kind === 'ok') events += new Set(it.result.events.map((e) => eventKey(e.occurredAt, e.text))).size;
      written += summary.newEvents;
    }
  });
  return { seconds: busy / 1000, events, written, peakRssMb };
}

function baselineRows(ids: number[]) {
  const cols = {
    shipmentId: [] as number[],
    key: [] as string[],
    at: [] as string[],
    status: [] as string[],
    hub: [] as string[],
    location: [] as string[],
    text: [] as string[],
    provider: [] as string[],
    code: [] as string[],
    raw: [] as string[],
  };
  for (const id of ids) {
    for (const e of timeline(id)) {
      cols.shipmentId.push(id);
      cols.key.push(eventKey(e.at, e.context));
      cols.at.push(e.at.toISOString());
      cols.status.push(kuaidi100Status(e.statusCode) ?? 'unknown');
      cols.hub.push(/【([^】]+)】/.exec(e.context)?.[1] ?? '');
      cols.location.push(e.location);
      cols.text.push(e.context);
      cols.provider.push('kuaidi100');
      cols.code.push(e.statusCode);
      cols.raw.push(JSON.stringify({ ftime: e.at.toISOString(), context: e.context, location: e.location, statusCode: e.statusCode }));
    }
  }
  return cols;
}

async function baselinePass(raw: Sql, n: number): Promise<Pass> {
  let busy = 0;
  let events = 0;
  let written = 0;
  for (let first = 1; first <= n; first += BATCH) {
    const ids: number[] = [];
    for (let id = first; id < Math.min(first + BATCH, n + 1); id++) ids.push(id);
    const c = baselineRows(ids);
    events += c.shipmentId.length;
    const t0 = performance.now();
    const r = await raw`
      insert into tracking_events (shipment_id, event_key, occurred_at, status, hub, location, text, provider, provider_code, raw, seen_at)
      select t.*, ${BENCH_NOW}::timestamptz
      from unnest(${raw.array(c.shipmentId)}::bigint[], ${raw.array(c.key)}::text[], ${raw.array(c.at)}::timestamptz[],
                  ${raw.array(c.status)}::text[], ${raw.array(c.hub)}::text[], ${raw.array(c.location)}::text[],
                  ${raw.array(c.text)}::text[], ${raw.array(c.provider)}::text[], ${raw.array(c.code)}::text[], ${raw.array(c.raw)}::jsonb[]) as t
      on conflict (shipment_id, event_key) do nothing`;
    busy += performance.now() - t0;
    written += r.count;
  }
  return { seconds: busy / 1000, events, written, peakRssMb: 0 };
}

export const ingestScenario: Scenario = {
  id: 'ingest',
  title: '2 tracking ingestion',
  async run({ env, shipments: n, another }: ScenarioContext): Promise<ResultRow[]> {
    const o = { fresh: [] as Pass[], replay: [] as Pass[] };
    const b = { fresh: [] as Pass[], replay: [] as Pass[] };
    const replayRowsWritten: number[] = [];
    for (let rep = 0; another(rep); rep++) {
      for (const side of sidesOf(rep)) {
        await freshTables(env.sql);
        await seedShipments(env.sql, n, 'fresh');
        gc();
        if (side === 'ours') {
          o.fresh.push(await oursPass(env, n));
          const mark = await xidMark(env.sql);
          const replay = await oursPass(env, n);
          o.replay.push(replay);
          replayRowsWritten.push(await rowsWrittenSince(env.sql, mark, ['tracking_events']));
        } else {
          b.fresh.push(await baselinePass(env.raw, n));
          b.replay.push(await baselinePass(env.raw, n));
        }
      }
    }
    const row = (label: string, ours: Pass[], base: Pass[], facts: Record<string, number[]>): ResultRow => {
      const events = ours[0]!.events;
      const s = median(ours.map((p) => p.seconds));
      const bs = median(base.map((p) => p.seconds));
      const ratio = events / s / (base[0]!.events / bs);
      return {
        scenario: '2',
        label,
        unit: 'events',
        measured: true,
        items: events,
        seconds: s,
        itemsPerSec: events / s,
        baseline: 'INSERT…unnest ON CONFLICT DO NOTHING',
        baselineSeconds: bs,
        baselineItemsPerSec: base[0]!.events / bs,
        ratio,
        peakRssMb: Math.max(...ours.map((p) => p.peakRssMb)),
        shipmentsPerSec: n / s,
        target: label.includes('replay') ? '>= 50 % of raw; writes 0 event rows' : '>= 50 % of raw',
        met: ratio >= 0.5 && (!label.includes('replay') || facts.eventRowsWritten!.every((x) => x === 0)),
        facts,
        runs: { ours: ours.map((p) => p.seconds), baseline: base.map((p) => p.seconds) },
      };
    };
    return [
      row('tracking ingestion (fresh)', o.fresh, b.fresh, {
        eventRowsWritten: o.fresh.map((p) => p.written),
        baselineRowsWritten: b.fresh.map((p) => p.written),
      }),
      row('tracking ingestion (100 % replay)', o.replay, b.replay, {
        eventRowsWritten: o.replay.map((p) => p.written),
        eventRowsWrittenByXmin: replayRowsWritten,
        baselineRowsWritten: b.replay.map((p) => p.written),
      }),
    ];
  },
};
