import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TrackResult } from '../carriers/carrier.js';
import { Kuaidi100Provider, type Kuaidi100Config } from '../carriers/kuaidi100/client.js';
import { reply, startKuaidi100Fake, type Kuaidi100Fake } from './fakes/kuaidi100-server.js';
import { failure, fixture, providerContext } from './helpers/provider.js';

const JOURNEY = fixture('kuaidi100-query.json');
const NUM = 'YT6186594166532';

let fake: Kuaidi100Fake;
let provider: Kuaidi100Provider;
const ctx = providerContext('2021-12-16T00:00:00Z');

function cfg(over: Partial<Kuaidi100Config> = {}): Kuaidi100Config {
  return {
    enabled: true,
    baseUrl: fake.url,
    qps: 1,
    concurrency: 1,
    timeoutMs: 300,
    minPollIntervalMinutes: 60,
    customer: 'CUST123',
    key: 'secret-key',
    resultv2: '4',
    maxQueriesPer24h: 40,
    mode: 'poll',
    salt: '',
    callbackUrl: '',
    ...over,
  };
}

async function one(trackingNo: string, carrier = 'YTO', phone?: string): Promise<TrackResult> {
  const [r] = await provider.track([{ shipmentId: 1, carrier, trackingNo, phone: phone ?? null }], ctx);
  return r!;
}

beforeEach(async () => {
  fake = await startKuaidi100Fake({ customer: 'CUST123', key: 'secret-key' });
  provider = new Kuaidi100Provider(cfg());
});
afterEach(async () => {
  provider.close();
  await fake.close();
});

