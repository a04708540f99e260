import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TrackRequest, TrackResult } from '../carriers/carrier.js';
import { SeventeenTrackProvider, type SeventeenTrackConfig } from '../carriers/seventeen-track/client.js';
import { reply } from './fakes/kuaidi100-server.js';
import { startSeventeenTrackFake, type SeventeenTrackFake } from './fakes/seventeen-track-server.js';
import { failure, fixture, providerContext } from './helpers/provider.js';

const TRACK_INFO = fixture('seventeentrack-gettrackinfo.json').data.accepted[0].track_info as Record<string, unknown>;

let fake: SeventeenTrackFake;
let provider: SeventeenTrackProvider;
const ctx = providerContext('2022-10-12T00:00:00Z');

function cfg(over: Partial<SeventeenTrackConfig> = {}): SeventeenTrackConfig {
  return {
    enabled: true,
    baseUrl: fake.url,
    qps: 3,
    concurrency: 2,
    timeoutMs: 300,
    minPollIntervalMinutes: 60,
    token: 'TOKEN-17',
    batchSize: 40,
    mode: 'poll',
    ...over,
  };
}

const req = (trackingNo: string, carrier = 'YZPY'): TrackRequest => ({ shipmentId: 1, carrier, trackingNo });

/** A Chinese domestic journey, events newest first like 17TRACK sends them. */
function cnJourney(extra: Record<string, unknown>[] = []): Record<string, unknown> {
  const events = [
    ...extra,
    { time_iso: '2021-12-15T20:15:14+08:00', time_utc: '2021-12-15T12:15:14Z', description: '【苏州转运中心】已发出 下一站【无锡转运中心】', location: '苏州市', stage: 'Departure' },
    { time_iso: '2021-12-15T17:10:09+08:00', time_utc: '2021-12-15T09:10:09Z', description: '【江苏省苏州市北桥公司】已揽收', location: '苏州市', stage: 'PickedUp' },
  ];
  return { latest_status: { status: 'InTransit', sub_status: 'InTransit_Departure' }, tracking: { providers: [{ provider: { key: 3011 }, events }] } };
}

async function one(trackingNo: string): Promise<TrackResult> {
  const [r] = await provider.track([req(trackingNo)], ctx);
  return r!;
}

const paths = () => fake.requests.map((r) => r.path.replace('/track/v2.2/', ''));

beforeEach(async () => {
  fake = await startSeventeenTrackFake({ token: 'TOKEN-17' });
  provider = new SeventeenTrackProvider(cfg());
});
afterEach(async () => {
  provider.close();
  await fake.close();
});

