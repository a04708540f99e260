import { describe, expect, it } from 'vitest';
import {
  expectAllPolled,
  expectEventsStoredOnce,
  expectExceptionsOnce,
  expectNoStuckJobs,
  expectServesThenStops,
  orderIdOf,
  k100No,
  metricsText,
  metricValue,
  postKuaidi100Orders,
  servedNumbers,
  providerFaultRuns,
  uncaughtLines,
  waitFor,
  type FaultEnv,
  type ProviderFakes,
} from './harness.js';

/*
 * Tracking provider faults, end to end: the daemon as a child process polls the Kuaidi100 fake (real wire
 * format and signature) over HTTP, the fake misbehaves for a while, then recovers. Nothing lost: every
 * event served is stored once, every parcel ends polled, the exceptions the journeys imply are open once
 * with one task per order, failed attempts are visible, no job is stuck, the daemon serves and exits 0.
 */

const start = providerFaultRuns();


/** Requests the fake answered with fault `kind` (or saw and never answered: hang). */
const faulted = (f: ProviderFakes, kind: string) => f.fake.requests.filter((r) => r.answer?.fault === kind);

async function untilAllPolled(e: FaultEnv, n: number) {
  await waitFor(`all ${n} parcels polled`, async () => {
    const [r] = await e.sql`select count(*)::int as n from shipments where last_polled_at is not null`;
    return r!.n === n;
  }, 60_000, 250);
}

/** The carrier_problem exceptions the served journeys imply, and their tasks, have been written. */
async function untilTasks(e: FaultEnv, f: ProviderFakes, nums: string[]) {
  const served = servedNumbers(f.fake.requests);
  const want = nums.filter((n) => served.has(n) && f.journeys.isProblem(n)).length;
  await waitFor(`${want} outreach tasks`, async () => {
    const [r] = await e.sql`select count(*)::int as n from outreach_tasks`;
    return r!.n >= want;
  }, 30_000, 250);
}

/**
 * Checks (a), (b), all polled, (d); returns the failed jobs for the test to look at. Every number was served
 * well at least once, except `neverServed` (a fault that lasts beyond the test for them).
 */
async function expectNothingLost(e: FaultEnv, f: ProviderFakes, nums: string[], neverServed: string[] = []) {
  await expectAllPolled(e.sql, { except: neverServed });
  const served = servedNumbers(f.fake.requests);
  expect(nums.filter((n) => !served.has(n))).toEqual(neverServed);
  await expectEventsStoredOnce(e.sql, served, f.journeys.eventCount);
  const implied = nums.filter((n) => served.has(n) && f.journeys.isProblem(n));
  await expectExceptionsOnce(e.sql, implied.map((n) => ({ orderId: orderIdOf(n), type: 'carrier_problem' })));
  return expectNoStuckJobs(e.redis.url);
}

