import { afterEach, describe, expect, it } from 'vitest';
import { postOrders, startFaultEnv, untilReady, waitFor, type FaultEnv } from './harness.js';

/*
 * The daemon as a child process against its own Postgres and Redis, through outages of either. "Nothing
 * lost" here: every parcel posted is polled after the fault, each provider event is stored once, the
 * process never dies of the fault, readiness says 503 during it and 200 after, and SIGTERM ends it with 0.
 */

let env: FaultEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

const N = 150;

async function allPolled(e: FaultEnv, n: number) {
  return waitFor(`all ${n} parcels polled`, async () => {
    const [r] = await e.sql`select count(*)::int as n from shipments where last_polled_at is not null`;
    return r!.n === n ? true : undefined;
  }, 90_000, 500);
}

async function pollingUnderWay(e: FaultEnv) {
  return waitFor('polling under way', async () => {
    const [r] = await e.sql`select count(*)::int as n from shipments where last_polled_at is not null`;
    return r!.n > 0 ? true : undefined;
  }, 60_000, 100);
}

async function eventsStoredOnce(e: FaultEnv) {
  const [r] = await e.sql`select count(*)::int as n, count(distinct (shipment_id, event_key))::int as d from tracking_events`;
  expect(r!.n).toBe(r!.d);
}

describe('Redis down at start', () => {
  it('waits not ready with one log line, starts when Redis appears, then works and stops with 0', async () => {
    env = await startFaultEnv({ redisDown: true });
    const d = await env.startDaemon();
    const notReady = await waitFor('readyz answering', async () => d.readyz().catch(() => undefined), 60_000, 250);
    expect(notReady.status).toBe(503);
    expect(notReady.body.redis).toMatch(/down/);
    expect(notReady.body.postgres).toBe('ok');
    await new Promise((r) => setTimeout(r, 4000)); // many reconnect rounds
    expect(d.lines.some((l) => l.msg === 'parcelwatch started')).toBe(false);
    expect(d.lines.filter((l) => /redis/i.test(String(l.msg))).length).toBeLessThanOrEqual(2);
    await env.redis.start();
    await untilReady(d);
    // The line comes through the child's stdout pipe, which can arrive after /readyz has answered (seen under load).
    await waitFor("the 'parcelwatch started' line", async () => d.lines.some((l) => l.msg === 'parcelwatch started'), 10_000, 100);
    await postOrders(d, 20);
    await allPolled(env, 20);
    expect(await d.stop()).toBe(0);
  });
});

describe('Redis SIGKILL mid-work (AOF) and back', () => {
  it('the daemon rides through; every parcel is polled, events stored once, exit 0', async () => {
    env = await startFaultEnv({ appendonly: true });
    const d = await env.startDaemon();
    await untilReady(d);
    await postOrders(d, N);
    await pollingUnderWay(env);
    await env.redis.kill('SIGKILL');
    await untilReady(d, 503, 20_000);
    await new Promise((r) => setTimeout(r, 5000));
    expect(d.proc.exitCode).toBeNull();
    await env.redis.start();
    await untilReady(d);
    await allPolled(env, N);
    await eventsStoredOnce(env);
    expect(d.lines.filter((l) => l.msg === 'uncaught exception' || l.msg === 'unhandled rejection')).toEqual([]);
    expect(await d.stop()).toBe(0);
  });
});

describe('Postgres fast restart mid-ingest', () => {
  it('the daemon does not die (postgres.js nextWrite crash repaired), is 503 meanwhile, and finishes the work', async () => {
    env = await startFaultEnv();
    const d = await env.startDaemon();
    await untilReady(d);
    await postOrders(d, N);
    await pollingUnderWay(env);
    await env.sql.end({ timeout: 1 });
    env.pg.stop('fast');
    const during = await d.readyz();
    expect(during.status).toBe(503);
    expect(during.body.postgres).toMatch(/down/);
    await new Promise((r) => setTimeout(r, 3000));
    await env.pg.start();
    expect(d.proc.exitCode).toBeNull();
    const postgres = (await import('postgres')).default;
    env.sql = postgres(env.dbUrl, { max: 2, onnotice: () => {} });
    await untilReady(d);
    await allPolled(env, N);
    await eventsStoredOnce(env);
    expect(d.lines.filter((l) => l.msg === 'uncaught exception' || l.msg === 'unhandled rejection')).toEqual([]);
    const code = await d.stop();
    if (code !== 0) console.log(JSON.stringify(d.lines.filter((l) => Number(l.level) >= 40 || /shut|stop|grace/.test(String(l.msg))).slice(-30), null, 1));
    expect(code).toBe(0);
  });
});
