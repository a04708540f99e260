import type { Status } from '../../domain/status.js';
import { zoneOffsetMs } from '../../domain/local-time.js';
import type { NormalizedEvent } from '../carrier.js';
import { extractHub } from '../hub.js';
import { statusFromText } from '../status-rules.js';

/**
 * Pure, deterministic carrier simulation (no clock, no I/O). {@link planJourney} draws a parcel's
 * whole journey — past and future — from a PRNG seeded by (seed, tracking number); {@link simulate}
 * reveals the events that happened by `now`. Because the plan never depends on `now`, a later `now`
 * always returns a superset of an earlier answer.
 */

export interface SandboxRates {
  lateCollection: number;
  neverCollected: number;
  stall: number;
  problem: number;
  lockerUncollected: number;
}

export interface SimInput {
  seed: number;
  rates: SandboxRates;
  carrier: string;
  trackingNo: string;
  paidAt?: Date | null;
  markedShippedAt?: Date | null;
  /** Business time zone: couriers deliver in local daytime. */
  timeZone: string;
}

export type CollectionPlan = 'normal' | 'late' | 'never';
export type Ending = 'signed' | 'locker_picked' | 'locker_uncollected' | 'stall' | 'problem';
export type ProblemKind = 'issue_resolved' | 'lost' | 'rejected_returned' | 'failed_then_signed';

export type Step =
  | 'INFO'
  | 'COLLECT'
  | 'HUB_ARRIVE'
  | 'HUB_LEAVE'
  | 'STATION_ARRIVE'
  | 'OUT_FOR_DELIVERY'
  | 'SIGNED'
  | 'LOCKER'
  | 'LOCKER_PICKED'
  | 'ISSUE'
  | 'LOST'
  | 'FAILED_ATTEMPT'
  | 'REJECTED'
  | 'RETURNING'
  | 'RETURNED';

export interface PlannedEvent {
  at: Date;
  step: Step;
  /** What the text is meant to say; statusFromText(text) must agree (tested). */
  intended: Status;
  /** The hub extractHub(text, location) must find (tested). */
  intendedHub: string | null;
  text: string;
  location: string | null;
}

export interface Journey {
  trackingNo: string;
  collection: CollectionPlan;
  ending: Ending;
  problemKind: ProblemKind | null;
  /** Origin city → destination city, hub names in order. */
  route: string[];
  /** The whole journey, oldest first, including events still in the future. */
  events: PlannedEvent[];
}

export type SimResult =
  | { kind: 'ok'; events: NormalizedEvent[]; journey: Journey }
  | { kind: 'not_found'; message: string };

// ---------------------------------------------------------------------------------------------
// Seeded PRNG

