/**
 * Deterministic data for the benchmark: the same seed and size give byte-identical order books,
 * provider replies and shipment states on every run and machine.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { CSV_COLUMNS } from '../ingest/import-orders.js';
import type { Sql } from '../db/client.js';

/** The benchmark's fixed "now" (Double-11 week); every generated instant is relative to it. */
export const BENCH_NOW = new Date('2026-11-14T04:00:00.000Z');
const HOUR = 3_600_000;

/** mulberry32: tiny, fast, deterministic. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CARRIERS = ['ZTO', 'YTO', 'STO', 'YD', 'JTSD', 'EMS', 'JD'] as const;
const PLATFORMS = ['taobao', 'tmall', 'jd', 'pdd'] as const;
const CITIES = ['苏州市', '上海市', '杭州市', '广州市', '深圳市', '北京市', '成都市', '武汉市', '南京市', '郑州市'];
const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '赵', '黄', '周', '吴'];

/** One CSV row (one parcel) of order `o`. Orders with index % 10 === 3 carry two parcels. */
export interface GenRow {
  orderId: string;
  platform: string;
  type: string;
  paidAt: Date;
  promisedShipBy: Date | null;
  amount: string;
  currency: string;
  customerName: string;
  customerPhone: string;
  customerHandle: string;
  carrier: string;
  trackingNo: string;
  markedShippedAt: Date | null;
  /** 1-based order ordinal (the id a fresh table gives it). */
  orderNo: number;
}

/** Exactly `shipments` parcel rows; ~9 % of orders have two parcels. */
export function* orderRows(shipments: number, seed = 11): Generator<GenRow> {
  const r = rng(seed);
  let emitted = 0;
  let orderNo = 0;
  while (emitted < shipments) {
    orderNo++;
    const parcels = orderNo % 11 === 3 && emitted + 2 <= shipments ? 2 : 1;
    const platform = PLATFORMS[Math.floor(r() * PLATFORMS.length)]!;
    const paidAt = new Date(BENCH_NOW.getTime() - Math.floor(r() * 96 * HOUR));
    const presale = r() < 0.03;
    const name = SURNAMES[Math.floor(r() * SURNAMES.length)]! + '先生';
    const phone = `13${String(Math.floor(r() * 1e9)).padStart(9, '0')}`;
    const amount = (Math.floor(r() * 50000) / 100).toFixed(2);
    for (let p = 0; p < parcels; p++) {
      emitted++;
      const carrier = CARRIERS[Math.floor(r() * CARRIERS.length)]!;
      yield {
        orderId: `B${String(orderNo).padStart(9, '0')}`,
        platform,
        type: presale ? 'presale' : 'normal',
        paidAt,
        promisedShipBy: presale ? new Date(paidAt.getTime() + 10 * 24 * HOUR) : null,
        amount,
        currency: 'CNY',
        customerName: name,
        customerPhone: phone,
        customerHandle: `tb_${orderNo}`,
        carrier,
        trackingNo: `${carrier}${String(emitted).padStart(12, '0')}`,
        markedShippedAt: r() < 0.8 ? new Date(paidAt.getTime() + Math.floor(r() * 24 * HOUR)) : null,
        orderNo,
      };
    }
  }
}

const iso = (d: Date | null) => (d ? d.toISOString() : '');