describe('provider faults (Kuaidi100 fake over HTTP)', () => {
  it('5xx for a while, then OK: retried with backoff through the breaker, nothing lost, failures visible', async () => {
    const { e, f, d } = await start();
    f.fake.fault({ kind: 'status', status: 503 });
    const nums = await postKuaidi100Orders(d, 40);
    await waitFor('the breaker opened on 503s', async () => d.lines.some((l) => l.msg === 'provider circuit breaker opened: calls fail fast'), 30_000, 100);
    f.fake.clearFault();
    await untilAllPolled(e, nums.length);
    await untilTasks(e, f, nums);
    const failedJobs = await expectNothingLost(e, f, nums);
    expect(failedJobs).toEqual([]);
    // The failed attempts are visible: the metric, and a job-failed line naming the status.
    expect(faulted(f, 'status').length).toBeGreaterThan(0);
    const metrics = await metricsText(d);
    expect(metricValue(metrics, 'parcelwatch_provider_requests_total', { provider: 'kuaidi100', result: 'transient' })).toBeGreaterThan(0);
    expect(metricValue(metrics, 'parcelwatch_provider_requests_total', { provider: 'kuaidi100', result: 'ok' })).toBeGreaterThanOrEqual(nums.length);
    expect(d.lines.some((l) => l.msg === 'job failed' && /server error 503/.test(JSON.stringify(l.err)))).toBe(true);
    await expectServesThenStops(d);
  });

  it('429 with Retry-After: no request reaches the provider before Retry-After has elapsed, then nothing lost', async () => {
    // qps 1 (Kuaidi100's real limit): one request in flight at a time, so every request the fake sees after
    // a 429 was sent after the daemon read that 429.
    const { e, f, d } = await start({ providers: { kuaidi100: { qps: 1 } } });
    const RETRY_AFTER_S = 2;
    f.fake.fault({ kind: 'rate_limited', retryAfterSeconds: RETRY_AFTER_S });
    const nums = await postKuaidi100Orders(d, 12);
    await waitFor('two 429s answered', async () => faulted(f, 'rate_limited').filter((r) => r.answeredAt).length >= 2, 40_000, 100);
    f.fake.clearFault();
    await untilAllPolled(e, nums.length);
    await untilTasks(e, f, nums);
    // The behaviour: measured on the fake's own clock, no request arrived inside any Retry-After window.
    // The fake's monotonic clock: wall-clock ms would be off by NTP slewing and rounding at the boundary.
    const limited = faulted(f, 'rate_limited').filter((r) => r.answeredMono);
    const early = f.fake.requests.flatMap((r) =>
      limited
        .filter((l) => r.arrivedMono! > l.answeredMono! && r.arrivedMono! < l.answeredMono! + RETRY_AFTER_S * 1000)
        .map((l) => `${r.numbers.join(',')} ${(r.arrivedMono! - l.answeredMono!).toFixed(1)} ms after a 429`),
    );
    expect(early).toEqual([]);
    const failedJobs = await expectNothingLost(e, f, nums);
    expect(failedJobs).toEqual([]);
    expect(d.lines.some((l) => l.msg === 'job failed' && /rate limited \(429\)/.test(JSON.stringify(l.err)))).toBe(true);
    await expectServesThenStops(d);
  });

  it('hang (never answers): the request timeout ends each call, jobs are retried, nothing lost; SIGTERM during a hang still exits 0', async () => {
    const { e, f, d } = await start();
    f.fake.fault({ kind: 'hang' });
    const nums = await postKuaidi100Orders(d, 30);
    await waitFor('a poll timed out', async () => d.lines.some((l) => l.msg === 'job failed' && /timeout/.test(JSON.stringify(l.err))), 30_000, 100);
    f.fake.clearFault();
    await untilAllPolled(e, nums.length);
    await untilTasks(e, f, nums);
    expect(await expectNothingLost(e, f, nums)).toEqual([]);
    expect((await d.readyz()).status).toBe(200);
    expect(uncaughtLines(d)).toEqual([]);
    // Hang again with work in flight, and stop: the calls end at their timeout, shutdown fits the grace
    // (past it the daemon exits 1).
    f.fake.fault({ kind: 'hang' });
    const before = faulted(f, 'hang').length;
    await postKuaidi100Orders(d, 10, { from: 100 });
    await waitFor('calls hanging', async () => faulted(f, 'hang').length > before, 30_000, 100);
    expect(await d.stop()).toBe(0);
    expect(d.lines.some((l) => /grace/i.test(String(l.msg)))).toBe(false);
  });

  it('a poison poll job (its number always answers 503) fails after providers.retry.attempts with its reason; the other parcels flow, and a NUL in a scan text is stored without it', async () => {
    const ATTEMPTS = 3;
    const { e, f, d } = await start({ providers: { retry: { attempts: ATTEMPTS, backoffMs: 300 } } });
    // One number whose every query fails: its job's attempts run out while the queue keeps flowing.
    const poison = k100No(7);
    f.fake.fault({ kind: 'status', status: 503 }, { only: (n) => n === poison });
    // A NUL character in another number's scan text: Postgres text cannot hold it. It used to fail that parcel's
    // write on every poll (the parcel was never tracked); it is now dropped from the text and the rest stored.
    const nul = k100No(8);
    const nulBody = f.journeys.body(nul);
    nulBody.data[0]!.context += ' \u0000';
    f.fake.script(nul, nulBody);
    const nums = await postKuaidi100Orders(d, 30);
    const failed = await waitFor('the poison job failed for good', async () => {
      const jobs = await expectNoStuckJobs(e.redis.url);
      return jobs.length > 0 ? jobs : undefined;
    }, 45_000, 250);
    const [ship] = await e.sql`select id from shipments where tracking_no = ${poison}`;
    expect(failed.map((j) => ({ queue: j.queue, attemptsMade: j.attemptsMade, data: j.data }))).toEqual([
      { queue: 'poll-kuaidi100', attemptsMade: ATTEMPTS, data: { provider: 'kuaidi100', shipmentIds: [Number(ship!.id)] } },
    ]);
    // The reason ops read names the provider and the number.
    expect(failed[0]!.failedReason).toBe(`kuaidi100: server error 503 (tracking number ${poison})`);
    expect(d.lines.some((l) => l.msg === 'job failed after all attempts' && l.jobId === failed[0]!.id)).toBe(true);
    // Bounded: one query per attempt, never more.
    expect(f.fake.requests.filter((r) => r.numbers.includes(poison))).toHaveLength(ATTEMPTS);
    const others = nums.filter((n) => n !== poison);
    await untilAllPolled(e, others.length);
    const nulTexts = await e.sql`select e.text from tracking_events e join shipments s on s.id = e.shipment_id where s.tracking_no = ${nul}`;
    expect(nulTexts.length).toBe(f.journeys.eventCount(nul));
    expect(nulTexts.some((r) => r.text === nulBody.data[0]!.context.replace('\u0000', ''))).toBe(true);
    await untilTasks(e, f, others);
    await expectAllPolled(e.sql, { except: [poison] });
    const served = servedNumbers(f.fake.requests);
    served.delete(poison);
    await expectEventsStoredOnce(e.sql, served, f.journeys.eventCount);
    await expectExceptionsOnce(e.sql, others.filter((n) => f.journeys.isProblem(n)).map((n) => ({ orderId: orderIdOf(n), type: 'carrier_problem' })));
    await expectServesThenStops(d);
  });

  it.each(['garbage', 'truncated'] as const)('%s reply for some numbers: quarantined with an error naming provider and number, the other parcels unharmed, nothing lost after', async (kind) => {
    const { e, f, d } = await start();
    const bad = (num: string) => Number(num.replace(/\D/g, '')) % 7 === 3;
    f.fake.fault({ kind }, { only: bad });
    const nums = await postKuaidi100Orders(d, 30);
    const badNums = nums.filter(bad);
    const good = nums.filter((n) => !bad(n));
    // While the fault lasts the other parcels are polled and stored in full.
    await waitFor('the good parcels polled', async () => {
      const [r] = await e.sql`select count(*)::int as n from shipments where last_polled_at is not null and tracking_no = any(${e.sql.array(good)})`;
      return r!.n === good.length;
    }, 60_000, 250);
    await waitFor('every bad number answered badly', async () => badNums.every((n) => faulted(f, kind).some((r) => r.numbers.includes(n) && r.answeredAt)), 30_000, 100);
    await waitFor('quarantined', async () => {
      const q = await e.sql`select distinct s.tracking_no from poll_quarantine q join shipments s on s.id = q.shipment_id where q.provider = 'kuaidi100'`;
      return q.length === badNums.length;
    }, 30_000, 250);
    const quarantined = await e.sql`
      select s.tracking_no, q.error, s.poll_error_kind, s.last_polled_at, c.next_poll_at
      from poll_quarantine q join shipments s on s.id = q.shipment_id join shipment_schedule c on c.shipment_id = s.id`;
    for (const n of badNums) {
      const line = d.lines.find((l) => l.provider === 'kuaidi100' && l.trackingNo === n && String(l.msg) === `malformed provider reply quarantined: kuaidi100: reply is not JSON (tracking number ${n})`);
      expect(line, `a log line naming kuaidi100 and ${n}: ${JSON.stringify(d.lines.filter((l) => JSON.stringify(l).includes(n)).slice(0, 3))}`).toBeDefined();
      // The parcel is polled (the error recorded on it) and asked again later, never dropped.
      const q = quarantined.find((r) => r.tracking_no === n)!;
      expect(q.error).toBe(`kuaidi100: reply is not JSON (tracking number ${n})`);
      expect(q.poll_error_kind).toBe('malformed');
      expect(q.last_polled_at).toBeNull();
      expect(q.next_poll_at.getTime()).toBeGreaterThan(Date.now());
    }
    expect(quarantined.map((r) => r.tracking_no).sort()).toEqual([...badNums].sort());
    expect(metricValue(await metricsText(d), 'parcelwatch_provider_requests_total', { provider: 'kuaidi100', result: 'malformed' })).toBeGreaterThanOrEqual(badNums.length);
    f.fake.clearFault();
    // A bad number is asked again after the provider's per-number floor (Kuaidi100: minPollIntervalMinutes,
    // at least 30, counts every query made), so inside the test its journey is never served: (a) expects
    // nothing stored for it, and it stays scheduled (checked above), not lost.
    await untilTasks(e, f, nums);
    expect(await expectNothingLost(e, f, nums, badNums)).toEqual([]);
    await expectServesThenStops(d);
  });
});
