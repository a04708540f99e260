/**
 * The golden corpus of real tracking replies (test/corpus/README.md): loading the index, running one
 * sample through the path a poll takes (provider reply parser → foldEvents from a fresh shipment), and
 * comparing the outcome with the human-judged expectation. Shared by test/corpus.test.ts (strict, one
 * `it` per sample) and scripts/corpus-score.ts (prints every verdict and the score).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProviderError, type TrackResult } from '../../carriers/carrier.js';
import { isRecord } from '../../carriers/http.js';
import { parseKdniaoReply } from '../../carriers/kdniao/parse.js';
import { parseKuaidi100Reply } from '../../carriers/kuaidi100/parse.js';
import { parseAcceptedItem } from '../../carriers/seventeen-track/parse.js';
import { foldEvents, type ShipmentTrackState } from '../../domain/fold-events.js';
import { parseCarrierTime } from '../../domain/local-time.js';
import { isStatus, type Status } from '../../domain/status.js';

export const CORPUS_DIR = dirname(fileURLToPath(import.meta.url));
/** Chinese carriers' bare local times are Beijing time. */
const TIME_ZONE = 'Asia/Shanghai';

export type CorpusProvider = 'kuaidi100' | 'kdniao' | 'seventeentrack';

/** One expected hub: a name, or the spellings one carrier uses for the same site (any of them is right). */
export type ExpectedHub = string | string[];

export interface CorpusSample {
  file: string;
  provider: CorpusProvider;
  carrier: string;
  /** The number the reply is about (the parsers echo it; nothing depends on it). */
  trackingNo: string;
  source: { repository: string; path: string; commit: string; url: string };
  repairs: string[];
  expect: {
    finalStatus: Status;
    collected: boolean;
    /**
     * When the carrier's own collection scan happened (Beijing time, as the carrier writes it), where
     * events before it (seller warehouse steps, a courier being assigned) could be mistaken for it.
     */
    collectedAt?: string;
    hubs: ExpectedHub[];
    /** What the reply is as a whole, when it is not plain data (ok): not_found, rejected, error. */
    outcome?: Outcome;
  };
  /** Why the judgement is what it is, where a reader might wonder. */
  note?: string;
}

export type Outcome = 'ok' | 'not_found' | 'rejected' | 'malformed' | 'error';

export interface CorpusRun {
  outcome: Outcome;
  finalStatus: Status;
  collected: boolean;
  collectedAt: Date | null;
  hubs: string[];
  /** Provider error kind / rejection code / malformed reason, for the verdict line. */
  detail: string | null;
  /** Each event as read: time, status, hub, text (for the score script's --verbose). */
  events: { at: string; status: Status; hub: string | null; text: string }[];
}

export interface Verdict {
  sample: CorpusSample;
  run: CorpusRun;
  state: boolean;
  collected: boolean;
  hubs: boolean;
}

export function loadCorpus(): CorpusSample[] {
  const index = JSON.parse(readFileSync(join(CORPUS_DIR, 'index.json'), 'utf8')) as { samples: CorpusSample[] };
  for (const s of index.samples) {
    if (!isStatus(s.expect.finalStatus)) throw new Error(`${s.file}: finalStatus ${s.expect.finalStatus} is not a canonical status`);
  }
  return index.samples;
}

export function readSample(sample: CorpusSample): unknown {
  return JSON.parse(readFileSync(join(CORPUS_DIR, sample.file), 'utf8'));
}

/**
 * 17TRACK replies come as the v2.2 envelope `{code, data:{accepted, rejected}}`. The client's envelope
 * check is private to its HTTP call, so its observable rules are mirrored here: a non-zero `code` fails
 * the whole call; each accepted item goes through parseAcceptedItem; a rejected item is a rejection
 * (-18019909 "no info yet" is not_found), as the client's itemRejection does after a register.
 */
