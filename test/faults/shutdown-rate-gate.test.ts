import { afterEach, describe, expect, it } from 'vitest';
import { reply, startKuaidi100Fake, type Kuaidi100Fake } from '../fakes/kuaidi100-server.js';
import { FAST_CONFIG, startFaultEnv, untilReady, waitFor, type FaultEnv } from './harness.js';

/*
 * Issue 13, "shutdown overruns with a hanging carrier": poll jobs waiting in the rate gate (local, then the
 * shared one in Redis) must give up on SIGTERM and never call the carrier after it. Kuaidi100 at 1 query/s
 * answers nothing (each query hangs far past the grace period): one query is in flight, a dozen poll jobs
 * wait for the rate. SIGTERM must end the process with 0 within the grace, and the fake must see no query
 * arrive after the signal.
 */

let env: FaultEnv | undefined;
let fake: Kuaidi100Fake | undefined;
afterEach(async () => {
  await env?.close();
  await fake?.close();
  env = undefined;
  fake = undefined;
});

const N = 12;
const GRACE_MS = 10_000;

describe('SIGTERM while poll jobs wait for the provider rate', () => {
  it('exits 0 within the grace and sends no query after the signal', async () => {
    fake = await startKuaidi100Fake({ customer: 'CUST123', key: 'secret-key' });
    const numbers = Array.from({ length: N }, (_, i) => `YT${String(i).padStart(10, '0')}`);
    for (const n of numbers) fake.script(n, reply.delay(120_000, { json: {} }));
    env = await startFaultEnv();
    const d = await env.startDaemon({
      config: {
        shutdown: { graceMs: GRACE_MS },
        providers: {
          routes: { default: 'kuaidi100' },
          retry: FAST_CONFIG.providers.retry,
          kuaidi100: { enabled: true, customer: 'CUST123', key: 'secret-key', baseUrl: fake.url, qps: 1, timeoutMs: 60_000 },
        },
      },
    });
    await untilReady(d);
    const paidAt = new Date(Date.now() - 3600_000).toISOString();
    const orders = numbers.map((trackingNo, i) => ({ orderId: `G${i}`, paidAt, amount: 100, shipments: [{ carrier: 'YTO', trackingNo, markedShippedAt: paidAt }] }));
    expect((await d.api('POST', '/api/orders', { orders })).json.accepted).toBe(N);
    // One query hangs at the fake; the other poll jobs are started and wait in the gate.
    await waitFor('a query in flight', async () => (fake!.requests.some((r) => r.path === '/poll/query.do') ? true : undefined), 60_000, 100);
    await new Promise((r) => setTimeout(r, 1500)); // the limiter lets more jobs start meanwhile
    const stoppedAt = Date.now();
    // Past the grace the daemon itself exits 1 ("grace period over"): 0 means every job let go in time.
    expect(await d.stop()).toBe(0);
    expect(fake.requests.filter((r) => r.path === '/poll/query.do' && r.at > stoppedAt)).toEqual([]);
    expect(d.lines.filter((l) => l.msg === 'grace period over: exiting with jobs still running')).toEqual([]);
  }, 120_000);
});
