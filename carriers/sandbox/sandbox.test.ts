import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { fixedClock, HOUR_MS } from '../../domain/clock.js';
import { testConfig } from '../../test/helpers/config.js';
import type { ProviderContext, TrackRequest } from '../carrier.js';
import { extractHub } from '../hub.js';
import { statusFromText } from '../status-rules.js';
import { createSandboxProvider } from './index.js';
import { CITIES, hashString, mulberry32, planJourney, simulate, type SandboxRates, type SimInput } from './simulate.js';

const config = testConfig({ databaseUrl: 'postgres://unused/unused', prefix: 'pw-sandbox-test' });
const { seed, rates } = config.providers.sandbox;
const PAID = new Date('2026-11-11T02:00:00Z');
const LATER = new Date(PAID.getTime() + 40 * 24 * HOUR_MS); // every journey is over by then

function input(trackingNo: string, over: Partial<SimInput> = {}): SimInput {
  return {
    seed,
    rates,
    carrier: 'ZTO',
    trackingNo,
    paidAt: PAID,
    markedShippedAt: new Date(PAID.getTime() + 3 * HOUR_MS),
    timeZone: 'Asia/Shanghai',
    ...over,
  };
}

const numbers = (n: number, prefix = '7731') => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(8, '0')}`);

describe('PRNG', () => {
  it('mulberry32 is deterministic and in [0,1)', () => {
    const a = mulberry32(hashString('1111|YT1'));
    const b = mulberry32(hashString('1111|YT1'));
    for (let i = 0; i < 100; i++) {
      const x = a();
      expect(x).toBe(b());
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
    expect(hashString('1111|YT1')).not.toBe(hashString('1112|YT1'));
  });
});

describe('determinism and growth', () => {
  it('same input and same now give identical output', () => {
    for (const no of numbers(50)) {
      const now = new Date(PAID.getTime() + 60 * HOUR_MS);
      expect(simulate(input(no), now)).toEqual(simulate(input(no), now));
    }
  });

  it('the seed changes the journeys', () => {
    const a = numbers(20).map((no) => planJourney(input(no))!.events.map((e) => e.text).join());
    const b = numbers(20).map((no) => planJourney(input(no, { seed: seed + 1 }))!.events.map((e) => e.text).join());
    expect(a).not.toEqual(b);
  });

  it('marking shipped later moves only the pre-advice event', () => {
    for (const no of numbers(100)) {
      const a = planJourney(input(no, { markedShippedAt: null }))!;
      const b = planJourney(input(no, { markedShippedAt: new Date(PAID.getTime() + HOUR_MS) }))!;
      const rest = (j: typeof a) => j.events.filter((e) => e.step !== 'INFO');
      expect(rest(b)).toEqual(rest(a));
    }
  });

  it('a later now returns a superset (history only grows)', () => {
    for (const no of numbers(200)) {
      let previous: unknown[] = [];
      for (let h = 0; h <= 24 * 30; h += 7) {
        const r = simulate(input(no), new Date(PAID.getTime() + h * HOUR_MS));
        const events = r.kind === 'ok' ? r.events : [];
        expect(events.slice(0, previous.length)).toEqual(previous);
        expect(events.length).toBeGreaterThanOrEqual(previous.length);
        previous = events;
      }
    }
  });

  it('events are in time order and never in the future', () => {
    const now = new Date(PAID.getTime() + 80 * HOUR_MS);
    for (const no of numbers(200)) {
      const r = simulate(input(no), now);
      if (r.kind !== 'ok') continue;
      for (let i = 0; i < r.events.length; i++) {
        expect(r.events[i]!.occurredAt.getTime()).toBeLessThanOrEqual(now.getTime());
        if (i) expect(r.events[i]!.occurredAt.getTime()).toBeGreaterThanOrEqual(r.events[i - 1]!.occurredAt.getTime());
      }
    }
  });
});

describe('not found', () => {
  it('garbage or NOTFOUND numbers', () => {
    for (const no of ['NOTFOUND123456', 'notfound-1', 'abc', '!!!###', '这不是单号']) {
      expect(simulate(input(no), LATER).kind).toBe('not_found');
    }
  });
  it('before the first event, and without any anchor time', () => {
    expect(simulate(input('773100000001'), new Date(PAID.getTime() - HOUR_MS)).kind).toBe('not_found');
    expect(simulate(input('773100000001', { paidAt: null, markedShippedAt: null }), LATER).kind).toBe('not_found');
  });
});

describe('journey shape', () => {
  const journeys = numbers(2000).map((no, i) =>
    planJourney(input(no, { carrier: ['ZTO', 'YTO', 'STO', 'YD', 'SF'][i % 5]! }))!,
  );

  it('every generated text classifies to the intended status and hub', () => {
    for (const j of journeys) {
      for (const e of j.events) {
        expect(statusFromText(e.text), e.text).toBe(e.intended);
        expect(extractHub(e.text, e.location), e.text).toBe(e.intendedHub);
      }
    }
  });

  it('info_received at marked-shipped, collection 2–30 h (late 48–90 h) after payment', () => {
    for (const j of journeys) {
      const collect = j.events.find((e) => e.step === 'COLLECT');
      const info = j.events.find((e) => e.step === 'INFO')!;
      expect(info).toBeDefined();
      if (j.collection === 'never') {
        expect(collect).toBeUndefined();
        expect(j.events).toHaveLength(1);
        continue;
      }
      const h = (collect!.at.getTime() - PAID.getTime()) / HOUR_MS;
      if (j.collection === 'normal') expect(h).toBeGreaterThanOrEqual(2), expect(h).toBeLessThanOrEqual(30);
      else expect(h).toBeGreaterThanOrEqual(48), expect(h).toBeLessThanOrEqual(90);
      expect(info.at.getTime()).toBeLessThan(collect!.at.getTime());
    }
  });

  it('2–4 hubs with known hub names, and the journey ends as planned', () => {
    const hubNames = new Set(CITIES.map((c) => c.hub));
    for (const j of journeys) {
      expect(j.route.length).toBeGreaterThanOrEqual(2);
      expect(j.route.length).toBeLessThanOrEqual(4);
      for (const h of j.route) expect(hubNames.has(h)).toBe(true);
      if (j.collection === 'never') continue;
      const last = j.events.at(-1)!;
      switch (j.ending) {
        case 'signed':
        case 'locker_picked':
          expect(last.intended).toBe('delivered');
          break;
        case 'locker_uncollected':
          expect(last.intended).toBe('at_pickup_point');
          break;
        case 'stall':
          expect(['arrived_at_hub', 'in_transit']).toContain(last.intended);
          expect(j.events.some((e) => e.step === 'OUT_FOR_DELIVERY')).toBe(false);
          break;
        case 'problem':
          expect(j.events.some((e) => ['problem', 'failed_attempt', 'rejected'].includes(e.intended))).toBe(true);
          break;
      }
    }
  });

  it('out for delivery happens in local daytime (Asia/Shanghai)', () => {
    for (const j of journeys) {
      for (const e of j.events.filter((x) => x.step === 'OUT_FOR_DELIVERY')) {
        const localHour = (e.at.getUTCHours() + 8) % 24;
        expect(localHour).toBeGreaterThanOrEqual(8);
        expect(localHour).toBeLessThan(19);
      }
    }
  });

  it('rates are roughly honoured over 2,000 numbers', () => {
    const n = journeys.length;
    const share = (pred: (j: (typeof journeys)[number]) => boolean) => journeys.filter(pred).length / n;
    const tol = (p: number) => Math.max(0.012, 4 * Math.sqrt((p * (1 - p)) / n));
    const r: SandboxRates = rates;
    const observed = {
      neverCollected: share((j) => j.collection === 'never'),
      lateCollection: share((j) => j.collection === 'late'),
      stall: share((j) => j.ending === 'stall'),
      problem: share((j) => j.ending === 'problem'),
      lockerUncollected: share((j) => j.ending === 'locker_uncollected'),
    };
    for (const k of Object.keys(observed) as (keyof SandboxRates)[]) {
      expect(Math.abs(observed[k] - r[k]), `${k}: ${observed[k]} vs ${r[k]}`).toBeLessThanOrEqual(tol(r[k]));
    }
    // Observable too: with every journey over, the ones never collected show no carrier scan.
    const neverSeen = numbers(2000).filter((no) => {
      const res = simulate(input(no), LATER);
      return res.kind === 'ok' && res.events.every((e) => e.status === 'info_received');
    }).length;
    expect(neverSeen / n).toBeCloseTo(observed.neverCollected, 5);
  });

  it('rates of 0 and 1 are exact', () => {
    const zero = { lateCollection: 0, neverCollected: 0, stall: 0, problem: 0, lockerUncollected: 0 };
    for (const no of numbers(300, '9')) {
      const j = planJourney(input(no, { rates: zero }))!;
      expect(j.collection).toBe('normal');
      expect(['signed', 'locker_picked']).toContain(j.ending);
      expect(planJourney(input(no, { rates: { ...zero, neverCollected: 1 } }))!.collection).toBe('never');
      expect(planJourney(input(no, { rates: { ...zero, stall: 1 } }))!.ending).toBe('stall');
    }
  });
});

describe('createSandboxProvider', () => {
  const ctx = (at: Date): ProviderContext => ({ clock: fixedClock(at), log: pino({ level: 'silent' }), timeZone: 'Asia/Shanghai' });
  const req = (trackingNo: string, shipmentId = 1): TrackRequest => ({
    shipmentId,
    carrier: 'YTO',
    trackingNo,
    paidAt: PAID,
    markedShippedAt: new Date(PAID.getTime() + 2 * HOUR_MS),
  });

  it('is the sandbox provider with batches of 50', () => {
    const p = createSandboxProvider(config);
    expect(p.name).toBe('sandbox');
    expect(p.maxBatch).toBe(50);
  });

  it('answers one result per request, from the clock in ctx', async () => {
    const p = createSandboxProvider(config);
    const reqs = [req('YT6186594166532', 1), req('NOTFOUND0001', 2), req('YT6186594166533', 3)];
    const early = await p.track(reqs, ctx(new Date(PAID.getTime() + 30 * 60_000)));
    expect(early.map((r) => r.kind)).toEqual(['not_found', 'not_found', 'not_found']);
    const late = await p.track(reqs, ctx(LATER));
    expect(late.map((r) => r.trackingNo)).toEqual(reqs.map((r) => r.trackingNo));
    expect(late[1]!.kind).toBe('not_found');
    for (const r of [late[0]!, late[2]!]) {
      expect(r.kind).toBe('ok');
      if (r.kind !== 'ok') continue;
      expect(r.events[0]!.status).toBe('info_received');
      for (const e of r.events) {
        expect(e.status).toBe(statusFromText(e.text));
        expect(e.occurredAt).toBeInstanceOf(Date);
      }
    }
    expect(await p.track(reqs, ctx(LATER))).toEqual(late);
  });
});