function parseSeventeenTrack(body: unknown, trackingNo: string): TrackResult {
  if (!isRecord(body) || typeof body.code !== 'number') throw new ProviderError('seventeenTrack', 'malformed', 'reply has no numeric code');
  if (body.code !== 0) throw new ProviderError('seventeenTrack', 'auth', `code ${body.code}`);
  const data = isRecord(body.data) ? body.data : {};
  const accepted = (Array.isArray(data.accepted) ? data.accepted : []).filter(isRecord);
  const item = accepted.find((a) => a.number === trackingNo) ?? accepted[0];
  if (item) return parseAcceptedItem(item, trackingNo, TIME_ZONE);
  const rejected = (Array.isArray(data.rejected) ? data.rejected : []).filter(isRecord);
  const rej = rejected[0];
  if (!rej) return { kind: 'malformed', trackingNo, error: 'neither accepted nor rejected', raw: '' };
  const err = isRecord(rej.error) ? rej.error : {};
  const code = Number(err.code);
  if (code === -18019909 || code === -18019902) return { kind: 'not_found', trackingNo, message: String(err.message ?? code) };
  return { kind: 'rejected', trackingNo, code: `seventeenTrack:${code}`, message: String(err.message ?? '') };
}

function parseReply(sample: CorpusSample, body: unknown): TrackResult {
  switch (sample.provider) {
    case 'kuaidi100':
      return parseKuaidi100Reply(body, sample.trackingNo, TIME_ZONE);
    case 'kdniao':
      return parseKdniaoReply(body, sample.trackingNo, TIME_ZONE);
    case 'seventeentrack':
      return parseSeventeenTrack(body, sample.trackingNo);
  }
}

/** A shipment parcelwatch has just registered: nothing known yet. */
function freshShipment(): ShipmentTrackState {
  return { status: 'pending', statusSince: null, collectedAt: null, deliveredAt: null, lastEventAt: null, lastEventText: null, lastHub: null };
}

/** The sample through parse + fold, as a first poll of a new shipment would take it. */
export function runSample(sample: CorpusSample): CorpusRun {
  let result: TrackResult;
  try {
    result = parseReply(sample, readSample(sample));
  } catch (err) {
    if (!(err instanceof ProviderError)) throw err;
    return { outcome: 'error', finalStatus: 'pending', collected: false, collectedAt: null, hubs: [], detail: `${err.kind}: ${err.message}`, events: [] };
  }
  if (result.kind !== 'ok') {
    const detail = result.kind === 'not_found' ? result.message : result.kind === 'rejected' ? `${result.code}: ${result.message}` : result.error;
    return { outcome: result.kind, finalStatus: 'pending', collected: false, collectedAt: null, hubs: [], detail, events: [] };
  }
  const state = foldEvents(freshShipment(), result.events);
  const hubs: string[] = [];
  for (const e of [...result.events].sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime())) {
    if (e.hub && !hubs.includes(e.hub)) hubs.push(e.hub);
  }
  return {
    outcome: 'ok',
    finalStatus: state.status,
    collected: state.collectedAt !== null,
    collectedAt: state.collectedAt,
    hubs,
    detail: null,
    events: result.events.map((e) => ({ at: e.occurredAt.toISOString(), status: e.status, hub: e.hub, text: e.text })),
  };
}

export function hubsMatch(expected: ExpectedHub[], actual: string[]): boolean {
  return expected.length === actual.length && expected.every((h, i) => (Array.isArray(h) ? h.includes(actual[i]!) : h === actual[i]));
}

export function judge(sample: CorpusSample): Verdict {
  const run = runSample(sample);
  const e = sample.expect;
  return {
    sample,
    run,
    state: run.finalStatus === e.finalStatus && run.outcome === (e.outcome ?? 'ok'),
    collected: run.collected === e.collected && (e.collectedAt === undefined || run.collectedAt?.getTime() === parseCarrierTime(e.collectedAt, TIME_ZONE)?.getTime()),
    hubs: hubsMatch(e.hubs, run.hubs),
  };
}

export function formatHubs(hubs: ExpectedHub[]): string {
  return hubs.map((h) => (Array.isArray(h) ? h.join('|') : h)).join(' → ') || '(none)';
}

/** `true at 2017-10-08 18:24:34` (Beijing time) / `false`, for failure messages. */
export function collectedText(collected: boolean, at?: string | Date | null): string {
  if (!collected) return 'false';
  if (at === undefined || at === null) return 'true';
  const local = typeof at === 'string' ? at : new Date(at.getTime() + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
  return `true at ${local}`;
}
