import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { attachGlobalRateGates, GlobalRateGate, GlobalRateGateError } from '../carriers/global-rate-gate.js';
import { createProviders } from '../carriers/index.js';
import { GateStopped, RateGate, rateWindow } from '../carriers/rate-gate.js';
import { systemClock } from '../domain/clock.js';
import { startKuaidi100Fake, type Kuaidi100Fake } from './fakes/kuaidi100-server.js';
import { testConfig } from './helpers/config.js';
import { captureLog } from './helpers/log.js';
import { busiestWindow } from './helpers/rate.js';
import { dropPrefix, uniquePrefix } from './helpers/redis.js';
import { TEST_REDIS_URL } from './helpers/services.js';

/*
 * Issue 13: a provider's qps must hold across every worker process. Two child processes send queries
 * through the real Kuaidi100 client to ONE fake; the fake's own arrival times are the measurement: no
 * window of `durationMs` may hold more than `max` of them (counted, not timed against our speed).
 */

const CHILD = new URL('./helpers/rate-child.ts', import.meta.url).pathname;
const QPS = 4;
const PER_CHILD = 10;

let fake: Kuaidi100Fake;
const prefixes: string[] = [];
beforeAll(async () => {
  fake = await startKuaidi100Fake({ customer: 'CUST123', key: 'secret-key' });
});
afterAll(async () => {
  await fake.close();
  for (const p of prefixes) await dropPrefix(p);
});

function runChild(env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', CHILD], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => (out += String(d)));
    proc.stderr.on('data', (d) => (err += String(d)));
    proc.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`child exited ${code}: ${err}`))));
  });
}

/** Two processes, one fake: the arrival times the fake recorded for this run. */
async function twoWorkers(shared: boolean): Promise<number[]> {
  const prefix = uniquePrefix();
  prefixes.push(prefix);
  const from = fake.requests.length;
  const env = { K100_URL: fake.url, REDIS_URL: TEST_REDIS_URL, PREFIX: prefix, QPS: String(QPS), COUNT: String(PER_CHILD), START_AT: String(Date.now() + 2500), SHARED: shared ? '1' : '0' };
  const outs = await Promise.all([runChild(env), runChild(env)]);
  expect(outs).toEqual([`sent ${PER_CHILD} 0`, `sent ${PER_CHILD} 0`]);
  return fake.requests.slice(from).map((r) => r.at).sort((a, b) => a - b);
}