describe('17TRACK client against the fake', () => {
  it('registers, then fetches; the fixture journey parses', async () => {
    fake.script('1234567890', { trackInfo: TRACK_INFO, carrier: 7041 });
    const r = await one('1234567890');
    expect(r).toMatchObject({ kind: 'ok', summaryStatus: 'problem' });
    expect(paths()).toEqual(['register', 'gettrackinfo']);
    expect(fake.requests[0]!.headers['17token']).toBe('TOKEN-17');
    // Carrier key sent for China Post; omitted (auto-detect) where unknown.
    expect(JSON.parse(fake.requests[0]!.body)).toEqual([{ number: '1234567890', carrier: 3011 }]);
    await provider.track([req('X1', 'ZTO')], ctx);
    expect(JSON.parse(fake.requests[2]!.body)).toEqual([{ number: 'X1' }]);
  });

  it('second poll: already registered (-18019901) counts as success', async () => {
    fake.script('CN1', { trackInfo: cnJourney() });
    expect((await one('CN1')).kind).toBe('ok');
    const r = await one('CN1');
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(r.events.map((e) => e.status)).toEqual(['collected', 'in_transit']);
    expect(r.events[1]!.hub).toBe('苏州转运中心');
    expect(r.events[0]!.occurredAt.toISOString()).toBe('2021-12-15T09:10:09.000Z');
  });

  it('no info yet (-18019909) → not_found', async () => {
    expect(await one('NEW1')).toMatchObject({ kind: 'not_found' });
  });

  it('not registered (-18019902) → registers again and retries once', async () => {
    fake.script('CN2', { trackInfo: cnJourney() });
    await one('CN2');
    // Registration lost between register and gettrackinfo: simulate by making the next gettrackinfo reject.
    fake.scriptCall('gettrackinfo', reply.json({ code: 0, data: { accepted: [], rejected: [{ number: 'CN2', error: { code: -18019902, message: 'not registered' } }] } }));
    const r = await one('CN2');
    expect(r.kind).toBe('ok');
    expect(paths().slice(2)).toEqual(['register', 'gettrackinfo', 'register', 'gettrackinfo']);
  });

  it('still not registered after the retry → not_found', async () => {
    const notReg = reply.json({ code: 0, data: { accepted: [], rejected: [{ number: 'CN3', error: { code: -18019902, message: 'not registered' } }] } });
    fake.scriptCall('gettrackinfo', notReg, notReg);
    expect(await one('CN3')).toMatchObject({ kind: 'not_found' });
  });

  it('register refusals are per number (rejected); quota is for the account', async () => {
    fake.rejectRegister('BAD', -18019903, 'carrier not detected');
    fake.script('GOOD', { trackInfo: cnJourney() });
    const rs = await provider.track([req('BAD'), req('GOOD')], ctx);
    expect(rs.map((r) => r.kind)).toEqual(['rejected', 'ok']);
    expect(rs[0]).toMatchObject({ code: 'seventeenTrack:-18019903' });
    fake.rejectRegister('Q', -18019908, 'quota exhausted');
    expect((await failure(one('Q'))).kind).toBe('quota');
  });

  it('bad token → HTTP 401 → auth; non-zero top-level code → auth', async () => {
    provider.close();
    provider = new SeventeenTrackProvider(cfg({ token: 'nope' }));
    expect((await failure(one('A'))).kind).toBe('auth');
    provider.close();
    provider = new SeventeenTrackProvider(cfg());
    fake.scriptCall('register', reply.json({ code: -18010001, data: { errors: [{ code: -18010001, message: 'IP not whitelisted' }] } }));
    expect((await failure(one('A'))).kind).toBe('auth');
  });

  it('batches of at most batchSize numbers', async () => {
    provider.close();
    provider = new SeventeenTrackProvider(cfg({ batchSize: 2 }));
    expect(provider.maxBatch).toBe(2);
    const rs = await provider.track(['A', 'B', 'C', 'D', 'E'].map((n) => req(n)), ctx);
    expect(rs.map((r) => r.trackingNo)).toEqual(['A', 'B', 'C', 'D', 'E']);
    expect(fake.requests.map((r) => r.numbers.length)).toEqual([2, 2, 2, 2, 1, 1]);
  });

  it('429 then success', async () => {
    fake.script('CN4', { trackInfo: cnJourney() });
    fake.scriptCall('register', reply.tooMany('1'));
    const e = await failure(one('CN4'));
    expect(e).toMatchObject({ kind: 'transient', opts: expect.objectContaining({ retryAfterMs: 1000 }) });
    expect((await one('CN4')).kind).toBe('ok');
  });

  it('timeout → transient; garbage → malformed; wrong JSON shape → malformed', async () => {
    fake.scriptCall('register', reply.delay(2000, { json: { code: 0, data: { accepted: [], rejected: [] } } }), reply.garbage(), reply.json({ code: 0, data: 'x' }));
    expect((await failure(one('Z'))).kind).toBe('transient');
    expect((await failure(one('Z'))).kind).toBe('malformed');
    expect((await failure(one('Z'))).kind).toBe('malformed');
  });

  it('a malformed item inside a good reply only affects its number', async () => {
    fake.script('OK1', { trackInfo: cnJourney() });
    fake.script('BROKEN', { trackInfo: { tracking: { providers: [{ events: [{ time_utc: 'later', description: 'x' }] }] } } });
    const rs = await provider.track([req('OK1'), req('BROKEN')], ctx);
    expect(rs.map((r) => r.kind)).toEqual(['ok', 'malformed']);
  });

  it('history re-sent with one new event, out-of-order events sorted', async () => {
    const extra = { time_iso: '2021-12-16T02:03:04+08:00', time_utc: '2021-12-15T18:03:04Z', description: '快件已到达【无锡转运中心】', location: '无锡市', stage: 'Arrival' };
    const shuffled = cnJourney([extra]);
    const evs = (shuffled.tracking as { providers: { events: unknown[] }[] }).providers[0]!.events;
    evs.reverse(); // oldest first now, i.e. not the order 17TRACK promises
    fake.script('CN5', { trackInfo: cnJourney() }, { trackInfo: shuffled });
    const a = await one('CN5');
    const b = await one('CN5');
    if (a.kind !== 'ok' || b.kind !== 'ok') throw new Error('expected ok');
    expect(b.events).toHaveLength(3);
    expect(b.events.slice(0, 2).map((e) => e.text)).toEqual(a.events.map((e) => e.text));
    expect(b.events[2]).toMatchObject({ status: 'arrived_at_hub', hub: '无锡转运中心' });
    const t = b.events.map((e) => e.occurredAt.getTime());
    expect(t).toEqual([...t].sort((x, y) => x - y));
  });
});
