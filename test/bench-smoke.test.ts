import { describe, expect, it } from 'vitest';
import { runBench } from '../bench/harness.js';
import { ADMIN_DATABASE_URL, TEST_REDIS_URL } from './helpers/services.js';

/** The benchmark harness at a tiny size, so it cannot rot. Correctness facts only: no timing assertions. */
describe('bench harness (smoke)', () => {
  it('runs every scenario at 300 shipments and reports the correctness facts', { timeout: 180_000 }, async () => {
    const r = await runBench({ shipments: 300, reps: 1, jsonOut: false, log: () => {}, adminUrl: ADMIN_DATABASE_URL, redisUrl: TEST_REDIS_URL });

    expect(r.machine.cores).toBeGreaterThan(0);
    expect(r.versions.postgres).not.toBe('unknown');
    expect(r.versions.redis).not.toBe('unknown');
    expect(r.jsonFile).toBeNull();
    expect(r.table).toContain('order import');
    expect(r.ceilings.some((l) => l.includes('1 M parcels/h needs 278 numbers/s'))).toBe(true);

    const row = (label: string) => {
      const found = r.rows.find((x) => x.label === label);
      expect(found, label).toBeDefined();
      return found!;
    };
    for (const x of r.rows.filter((x) => x.measured)) {
      expect(x.seconds).toBeGreaterThanOrEqual(0);
      expect(x.runs.ours.length).toBe(1);
    }

    const imp = row('order import (CSV)');
    expect(imp.items).toBe(300);
    expect(imp.facts.shipmentsImported).toEqual([300]);
    expect(imp.facts.rejectedRows).toEqual([0]);
    expect(imp.baselineItemsPerSec).toBeGreaterThan(0);
    expect(imp.peakRssMb).toBeGreaterThan(0);

    const fresh = row('tracking ingestion (fresh)');
    expect(fresh.items).toBeGreaterThan(300 * 6);
    expect(fresh.facts.eventRowsWritten).toEqual([fresh.items]);
    expect(fresh.facts.baselineRowsWritten).toEqual([fresh.items]);
    const replay = row('tracking ingestion (100 % replay)');
    expect(replay.facts.eventRowsWritten).toEqual([0]);
    expect(replay.facts.eventRowsWrittenByXmin).toEqual([0]);
    expect(replay.facts.baselineRowsWritten).toEqual([0]);

    const first = row('detection sweep (first)');
    expect(first.facts.exceptionsOpened![0]).toBeGreaterThan(0);
    expect(first.facts.baselineCount![0]).toBe(30);
    const repeat = row('detection sweep (repeat)');
    expect(repeat.facts.rowsWritten).toEqual([0]);

    const enq = row('enqueue: plan-polls → BullMQ');
    expect(enq.facts.jobsAdded).toEqual([300]);
    const second = row('enqueue: second run, same slot');
    expect(second.facts.jobsAdded).toEqual([0]);
    expect(second.facts.jobsAddedOnReplanWithReset).toEqual([0]);

    const poll = r.rows.find((x) => x.label.startsWith('poll workers'))!;
    expect(poll.measured).toBe(true);
    expect(poll.facts.failedJobs).toEqual([0]);
    expect(poll.facts.eventRows![0]).toBeGreaterThan(300 * 6);
    expect(poll.facts.maxRequestsPerSecond![0]).toBeLessThanOrEqual(500);

    for (const label of ['hub-moved latency', 'daemon memory (start --role all)']) {
      expect(row(label).measured).toBe(false);
    }
  });
});