describe('provider rate across worker processes (shared Redis window)', () => {
  const { max, durationMs } = rateWindow(QPS);

  it('without the shared stage two processes together exceed the provider limit (what the fix is for)', async () => {
    const at = await twoWorkers(false);
    expect(at).toHaveLength(2 * PER_CHILD);
    expect(busiestWindow(at, durationMs)).toBeGreaterThan(max);
  }, 60_000);

  it('with it the fake never sees more than `max` requests in any window', async () => {
    const at = await twoWorkers(true);
    expect(at).toHaveLength(2 * PER_CHILD);
    expect(busiestWindow(at, durationMs)).toBeLessThanOrEqual(max);
  }, 60_000);

  it("a 429's Retry-After answered to one worker holds the others: none of their requests reaches the provider before it has passed", async () => {
    // Two workers as the daemon wires them (each its own Kuaidi100 client, RateGate and Redis connection, the
    // shared stage attached), in one test process so the order is exact: A's request is answered 429, then B
    // sends. Measured on the fake's monotonic clock, like the fault suite's Retry-After test.
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    const RETRY_AFTER_S = 2;
    const worker = async () => {
      const config = testConfig({
        databaseUrl: 'postgres://unused@127.0.0.1:1/unused',
        prefix,
        overrides: { providers: { kuaidi100: { enabled: true, customer: 'CUST123', key: 'secret-key', baseUrl: fake.url, qps: QPS } } },
      });
      const providers = createProviders(config, { breaker: false });
      const redis = new Redis(TEST_REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 3000 });
      await new Promise((r) => redis.once('ready', r));
      attachGlobalRateGates(providers, redis, { prefix, timeoutMs: () => config.providers.kuaidi100.timeoutMs });
      const provider = providers.get('kuaidi100')!;
      return {
        track: (trackingNo: string) =>
          provider.track([{ shipmentId: 1, carrier: 'yuantong', trackingNo, phone: null, paidAt: new Date(), markedShippedAt: null }], {
            clock: systemClock,
            log: captureLog('silent').log,
            timeZone: config.timezone,
          }),
        close: () => {
          redis.disconnect();
          (provider as unknown as { close(): void }).close();
        },
      };
    };
    const [a, b] = [await worker(), await worker()];
    const limitedNo = `YTHOLD${process.pid}`;
    const others = Array.from({ length: 2 * QPS }, (_, i) => `YTHOLD${process.pid}-${i}`);
    const from = fake.requests.length;
    try {
      fake.fault({ kind: 'rate_limited', retryAfterSeconds: RETRY_AFTER_S }, { only: (n) => n === limitedNo });
      await expect(a.track(limitedNo)).rejects.toThrow(/rate limited \(429\)/);
      await Promise.all(others.map((n) => b.track(n)));
    } finally {
      fake.clearFault();
      a.close();
      b.close();
    }
    const seen = fake.requests.slice(from);
    const limited = seen.filter((r) => r.numbers.includes(limitedNo) && r.answeredMono);
    expect(limited).toHaveLength(1);
    const sentByB = seen.filter((r) => others.some((n) => r.numbers.includes(n)));
    expect(sentByB).toHaveLength(others.length);
    const early = sentByB.filter((r) => r.arrivedMono! < limited[0]!.answeredMono! + RETRY_AFTER_S * 1000);
    expect(early.map((r) => `${r.numbers.join(',')} ${(r.arrivedMono! - limited[0]!.answeredMono!).toFixed(1)} ms after the 429`)).toEqual([]);
  }, 30_000);
});

describe('GlobalRateGate', () => {
  it('fails closed when Redis cannot be asked: the request is not sent', async () => {
    const down = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null });
    const gate = new RateGate(2, 1000);
    gate.global = new GlobalRateGate(down, { prefix: uniquePrefix(), provider: 'kuaidi100', max: 2, durationMs: 1000, timeoutMs: 1000 });
    let sent = 0;
    await expect(gate.run(async () => sent++)).rejects.toBeInstanceOf(GlobalRateGateError);
    expect(sent).toBe(0);
    // The local slot was given back: the gate still works once the shared stage is gone.
    gate.global = null;
    await gate.run(async () => sent++);
    expect(sent).toBe(1);
    down.disconnect();
  });

  it('a waiter gives up on the stop signal without sending, and the slot holder releases for the next', async () => {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    const gate = new GlobalRateGate(redis, { prefix, provider: 'kuaidi100', max: 1, durationMs: 300, timeoutMs: 60_000 });
    const release = await gate.acquire();
    const stop = new AbortController();
    const waiting = gate.acquire(stop.signal);
    stop.abort();
    await expect(waiting).rejects.toBeInstanceOf(GateStopped);
    // In flight the slot is held for the lease (timeout + window); released, it is free one window after.
    const freeIn = async () => {
      const [, score] = await redis.zrange(`${prefix}:rate:{kuaidi100}:1:300:slots`, '0', '0', 'WITHSCORES');
      const [sec, usec] = ((await redis.time()) as unknown as (string | number)[]).map((v) => Number(v));
      return Number(score) - (sec! * 1000 + Math.floor(usec! / 1000));
    };
    expect(await freeIn()).toBeGreaterThan(300);
    release();
    await new Promise((r) => setTimeout(r, 50)); // the release is sent without waiting on it
    expect(await freeIn()).toBeLessThanOrEqual(300);
    redis.disconnect();
  });
});
