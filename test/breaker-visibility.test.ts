import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError } from '../carriers/carrier.js';
import type { CircuitBreaker } from '../carriers/circuit-breaker.js';
import { fixedClock } from '../domain/clock.js';
import { pollTracking } from '../jobs/poll-tracking.js';
import { createDeps } from '../worker/deps.js';
import { testConfig } from './helpers/config.js';
import { createTestDb, type TestDb } from './helpers/db.js';
import { captureLog } from './helpers/log.js';
import { uniquePrefix } from './helpers/redis.js';

/* The circuit breaker is visible: a log line and a metric when it opens and closes; its rejections are not provider failures. */
let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  await db?.drop();
});

describe('circuit breaker visibility', () => {
  it('logs and counts open/half-open/closed, and a rejection is counted as circuit_open, not transient', async () => {
    const clock = fixedClock('2026-11-12T02:00:00Z');
    const { lines, log } = captureLog();
    const config = testConfig({ databaseUrl: db.url, prefix: uniquePrefix(), overrides: { providers: { circuitBreaker: { failureThreshold: 2, openSeconds: 60 } } } });
    const { deps, db: h } = await createDeps(config, clock, log);
    try {
      const breaker = (deps.providers.get('sandbox') as unknown as { breaker: CircuitBreaker }).breaker;
      const fail = () => breaker.exec(() => Promise.reject(new ProviderError('sandbox', 'transient', 'HTTP 503')));
      await fail().catch(() => {});
      await fail().catch(() => {});
      expect(lines.filter((l) => l.msg === 'provider circuit breaker opened: calls fail fast')).toHaveLength(1);
      let text = await deps.metrics.registry.metrics();
      expect(text).toContain('parcelwatch_provider_circuit_open{provider="sandbox"} 1');
      expect(text).toContain('parcelwatch_provider_circuit_transitions_total{provider="sandbox",to="open"} 1');

      const [o] = await deps.sql`insert into orders (platform, external_id, paid_at) values ('taobao', 'B1', '2026-11-11T00:00:00Z') returning id`;
      const [s] = await deps.sql`insert into shipments (order_id, carrier, tracking_no) values (${o!.id}, 'ZTO', 'ZT1234567') returning id`;
      const err = await pollTracking
        .handle({ provider: 'sandbox', shipmentIds: [Number(s!.id)] }, deps, { log, jobId: 'b', attempt: 1, enqueue: async () => {} })
        .catch((e: Error) => e);
      expect((err as ProviderError).opts.circuitOpen).toBe(true);
      text = await deps.metrics.registry.metrics();
      expect(text).toContain('parcelwatch_provider_requests_total{provider="sandbox",result="circuit_open"} 1');
      expect(text).not.toContain('result="transient"');

      clock.set('2026-11-12T02:01:01Z');
      await breaker.exec(async () => 'ok');
      text = await deps.metrics.registry.metrics();
      expect(text).toContain('parcelwatch_provider_circuit_open{provider="sandbox"} 0');
      expect(lines.map((l) => l.msg).filter((m) => String(m).startsWith('provider circuit breaker'))).toEqual([
        'provider circuit breaker opened: calls fail fast',
        'provider circuit breaker half open: one trial call',
        'provider circuit breaker closed',
      ]);
    } finally {
      await h.close();
    }
  });
});
