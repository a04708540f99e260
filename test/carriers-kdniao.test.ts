import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError, type TrackResult } from '../carriers/carrier.js';
import { KdniaoProvider, type KdniaoConfig } from '../carriers/kdniao/client.js';
import { startKdniaoFake, type KdniaoFake } from './fakes/kdniao-server.js';
import { reply } from './fakes/kuaidi100-server.js';
import { failure, fixture, providerContext } from './helpers/provider.js';

const J8001 = fixture('kdniao-8001.json');
const J1002 = fixture('kdniao-1002.json');
const NUM = '773014136444784';

let fake: KdniaoFake;
let provider: KdniaoProvider;
const ctx = providerContext('2019-11-20T00:00:00Z');

function cfg(over: Partial<KdniaoConfig> = {}): KdniaoConfig {
  return {
    enabled: true,
    baseUrl: fake.url,
    qps: 10,
    concurrency: 4,
    timeoutMs: 300,
    minPollIntervalMinutes: 60,
    eBusinessId: '1604210',
    appKey: 'app-key-secret',
    requestType: '8001',
    dailyQuota: 500,
    mode: 'poll',
    ...over,
  };
}

async function one(trackingNo: string, carrier = 'STO', phone?: string): Promise<TrackResult> {
  const [r] = await provider.track([{ shipmentId: 1, carrier, trackingNo, phone: phone ?? null }], ctx);
  return r!;
}

beforeEach(async () => {
  fake = await startKdniaoFake({ eBusinessId: '1604210', appKey: 'app-key-secret' });
  provider = new KdniaoProvider(cfg());
});
afterEach(async () => {
  provider.close();
  await fake.close();
});

describe('Kdniao client against the fake', () => {
  it('8001 journey: signed form fields, statuses, UTC times', async () => {
    fake.script(NUM, J8001);
    const r = await one(NUM);
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(r.events).toHaveLength(14);
    expect(r.events[0]!.occurredAt.toISOString()).toBe('2019-11-14T14:29:04.000Z');
    expect(r.events.at(-1)!.status).toBe('delivered');
    expect(r.summaryStatus).toBe('delivered');
    const form = new URLSearchParams(fake.requests[0]!.body);
    expect(form.get('RequestType')).toBe('8001');
    expect(form.get('DataType')).toBe('2');
    expect(JSON.parse(form.get('RequestData')!)).toEqual({ OrderCode: '', ShipperCode: 'STO', LogisticCode: NUM });
    expect(provider.requestType).toBe('8001');
  });

  it('1002 request type and SF phone digits as CustomerName (checked by the fake)', async () => {
    provider.close();
    provider = new KdniaoProvider(cfg({ requestType: '1002' }));
    fake.requirePhone('118461988807', '4321');
    fake.script('118461988807', J1002);
    const r = await one('118461988807', 'SF', '+86 139 0000 4321');
    expect(r).toMatchObject({ kind: 'ok', summaryStatus: 'delivered' });
    const form = new URLSearchParams(fake.requests[0]!.body);
    expect(form.get('RequestType')).toBe('1002');
    expect(JSON.parse(form.get('RequestData')!).CustomerName).toBe('4321');
    expect((await one('118461988807', 'SF', '13900001111')).kind).toBe('rejected');
  });

  it('unknown number → not_found (Success with empty Traces)', async () => {
    expect(await one('NOPE')).toMatchObject({ kind: 'not_found' });
  });

  it('wrong AppKey → auth (DataSign verified by the fake); wrong EBusinessID → auth', async () => {
    provider.close();
    provider = new KdniaoProvider(cfg({ appKey: 'nope' }));
    expect((await failure(one(NUM))).kind).toBe('auth');
    provider.close();
    provider = new KdniaoProvider(cfg({ eBusinessId: '999' }));
    expect((await failure(one(NUM))).kind).toBe('auth');
  });

  it('Success:false reasons: quota, per-number rejection, 412 flag', async () => {
    fake.script('Q', { Success: false, Reason: '今日调用次数已超出上限' });
    expect((await failure(one('Q'))).kind).toBe('quota');
    fake.script('R', { Success: false, Reason: '单号格式错误' });
    expect(await one('R')).toMatchObject({ kind: 'rejected', message: '单号格式错误' });
    fake.script('L', {
      Success: true,
      State: '2',
      StateEx: '412',
      Traces: [{ AcceptTime: '2019-11-19 14:52:21', AcceptStation: '快件已暂存至菜鸟驿站', Action: '412', Location: '常州市' }],
    });
    expect(await one('L')).toMatchObject({ kind: 'ok', flags: ['kdniao:412'] });
  });

  it('429 then success', async () => {
    fake.script(NUM, reply.tooMany('4'), J8001);
    const e = await failure(one(NUM));
    expect(e).toMatchObject({ kind: 'transient', opts: expect.objectContaining({ retryAfterMs: 4000 }) });
    expect((await one(NUM)).kind).toBe('ok');
  });

  it('timeout → transient; 503 → transient; garbage → malformed', async () => {
    fake.script(NUM, reply.delay(2000, { json: J8001 }), reply.status(503), reply.garbage('<!DOCTYPE html>维护中'));
    expect((await failure(one(NUM))).kind).toBe('transient');
    expect((await failure(one(NUM))).kind).toBe('transient');
    const e = await failure(one(NUM));
    expect(e.kind).toBe('malformed');
    expect(e.opts.raw).toContain('维护中');
  });

  it('history re-sent with one new event', async () => {
    const older = { ...J8001, StateEx: '202', State: '2', Traces: J8001.Traces.slice(0, 11) };
    const newer = { ...J8001, StateEx: '301', State: '3', Traces: J8001.Traces.slice(0, 12) };
    fake.script(NUM, older, newer);
    const a = await one(NUM);
    const b = await one(NUM);
    if (a.kind !== 'ok' || b.kind !== 'ok') throw new Error('expected ok');
    expect(b.events).toHaveLength(a.events.length + 1);
    expect(b.events.slice(0, -1).map((e) => e.occurredAt.getTime())).toEqual(a.events.map((e) => e.occurredAt.getTime()));
    expect(a.summaryStatus).toBe('out_for_delivery');
    expect(b.events.at(-1)!.status).toBe('delivered');
  });

  it('out-of-order traces (1002 sample) come back ascending', async () => {
    fake.script('118461988807', J1002);
    const r = await one('118461988807');
    if (r.kind !== 'ok') throw new Error('expected ok');
    const t = r.events.map((e) => e.occurredAt.getTime());
    expect(t).toEqual([...t].sort((x, y) => x - y));
  });

  it('wrong envelope → malformed ProviderError', async () => {
    fake.script(NUM, { hello: 'world' });
    expect((await failure(one(NUM))).kind).toBe('malformed');
  });
});