describe('Kuaidi100 client against the fake', () => {
  it('normal journey: signed form, param fields, parsed events in UTC ascending', async () => {
    fake.script(NUM, JOURNEY);
    const r = await one(NUM);
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(r.events).toHaveLength(4);
    expect(r.events.at(-1)!.occurredAt.toISOString()).toBe('2021-12-15T12:15:14.000Z');
    expect(r.events.at(-1)!.hub).toBe('苏州转运中心');
    const sent = new URLSearchParams(fake.requests[0]!.body);
    expect(JSON.parse(sent.get('param')!)).toEqual({ com: 'yuantong', num: NUM, resultv2: '4' });
    expect(fake.requests[0]!.headers['content-type']).toMatch(/x-www-form-urlencoded/);
  });

  it('SF sends the phone digits, which the fake checks', async () => {
    fake.requirePhone('SF1234567890', '5678');
    fake.script('SF1234567890', { ...JOURNEY, nu: 'SF1234567890', com: 'shunfeng' });
    expect((await one('SF1234567890', 'SF', '138-1234-5678')).kind).toBe('ok');
    expect(JSON.parse(new URLSearchParams(fake.requests[0]!.body).get('param')!).phone).toBe('5678');
    const wrong = await one('SF1234567890', 'SF', '13800001111');
    expect(wrong).toMatchObject({ kind: 'rejected', message: expect.stringContaining('验证码错误') });
  });

  it('SF without a phone is refused locally (no query spent)', async () => {
    expect(await one('SF000', 'SF')).toMatchObject({ kind: 'rejected', code: 'phone_required' });
    expect(fake.requests).toHaveLength(0);
  });

  it('unknown number → not_found', async () => {
    expect(await one('NOPE123')).toMatchObject({ kind: 'not_found' });
  });

  it('wrong key → auth (the fake verifies the signature)', async () => {
    provider.close();
    provider = new Kuaidi100Provider(cfg({ key: 'wrong' }));
    const e = await failure(one(NUM));
    expect(e.kind).toBe('auth');
  });

  it('wrong customer (400) → auth; 601 → quota', async () => {
    provider.close();
    provider = new Kuaidi100Provider(cfg({ customer: 'other' }));
    expect((await failure(one(NUM))).kind).toBe('auth');
    provider.close();
    provider = new Kuaidi100Provider(cfg());
    fake.script('Q1', { result: false, returnCode: '601', message: 'key已过期或余额不足' });
    expect((await failure(one('Q1'))).kind).toBe('quota');
  });

  it('429 with Retry-After seconds, then success', async () => {
    fake.script(NUM, reply.tooMany('7'), JOURNEY);
    const e = await failure(one(NUM));
    expect(e.kind).toBe('transient');
    expect(e.opts.retryAfterMs).toBe(7000);
    expect((await one(NUM)).kind).toBe('ok');
  });

  it('429 with an HTTP-date Retry-After is measured against the injected clock', async () => {
    fake.script(NUM, reply.tooMany(new Date(ctx.clock.now().getTime() + 90_000).toUTCString()), JOURNEY);
    expect((await failure(one(NUM))).opts.retryAfterMs).toBe(90_000);
  });

  it('timeout → transient', async () => {
    fake.script(NUM, reply.delay(2000, { json: JOURNEY }));
    const e = await failure(one(NUM));
    expect(e.kind).toBe('transient');
    expect(e.message).toMatch(/timeout/);
  });

  it('HTTP 500 → transient; garbage body → malformed with raw text', async () => {
    fake.script(NUM, reply.status(500, 'oops'), reply.garbage());
    expect((await failure(one(NUM))).kind).toBe('transient');
    const e = await failure(one(NUM));
    expect(e.kind).toBe('malformed');
    expect(e.opts.raw).toContain('502 Bad Gateway');
  });

  it('history re-sent with one new event', async () => {
    const newer = {
      ...JOURNEY,
      data: [
        { time: '2021-12-16 02:03:04', ftime: '2021-12-16 02:03:04', context: '快件已到达【无锡转运中心公司】', statusCode: '1002', areaName: '江苏,无锡市', location: '' },
        ...JOURNEY.data,
      ],
    };
    fake.script(NUM, JOURNEY, newer);
    const first = await one(NUM);
    const second = await one(NUM);
    if (first.kind !== 'ok' || second.kind !== 'ok') throw new Error('expected ok');
    expect(second.events).toHaveLength(5);
    expect(second.events.slice(0, 4).map((e) => [e.occurredAt.getTime(), e.text])).toEqual(first.events.map((e) => [e.occurredAt.getTime(), e.text]));
    expect(second.events[4]).toMatchObject({ text: '快件已到达【无锡转运中心公司】', hub: '无锡转运中心' }); // one spelling per site (issue 11 class 5: …中心公司 is …中心)
  });

  it('out-of-order events come back sorted ascending', async () => {
    fake.script('2234014274', fixture('kuaidi100-query-basic-delivered.json'));
    const r = await one('2234014274');
    if (r.kind !== 'ok') throw new Error('expected ok');
    const t = r.events.map((e) => e.occurredAt.getTime());
    expect(t).toEqual([...t].sort((a, b) => a - b));
    expect(r.summaryStatus).toBe('delivered');
  });

  it('JSON of the wrong shape → malformed result for that number', async () => {
    fake.script(NUM, { message: 'ok', data: { nope: 1 } });
    expect((await one(NUM)).kind).toBe('malformed');
    fake.script('ARR', reply.json([1, 2, 3]));
    expect((await failure(one('ARR'))).kind).toBe('malformed');
  });

  // Issue 11 class 6, over the wire: the SDK-relayed result:false with data[] is data; one bad time drops one trace.
  it('result:false beside full data[] is data; a trace with time 16:32:162 is dropped with its reason', async () => {
    const bad = { time: '2019-07-25 16:32:162', ftime: '2019-07-25 16:32:162', context: '快件已到达【苏州转运中心】' };
    fake.script(NUM, { ...JOURNEY, result: false, data: [bad, ...JOURNEY.data] });
    const r = await one(NUM);
    if (r.kind !== 'ok') throw new Error(`expected ok, got ${r.kind}`);
    expect(r.events).toHaveLength(JOURNEY.data.length);
    expect(r.dropped).toEqual([{ where: 'data[0]', error: expect.stringContaining('16:32:162'), raw: expect.stringContaining('苏州转运中心') }]);
  });

  it('connection reset → transient, then success', async () => {
    fake.script(NUM, reply.reset(), JOURNEY);
    expect((await failure(one(NUM))).kind).toBe('transient');
    expect((await one(NUM)).kind).toBe('ok');
  });

  it('connection refused → transient', async () => {
    await fake.close();
    const e = await failure(one(NUM));
    expect(e.kind).toBe('transient');
    fake = await startKuaidi100Fake({ customer: 'CUST123', key: 'secret-key' });
  });
});