/** cyrb53-style 32-bit string hash. */
export function hashString(s: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h1 ^ h2) >>> 0;
}

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  between(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  int(lo: number, hiInclusive: number): number {
    return lo + Math.floor(this.next() * (hiInclusive - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
}

// ---------------------------------------------------------------------------------------------
// Geography

interface City {
  city: string;
  hub: string;
  /** Delivery / collection outlets (营业部). */
  stations: readonly string[];
  /** Parcel stations near the outlets. */
  pickup: readonly string[];
}

export const CITIES: readonly City[] = [
  { city: '杭州市', hub: '杭州转运中心', stations: ['浙江省杭州市余杭区仓前营业部', '浙江省杭州市西湖区文三路营业部'], pickup: ['文三路学院路菜鸟驿站', '仓前梦想小镇菜鸟驿站'] },
  { city: '广州市', hub: '广州白云转运中心', stations: ['广东省广州市白云区嘉禾营业部', '广东省广州市天河区珠江新城营业部'], pickup: ['珠江新城花城汇菜鸟驿站'] },
  { city: '上海市', hub: '上海浦东分拨中心', stations: ['上海市浦东新区张江营业部', '上海市闵行区莘庄营业部'], pickup: ['张江家园菜鸟驿站', '莘庄春申菜鸟驿站'] },
  { city: '武汉市', hub: '武汉转运中心', stations: ['湖北省武汉市洪山区光谷营业部'], pickup: ['光谷步行街菜鸟驿站'] },
  { city: '成都市', hub: '成都双流集散中心', stations: ['四川省成都市高新区天府营业部', '四川省成都市锦江区春熙路营业部'], pickup: ['天府三街菜鸟驿站'] },
  { city: '北京市', hub: '北京顺义分拨中心', stations: ['北京市朝阳区望京营业部', '北京市海淀区中关村营业部'], pickup: ['望京西园菜鸟驿站'] },
  { city: '苏州市', hub: '苏州转运中心', stations: ['江苏省苏州市相城区北桥营业部'], pickup: ['北桥新村菜鸟驿站'] },
  { city: '深圳市', hub: '深圳集散中心', stations: ['广东省深圳市南山区科技园营业部'], pickup: ['科技园南区菜鸟驿站'] },
  { city: '郑州市', hub: '郑州航空港分拨中心', stations: ['河南省郑州市金水区花园路营业部'], pickup: ['花园路菜鸟驿站'] },
  { city: '西安市', hub: '西安转运中心', stations: ['陕西省西安市雁塔区小寨营业部'], pickup: ['小寨东路菜鸟驿站'] },
  { city: '金华市', hub: '金华义乌转运中心', stations: ['浙江省金华市义乌市稠城营业部'], pickup: ['稠城宾王菜鸟驿站'] },
  { city: '南京市', hub: '南京转运中心', stations: ['江苏省南京市江宁区东山营业部'], pickup: ['东山街道菜鸟驿站'] },
  { city: '长沙市', hub: '长沙黄花分拨中心', stations: ['湖南省长沙市岳麓区麓谷营业部'], pickup: ['麓谷小镇菜鸟驿站'] },
];

/** Where shops ship from (warehouses cluster in the east and south). */
const ORIGIN_CITIES = ['杭州市', '广州市', '金华市', '苏州市', '深圳市', '上海市'];
const COURIERS = ['张三', '李四', '王强', '刘洋', '陈静', '赵磊', '孙涛', '周敏'];
const LOCKER = '丰巢智能柜';

// ---------------------------------------------------------------------------------------------
// Texts in the styles of real carriers

type Style = 'zto' | 'yto' | 'sto';

function styleOf(carrier: string): Style {
  const c = carrier.toUpperCase();
  if (c === 'STO' || c === 'SHENTONG') return 'sto';
  if (c === 'YTO' || c === 'YUANTONG') return 'yto';
  return 'zto';
}

const TEXTS = {
  info: () => '商家已下单，等待快递员揽收',
  collect: (s: Style, station: string, courier: string) =>
    s === 'sto' ? `${station}-${courier}-已收件` : s === 'yto' ? `【${station}】 已揽收` : `【${station}】的收件员 ${courier} 已揽件`,
  arrive: (s: Style, hub: string) => (s === 'sto' ? `已到达-${hub}` : s === 'yto' ? `【${hub}】 已收入` : `快件已到达【${hub}】`),
  leave: (s: Style, hub: string, next: string) =>
    s === 'sto' ? `${hub}-已装袋发往-${next}` : s === 'yto' ? `【${hub}】 已发出 下一站 【${next}】` : `快件离开【${hub}】已发往【${next}】`,
  outForDelivery: (s: Style, station: string, courier: string) =>
    s === 'sto' ? `${station}-${courier}-派件中` : `【${station}】快递员 ${courier} 正在派件`,
  signed: (proxy: boolean) => (proxy ? '已签收，签收人：前台代签收' : '已签收，签收人：本人'),
  locker: () => `快件已放入${LOCKER}，请凭取件码取件`,
  station: (name: string) => `快件已暂存至${name}，请凭取件码及时取件`,
  lockerPicked: () => `快件已从${LOCKER}取出，已签收`,
  stationPicked: () => '已签收，签收人凭取货码签收。',
  issue: (hub: string) => `【${hub}】问题件：面单破损，正在核实处理`,
  lost: (hub: string) => `【${hub}】快件丢失，已登记理赔`,
  failed: (station: string) => `【${station}】派送不成功，收件人电话无法联系，明日再次派送`,
  rejected: (station: string) => `【${station}】收件人拒签，原因：不想要了`,
  returning: (from: string, to: string) => `【${from}】快件退回中，已发往【${to}】`,
  returned: (station: string) => `【${station}】退件已签收，已退回寄件人`,
};

// ---------------------------------------------------------------------------------------------
// Planning

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Numbers the sandbox treats as unknown to the carrier. */
export function looksUnknown(trackingNo: string): boolean {
  return /^NOTFOUND/i.test(trackingNo) || !/^[A-Za-z0-9-]{6,32}$/.test(trackingNo);
}

/** `ms` moved into local daytime (08:00–19:00 in `timeZone`), with a little jitter when moved. */
function intoDaytime(ms: number, timeZone: string, jitter: number): number {
  const off = zoneOffsetMs(timeZone, ms);
  const local = ms + off;
  const sinceMidnight = ((local % DAY) + DAY) % DAY;
  const hour = sinceMidnight / HOUR;
  if (hour >= 8 && hour < 19) return ms;
  const midnight = local - sinceMidnight;
  const target = (hour < 8 ? midnight : midnight + DAY) + 8 * HOUR + jitter * 1.5 * HOUR;
  return target - off;
}

const sec = (ms: number) => new Date(Math.round(ms / 1000) * 1000);

/**
 * The whole journey of one parcel, or null when the number looks unknown or there is no time to
 * anchor it (neither paidAt nor markedShippedAt).
 */
export function planJourney(input: SimInput): Journey | null {
  if (looksUnknown(input.trackingNo)) return null;
  const anchor = input.paidAt ?? input.markedShippedAt;
  if (!anchor) return null;
  const rng = new Rng(hashString(`${input.seed}|${input.trackingNo}`));
  const { rates } = input;
  const style = styleOf(input.carrier);

  // Outcome draws first, in a fixed order, so the rates do not depend on the route.
  const u = rng.float();
  const collection: CollectionPlan =
    u < rates.neverCollected ? 'never' : u < rates.neverCollected + rates.lateCollection ? 'late' : 'normal';
  const v = rng.float();
  let ending: Ending;
  if (v < rates.stall) ending = 'stall';
  else if (v < rates.stall + rates.problem) ending = 'problem';
  else if (v < rates.stall + rates.problem + rates.lockerUncollected) ending = 'locker_uncollected';
  else ending = rng.float() < 0.3 ? 'locker_picked' : 'signed';
  const problemKind: ProblemKind | null =
    ending === 'problem' ? rng.pick(['issue_resolved', 'lost', 'rejected_returned', 'failed_then_signed'] as const) : null;

  // Route: origin city, 0–2 intermediate hubs, destination city (2–4 hubs in all).
  const originCity = rng.pick(ORIGIN_CITIES);
  const origin = CITIES.find((c) => c.city === originCity)!;
  const others = CITIES.filter((c) => c !== origin);
  const dest = rng.pick(others);
  const middlePool = others.filter((c) => c !== dest);
  const middle: City[] = [];
  const middleCount = rng.int(0, 2);
  while (middle.length < middleCount) {
    const c = rng.pick(middlePool);
    if (!middle.includes(c)) middle.push(c);
  }
  const hubs = [origin, ...middle, dest].map((c) => c.hub);
  const originStation = rng.pick(origin.stations);
  const destStation = rng.pick(dest.stations);
  const pickupStation = rng.pick(dest.pickup);
  const collector = rng.pick(COURIERS);
  const courier = rng.pick(COURIERS);

  const events: PlannedEvent[] = [];
  const add = (ms: number, step: Step, intended: Status, text: string, location: string | null, intendedHub: string | null) =>
    events.push({ at: sec(ms), step, intended, intendedHub, text, location });

  // Collection time (hours after payment) and pre-advice.
  const collectH = collection === 'normal' ? rng.between(2, 30) : rng.between(48, 90);
  const collectedAt = collection === 'never' ? null : anchor.getTime() + collectH * HOUR;
  // Both drawn unconditionally, so setting markedShippedAt later moves only the pre-advice event.
  const infoDelay = rng.between(1, 6);
  const infoLead = rng.between(0.2, 1);
  let infoAt = input.markedShippedAt ? input.markedShippedAt.getTime() : anchor.getTime() + infoDelay * HOUR;
  if (collectedAt !== null && infoAt >= collectedAt) infoAt = collectedAt - infoLead * HOUR;
  add(infoAt, 'INFO', 'info_received', TEXTS.info(), null, null);
  if (collectedAt === null) return { trackingNo: input.trackingNo, collection, ending, problemKind, route: hubs, events };

  add(collectedAt, 'COLLECT', 'collected', TEXTS.collect(style, originStation, collector), origin.city, originStation);

  // Hubs. Where a stall or a hub problem happens is drawn up front.
  const hubEventCount = hubs.length * 2; // arrive + leave per hub
  const stallAfter = rng.int(0, hubEventCount - 1); // keep hub events [0..stallAfter]
  const problemHub = rng.int(0, hubs.length - 1);
  const cities = [origin, ...middle, dest];
  let t = collectedAt + rng.between(2, 8) * HOUR;
  let hubEvents = 0;
  for (let i = 0; i < hubs.length; i++) {
    const hub = hubs[i]!;
    const city = cities[i]!.city;
    const next = hubs[i + 1] ?? destStation;
    add(t, 'HUB_ARRIVE', 'arrived_at_hub', TEXTS.arrive(style, hub), city, hub);
    if (ending === 'stall' && hubEvents++ >= stallAfter) return done();
    const dwell = rng.between(0.5, 3) * HOUR;
    if (ending === 'problem' && i === problemHub && problemKind === 'lost') {
      add(t + dwell, 'LOST', 'problem', TEXTS.lost(hub), city, hub);
      return done();
    }
    if (ending === 'problem' && i === problemHub && problemKind === 'issue_resolved') {
      add(t + dwell, 'ISSUE', 'problem', TEXTS.issue(hub), city, hub);
      t += rng.between(24, 48) * HOUR; // held while the carrier sorts it out, then moves on
    }
    t += dwell;
    add(t, 'HUB_LEAVE', 'in_transit', TEXTS.leave(style, hub, next), city, hub);
    if (ending === 'stall' && hubEvents++ >= stallAfter) return done();
    t += (i + 1 < hubs.length ? rng.between(5, 20) : rng.between(3, 8)) * HOUR;
  }

  // Destination outlet and the last mile.
  add(t, 'STATION_ARRIVE', 'arrived_at_hub', TEXTS.arrive(style, destStation), dest.city, destStation);
  t = intoDaytime(t + rng.between(0.5, 3) * HOUR, input.timeZone, rng.float());
  add(t, 'OUT_FOR_DELIVERY', 'out_for_delivery', TEXTS.outForDelivery(style, destStation, courier), dest.city, destStation);

  if (problemKind === 'failed_then_signed') {
    t += rng.between(1, 5) * HOUR;
    add(t, 'FAILED_ATTEMPT', 'failed_attempt', TEXTS.failed(destStation), dest.city, destStation);
    t = intoDaytime(t + rng.between(14, 20) * HOUR, input.timeZone, rng.float());
    add(t, 'OUT_FOR_DELIVERY', 'out_for_delivery', TEXTS.outForDelivery(style, destStation, courier), dest.city, destStation);
    add(t + rng.between(0.5, 4) * HOUR, 'SIGNED', 'delivered', TEXTS.signed(false), dest.city, dest.city);
    return done();
  }
  if (problemKind === 'rejected_returned') {
    t += rng.between(0.5, 4) * HOUR;
    add(t, 'REJECTED', 'rejected', TEXTS.rejected(destStation), dest.city, destStation);
    t += rng.between(2, 6) * HOUR;
    add(t, 'RETURNING', 'returning', TEXTS.returning(destStation, dest.hub), dest.city, destStation);
    t += rng.between(4, 10) * HOUR;
    add(t, 'RETURNING', 'returning', TEXTS.returning(dest.hub, origin.hub), dest.city, dest.hub);
    t += rng.between(24, 60) * HOUR;
    add(t, 'RETURNED', 'returned', TEXTS.returned(originStation), origin.city, originStation);
    return done();
  }
  if (ending === 'signed' || problemKind === 'issue_resolved') {
    add(t + rng.between(0.5, 6) * HOUR, 'SIGNED', 'delivered', TEXTS.signed(rng.float() < 0.2), dest.city, dest.city);
    return done();
  }
  // Locker or parcel station.
  const inLocker = rng.float() < 0.5;
  t += rng.between(0.5, 4) * HOUR;
  // A bare locker brand is not a hub (carriers/carrier-reading.ts): the event's city is.
  if (inLocker) add(t, 'LOCKER', 'at_pickup_point', TEXTS.locker(), dest.city, dest.city);
  else add(t, 'LOCKER', 'at_pickup_point', TEXTS.station(pickupStation), dest.city, pickupStation);
  if (ending === 'locker_picked') {
    const pickedAt = t + rng.between(2, 30) * HOUR;
    add(pickedAt, 'LOCKER_PICKED', 'delivered', inLocker ? TEXTS.lockerPicked() : TEXTS.stationPicked(), dest.city, dest.city);
  }
  return done();

  function done(): Journey {
    events.sort((a, b) => a.at.getTime() - b.at.getTime());
    return { trackingNo: input.trackingNo, collection, ending, problemKind, route: hubs, events };
  }
}

/** The planned events that happened by `now`, as canonical events. */
export function toNormalized(events: readonly (Pick<PlannedEvent, 'at' | 'text' | 'location'> & { step: string })[]): NormalizedEvent[] {
  return events.map((e) => ({
    occurredAt: e.at,
    status: statusFromText(e.text) ?? 'unknown',
    hub: extractHub(e.text, e.location),
    location: e.location,
    text: e.text,
    providerCode: e.step,
    raw: { simulated: true, step: e.step, at: e.at.toISOString(), text: e.text },
  }));
}

/** What the carrier shows for this parcel at `now`. */
export function simulate(input: SimInput, now: Date): SimResult {
  const journey = planJourney(input);
  if (!journey) {
    return {
      kind: 'not_found',
      message: looksUnknown(input.trackingNo) ? 'sandbox: no such tracking number' : 'sandbox: no paidAt or markedShippedAt to start the journey from',
    };
  }
  const happened = journey.events.filter((e) => e.at.getTime() <= now.getTime());
  if (happened.length === 0) return { kind: 'not_found', message: 'sandbox: carrier has no record yet' };
  return { kind: 'ok', events: toNormalized(happened), journey };
}