/** Write the order book as the import CSV (CSV_COLUMNS header); returns the number of parcel rows. */
export async function writeOrdersCsv(file: string, shipments: number, seed = 11): Promise<number> {
  const out = createWriteStream(file, { encoding: 'utf8' });
  let buf = CSV_COLUMNS.join(',') + '\n';
  let n = 0;
  for (const row of orderRows(shipments, seed)) {
    n++;
    buf +=
      [
        row.orderId,
        row.platform,
        row.type,
        iso(row.paidAt),
        iso(row.promisedShipBy),
        row.amount,
        row.currency,
        row.customerName,
        row.customerPhone,
        row.customerHandle,
        row.carrier,
        row.trackingNo,
        iso(row.markedShippedAt),
      ].join(',') + '\n';
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.write(buf);
  out.end();
  await once(out, 'finish');
  return n;
}

/** Shanghai wall-clock "YYYY-MM-DD HH:mm:ss", as Kuaidi100 sends it (no offset). */
function shanghai(d: Date): string {
  return new Date(d.getTime() + 8 * HOUR).toISOString().slice(0, 19).replace('T', ' ');
}

export interface GenEvent {
  at: Date;
  context: string;
  statusCode: string;
  location: string;
}

/** A parcel's timeline (~8 events, 6–10), deterministic per shipment ordinal. */
export function timeline(i: number, seed = 7): GenEvent[] {
  const r = rng(seed * 1_000_003 + i);
  const n = 6 + Math.floor(r() * 5);
  const from = CITIES[Math.floor(r() * CITIES.length)]!;
  const to = CITIES[Math.floor(r() * CITIES.length)]!;
  let t = BENCH_NOW.getTime() - (48 + Math.floor(r() * 48)) * HOUR;
  const events: GenEvent[] = [];
  for (let k = 0; k < n; k++) {
    t += Math.floor((1 + r() * 5) * HOUR);
    let context: string;
    let statusCode: string;
    let city = k < n / 2 ? from : to;
    if (k === 0) {
      context = `【${from}】快件已被 ${from.slice(0, 2)}${i % 97}号网点 揽收`;
      statusCode = '103';
    } else if (k === n - 1 && i % 3 === 0) {
      context = `【${to}】快件已签收，签收人：本人，如有疑问请联系派件员`;
      statusCode = '301';
    } else if (k === n - 1 || k === n - 2) {
      context = `【${to}】快件正在派送中，派件员：${SURNAMES[i % 10]}师傅 电话：1390000${String(i % 10000).padStart(4, '0')}`;
      statusCode = '5';
    } else if (k % 2 === 1) {
      context = `快件已到达【${city.slice(0, 2)}转运中心】`;
      statusCode = '1001';
    } else {
      context = `快件离开【${city.slice(0, 2)}转运中心】，正在发往【${to.slice(0, 2)}转运中心】`;
      statusCode = '1002';
      city = from;
    }
    events.push({ at: new Date(t), context, statusCode, location: `省,${city}` });
  }
  return events;
}

/**
 * Kuaidi100 `poll/query.do` success body (resultv2=4), newest first, exactly as the API sends it.
 * Every tenth reply repeats one line (providers do that) to exercise in-batch de-duplication.
 */
export function kuaidi100Body(i: number, trackingNo: string, com: string): string {
  const ev = timeline(i);
  const data = ev
    .map((e) => ({ time: shanghai(e.at), ftime: shanghai(e.at), context: e.context, location: e.location, areaName: e.location, status: '在途', statusCode: e.statusCode }))
    .reverse();
  if (i % 10 === 0) data.splice(1, 0, { ...data[1]! });
  const newest = ev[ev.length - 1]!;
  return JSON.stringify({
    message: 'ok',
    nu: trackingNo,
    ischeck: newest.statusCode === '301' ? '1' : '0',
    com,
    status: '200',
    condition: 'F00',
    state: newest.statusCode === '301' ? '3' : '5',
    data,
  });
}

/**
 * N orders and N shipments straight in SQL (generate_series): the starting book of scenarios that are
 * not about import. `mode` chooses the shipment states:
 * - 'fresh': just imported, nothing polled yet (next poll in the past, status pending);
 * - 'detect': a live mix relative to BENCH_NOW with ~10 % exceptional (see below).
 */
export async function seedShipments(sql: Sql, n: number, mode: 'fresh' | 'detect'): Promise<void> {
  const now = BENCH_NOW.toISOString();
  await sql`
    insert into orders (id, platform, external_id, type, paid_at, amount, currency, customer_name, customer_phone, customer_handle, next_check_at)
    select g, (array['taobao','tmall','jd','pdd'])[1 + g % 4], 'B' || lpad(g::text, 9, '0'), 'normal',
           ${now}::timestamptz - make_interval(hours => case g % 20 when 10 then 80 when 0 then 70 else 30 + g % 15 end),
           (g % 500) + 0.5, 'CNY', '王先生', '13' || lpad((g::bigint * 7919 % 1000000000)::text, 9, '0'), 'tb_' || g,
           null::timestamptz -- every order arrives with its parcel: no order-level check (as the importer does)
    from generate_series(1, ${n}::int) g`;
  await sql`select setval('orders_id_seq', ${n}::bigint)`;
  if (mode === 'fresh') {
    await sql`
      insert into shipments (id, order_id, carrier, tracking_no, marked_shipped_at)
      select g, g, (array['ZTO','YTO','STO','YD','JTSD','EMS','JD'])[1 + g % 7], 'T' || lpad(g::text, 12, '0'),
             ${now}::timestamptz - interval '20 hours'
      from generate_series(1, ${n}::int) g`;
    // The trigger made every parcel due at once; spread their first polls over the last hour.
    await sql`update shipment_schedule set next_poll_at = ${now}::timestamptz - make_interval(mins => (shipment_id % 60)::int)`;
  } else {
    // g % 20 = 0: in transit, last event 50 h ago (tracking_stalled); g % 20 = 10: paid 80 h ago, marked shipped
    // 30 h ago, never scanned (late_shipment + fake_shipment_risk); g % 3 = 1: delivered; others in transit or
    // just collected, recently scanned: nothing to report.
    await sql`
      insert into shipments (id, order_id, carrier, tracking_no, marked_shipped_at, collected_at, delivered_at,
                             last_event_at, last_event_text, last_hub, status, status_since)
      select g, g, (array['ZTO','YTO','STO','YD','JTSD','EMS','JD'])[1 + g % 7], 'T' || lpad(g::text, 12, '0'),
             n - interval '30 hours',
             case when k = 10 then null when k = 0 then n - interval '60 hours' else n - interval '20 hours' end,
             case when k not in (0, 10) and g % 3 = 1 then n - interval '2 hours' end,
             case when k = 10 then null when k = 0 then n - interval '50 hours' else n - interval '2 hours' end,
             case when k = 10 then null else '快件离开【苏州转运中心】，正在发往【上海转运中心】' end,
             case when k = 10 then null else '苏州转运中心' end,
             case when k = 10 then 'pending' when k = 0 then 'in_transit' when g % 3 = 1 then 'delivered' when g % 3 = 2 then 'in_transit' else 'collected' end,
             case when k = 10 then null when k = 0 then n - interval '50 hours' else n - interval '2 hours' end
      from generate_series(1, ${n}::int) g, lateral (select g % 20 as k, ${now}::timestamptz as n) x`;
    // All due for judgement (the trigger's epoch); polled a moment ago, next poll in an hour.
    await sql`update shipment_schedule set next_poll_at = ${now}::timestamptz + interval '1 hour'`;
  }
  await sql`select setval('shipments_id_seq', ${n}::bigint)`;
  await sql`analyze orders`;
  await sql`analyze shipments`;
  // The schedule update above left a dead row per parcel; outside a transaction, clear them so the sweeps
  // start on a table shaped like the importer's.
  if ('savepoint' in sql) await sql`analyze shipment_schedule`;
  else await sql`vacuum analyze shipment_schedule`;
}
