import { PROBLEM_STATUSES, type Status } from '../domain/status.js';
import { classifyText, FORWARD_SIGN, stripBoilerplate } from './status-rules.js';
import { memoText } from './text-memo.js';

/**
 * One event's status from the two kinds of evidence we get: the provider's own code for the event
 * and the event text. The precedence is written down (and tested row by row) in domain/status.ts,
 * "Provider code vs text"; this function is that table and nothing else.
 */

/** What a provider's own code says about one event. */
export interface CodeEvidence {
  status: Status;
  /** Where it came from, e.g. `kuaidi100:statusCode=301`, `kdniao:Action=202`, `17track:stage=Delivered`. */
  rule: string;
  /**
   * A specific code names the event (Kuaidi100 advanced 301, Kdniao 202, 17TRACK stage Delivered);
   * a coarse one only its family (Kuaidi100 basic 0 在途, Kdniao Action 2, a Chinese status name,
   * 17TRACK `…_Other`).
   */
  specific: boolean;
}

export interface Decision {
  status: Status;
  /** The rule or code that decided; undefined when nothing did (status `unknown`). */
  rule?: string;
  /** Which precedence row applied (P1…P8), for tests and explanations. */
  row: PrecedenceRow;
}

export type PrecedenceRow = 'P1' | 'P2' | 'P3' | 'P4' | 'P5' | 'P6' | 'P7' | 'P8';

/** How far along the happy path a status is; "not yet" texts beat codes that claim a later step. */
const PROGRESS_RANK: Partial<Record<Status, number>> = {
  pending: 0,
  info_received: 1,
  collected: 2,
  in_transit: 3,
  arrived_at_hub: 3,
  out_for_delivery: 4,
  at_pickup_point: 5,
  delivered: 6,
};

/** Text rules that say something has NOT happened yet (pre-advice, a courier assigned, the seller's warehouse, 请您准备签收). */
const NOT_YET_RULES = new Set(['text:info_received', 'text:seller_warehouse', 'text:en_info_received', 'text:forward_sign']);

/**
 * `codes`: every piece of provider evidence for the event, in the provider's documented order (nulls
 * skipped). The one that counts is the first specific one, else the first coarse problem one, else
 * the first coarse one.
 */
export function decideStatus(codes: readonly (CodeEvidence | null)[], text: string): Decision {
  const present = codes.filter((c): c is CodeEvidence => c !== null);
  const code = present.find((c) => c.specific) ?? present.find((c) => PROBLEM_STATUSES.has(c.status)) ?? present[0] ?? null;
  const { t, forward } = readText(text);
  const textProblem = t !== null && PROBLEM_STATUSES.has(t.status);
  const codeProblem = code !== null && PROBLEM_STATUSES.has(code.status);
  // P1: a problem word is never outvoted into a happier state; a specific problem code may refine it.
  if (t && textProblem) return code && codeProblem && code.specific ? { ...pick(code), row: 'P1' } : { ...t, row: 'P1' };
  // P2: a problem code is never outvoted by a happy text.
  if (code && codeProblem) return { ...pick(code), row: 'P2' };
  if (t && code) {
    // P3: the text says the step has not happened yet; a code claiming it has is the misreading.
    const notYet = NOT_YET_RULES.has(t.rule) || forward;
    if (notYet && (PROGRESS_RANK[code.status] ?? -1) > (PROGRESS_RANK[t.status] ?? 99)) return { ...t, row: 'P3' };
    // P4: a pickup-point code but the text has the courier out delivering (taken back out of the station).
    if (code.status === 'at_pickup_point' && t.status === 'out_for_delivery') return { ...t, row: 'P4' };
    // P4: a "signed at the locker/station" code (Kuaidi100 304, Kdniao 311) while the text says it is held there for the customer.
    if (code.status === 'delivered' && t.status === 'at_pickup_point') return { ...t, row: 'P4' };
  }
  // P5: a specific code names the event better than our words.
  if (code?.specific) return { ...pick(code), row: 'P5' };
  // P6: otherwise the text; P7: otherwise a coarse code; P8: unknown, never guessed.
  if (t) return { ...t, row: 'P6' };
  if (code) return { ...pick(code), row: 'P7' };
  return { status: 'unknown', row: 'P8' };
}

function pick(code: CodeEvidence): { status: Status; rule: string } {
  return { status: code.status, rule: code.rule };
}

/** The text announces a signature ("请您准备签收"): whatever else it says, it has not been signed for by this event. */
function hasForwardPhrase(text: string): boolean {
  return new RegExp(FORWARD_SIGN.source).test(stripBoilerplate(text));
}

/** What the text alone says (memoised: texts repeat, see text-memo.ts). */
const readText = memoText((text: string) => ({ t: classifyText(text), forward: hasForwardPhrase(text) }));
