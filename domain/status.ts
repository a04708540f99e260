/**
 * THE canonical shipment status model. Every provider's codes and every Chinese event text map onto
 * these values (see carriers/status-rules.ts and each provider's status-map.ts); rules, notifications
 * and the database only ever see these.
 *
 * ## Provider code vs text (one event)
 * Each event has up to two kinds of evidence: the provider's own code for it and the text. The code
 * is "specific" when it names the event, "coarse" when it only names a family. Implemented by
 * carriers/decide-status.ts `decideStatus`, each row tested in carriers/decide-status.test.ts; the
 * deciding rule is kept on the event (`rule`, e.g. `text:forward_sign`, `kuaidi100:statusCode=301`).
 *
 * | row | when                                                                  | status from            |
 * | --- | --------------------------------------------------------------------- | ---------------------- |
 * | P1  | the text says a problem (failed_attempt, problem, rejected, returning, returned, cancelled) | the text; a specific problem code refines it |
 * | P2  | the code says a problem, the text does not                            | the code               |
 * | P3  | the text says a step has NOT happened (pre-advice, courier assigned, seller warehouse, 请您准备签收) and the code claims a later step | the text |
 * | P4  | the code says pickup point, the text says the courier is out delivering; or the code says delivered (304 投柜或站签收) and the text says held at a station/locker | the text |
 * | P5  | a specific code                                                       | the code               |
 * | P6  | a text rule matched                                                   | the text               |
 * | P7  | only a coarse code                                                    | the code               |
 * | P8  | nothing                                                               | unknown (never guessed)|
 * So a problem word is never outvoted into a happier state, and a delivered/collected code on a text
 * that says "not yet" is the misreading.
 *
 * Which provider fields are the code, in order (the first specific one counts, else the first coarse
 * problem one, else the first coarse one):
 * - Kuaidi100: per-event `statusCode` (advanced codes specific; basic parents 0,1,2,5,7,8 coarse), then
 *   the per-event Chinese `status` name (coarse: 疑难 → problem). Top-level `state` only fills in a newest
 *   event that is still unknown (`kuaidi100:state=…`).
 * - Kdniao: per-trace `Action` (three-digit and 10 specific, one-digit coarse). `StateEx`, else `State`,
 *   only fills in a newest trace that is still unknown.
 * - 17TRACK: per-event `sub_status` (specific unless `…_Other`), then `stage` (specific). No code: the
 *   English description is read by the en_* text rules.
 */
export const STATUSES = [
  'pending', // we know the tracking number, the carrier has nothing yet
  'info_received', // electronic pre-advice / label printed (已下单, 待揽收) — NOT a carrier scan
  'collected', // the carrier's own collection scan (揽收): stops the 72 h clock
  'in_transit', // moving between hubs (离开/发往, 干线)
  'arrived_at_hub', // arrival scan at a transit/sorting centre (到达…转运中心)
  'out_for_delivery', // 派件中
  'at_pickup_point', // in a parcel locker or station (快递柜/驿站/丰巢), waiting for the customer
  'delivered', // signed for (签收, 代签收, 取件码签收)
  'failed_attempt', // delivery tried and failed (派件异常, 无法联系)
  'problem', // carrier problem (问题件/疑难, 破损, 丢失, 滞留)
  'rejected', // recipient refused (拒签/拒收)
  'returning', // on the way back to the sender (退回)
  'returned', // back with the sender (退签)
  'cancelled', // shipment cancelled (销单)
  'unknown', // the provider said something we cannot classify (kept, never guessed)
] as const;

export type Status = (typeof STATUSES)[number];

export function isStatus(value: unknown): value is Status {
  return typeof value === 'string' && (STATUSES as readonly string[]).includes(value);
}

/** Statuses after which we stop polling. */
export const TERMINAL_STATUSES: ReadonlySet<Status> = new Set(['delivered', 'returned', 'cancelled']);

/** Statuses that are a real carrier scan (anything the carrier did physically), as opposed to pre-advice. */
export function isCarrierScan(status: Status): boolean {
  return status !== 'pending' && status !== 'info_received' && status !== 'unknown';
}

/** Statuses that mean the carrier reports a problem (rule carrier_problem). */
export const PROBLEM_STATUSES: ReadonlySet<Status> = new Set([
  'failed_attempt',
  'problem',
  'rejected',
  'returning',
  'returned',
]);

/** Forward movement statuses: a late event of one of these never overrides a delivery. */
const PROGRESS_STATUSES: ReadonlySet<Status> = new Set([
  'collected',
  'in_transit',
  'arrived_at_hub',
  'out_for_delivery',
  'at_pickup_point',
  'info_received',
  'pending',
  'unknown',
]);

/**
 * The status a shipment moves to when `next` is the newest event and `current` is what it had.
 * Carriers sometimes scan a locker hold after the signature (Kdniao sample: 签收 → 暂存驿站 → 签收),
 * so a progress scan never un-delivers a parcel; a return or a problem after delivery does count; and
 * pre-advice never takes a scanned parcel back to before its collection.
 */
export function nextShipmentStatus(current: Status, next: Status): Status {
  if (current === 'delivered' && PROGRESS_STATUSES.has(next)) return current;
  // Pre-advice after a real scan (a late seller-warehouse note, a re-sent 已下单) says nothing new: never back to before collection.
  if ((next === 'info_received' || next === 'pending') && isCarrierScan(current)) return current;
  if (current === 'returned' && next !== 'delivered' && PROGRESS_STATUSES.has(next)) return current;
  return next;
}

/** zh-CN names of the statuses, as the ops console shows them. */
export const STATUS_LABELS: Readonly<Record<Status, string>> = {
  pending: '待查询',
  info_received: '已下单',
  collected: '已揽收',
  in_transit: '运输中',
  arrived_at_hub: '到达网点',
  out_for_delivery: '派送中',
  at_pickup_point: '待取件',
  delivered: '已签收',
  failed_attempt: '派送失败',
  problem: '问题件',
  rejected: '拒签',
  returning: '退回中',
  returned: '已退回',
  cancelled: '已取消',
  unknown: '未识别',
};
