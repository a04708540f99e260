// Child process of test/rate-across-processes.test.ts: one "worker process" sending Kuaidi100 queries through
// the real client (createProviders: its RateGate) and, with SHARED=1, the shared stage in Redis exactly as
// the daemon's workers attach it. It waits for START_AT (wall ms), sends COUNT queries at once and prints
// `sent <ok> <notSent>`. Env: K100_URL, REDIS_URL, PREFIX, QPS, COUNT, START_AT, SHARED.
import { Redis } from 'ioredis';
import { createProviders } from '../../carriers/index.js';
import { attachGlobalRateGates } from '../../carriers/global-rate-gate.js';
import { systemClock } from '../../domain/clock.js';
import { testConfig } from './config.js';
import { captureLog } from './log.js';

const env = process.env;
const config = testConfig({
  databaseUrl: 'postgres://unused@127.0.0.1:1/unused',
  prefix: env.PREFIX!,
  overrides: { providers: { kuaidi100: { enabled: true, customer: 'CUST123', key: 'secret-key', baseUrl: env.K100_URL!, qps: Number(env.QPS) } } },
});
const providers = createProviders(config, { breaker: false });
const redis = new Redis(env.REDIS_URL!, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 3000 });
await new Promise((r) => redis.once('ready', r));
if (env.SHARED === '1') attachGlobalRateGates(providers, redis, { prefix: env.PREFIX!, timeoutMs: () => config.providers.kuaidi100.timeoutMs });
const provider = providers.get('kuaidi100')!;
await new Promise((r) => setTimeout(r, Math.max(0, Number(env.START_AT) - Date.now())));
let ok = 0;
let notSent = 0;
await Promise.all(
  Array.from({ length: Number(env.COUNT) }, async (_, i) => {
    try {
      await provider.track([{ shipmentId: i + 1, carrier: 'yuantong', trackingNo: `YT${process.pid}${i}`, phone: null, paidAt: new Date(), markedShippedAt: null }], {
        clock: systemClock,
        log: captureLog('silent').log,
        timeZone: config.timezone,
      });
      ok++;
    } catch {
      notSent++;
    }
  }),
);
process.stdout.write(`sent ${ok} ${notSent}\n`);
redis.disconnect();
(providers.get('kuaidi100') as unknown as { close(): void }).close();
