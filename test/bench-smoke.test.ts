import { describe, expect, it } from 'vitest';
import { runBench } from '../bench/harness.js';
import { repetitionBudget } from '../bench/types.js';
import { timeline } from '../bench/generate.js';
import { eventKey } from '../domain/event-key.js';
import { ADMIN_DATABASE_URL, TEST_REDIS_URL } from './helpers/services.js';

/** The benchmark harness at a tiny size, so it cannot rot. Correctness facts only: no timing assertions. */
describe('bench harness (smoke)', () => {
  it('runs every scenario at 300 shipments (the daemon child at 100) and reports the correctness facts', { timeout: 300_000 }, async () => {
    // The daemon child (scenario 7) pays a fixed start-up; 100 shipments keep the smoke test short.
    const r = await runBench({
      shipments: 300,
      shipmentsFor: { memory: 100, push: 100 },
      reps: 1,
      jsonOut: false,
      log: () => {},
      adminUrl: ADMIN_DATABASE_URL,
      redisUrl: TEST_REDIS_URL,
    });

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

    // Scenario 6: every chased parcel's new hub reaches the customer endpoint exactly once, signed.
    const lat = row('hub-moved latency');
    expect(lat.measured).toBe(true);
    expect(lat.items).toBe(300);
    expect(lat.facts.allArrivedInTime).toEqual([1]);
    expect(lat.facts.pollRequests).toEqual([300]);
    expect(lat.facts.messagesReceived).toEqual([300]);
    expect(lat.facts.duplicateDeliveries).toEqual([0]);
    expect(lat.facts.unmatchedMessages).toEqual([0]);
    expect(lat.facts.badSignatures).toEqual([0]);
    expect(lat.facts.chasesWithExactlyOneSent).toEqual([300]);
    expect(lat.facts.failedJobs).toEqual([0]);
    expect(Number.isFinite(lat.facts.p99Ms![0])).toBe(true);
    expect(lat.baselineItemsPerSec).toBeGreaterThan(0);

    // Scenario 6b: the same through signed pushes at the hook: every push acknowledged, one message per chase.
    const latPush = r.rows.find((x) => x.scenario === '6b');
    expect(latPush, 'latency through pushes').toBeDefined();
    expect(latPush!.facts.pushes).toEqual([300]);
    expect(latPush!.facts.failedAcks).toEqual([0]);
    expect(latPush!.facts.pollRequests).toEqual([0]);
    expect(latPush!.facts.allArrivedInTime).toEqual([1]);
    expect(latPush!.facts.messagesReceived).toEqual([300]);
    expect(latPush!.facts.duplicateDeliveries).toEqual([0]);
    expect(latPush!.facts.unmatchedMessages).toEqual([0]);
    expect(latPush!.facts.chasesWithExactlyOneSent).toEqual([300]);

    // Scenario 7: a real `parcelwatch start --role all` child worked through the whole book and stopped cleanly.
    const push = r.rows.find((x) => x.scenario === '8');
    expect(push, 'push scenario').toBeDefined();
    expect(push!.items).toBe(120); // 100 numbers + 20 % re-sent
    expect(push!.facts.failedAcks).toEqual([0]);
    const events = Array.from({ length: 100 }, (_, i) => new Set(timeline(i + 1).map((e) => eventKey(e.at, e.context))).size).reduce((a, b) => a + b, 0);
    expect(push!.facts.eventRows).toEqual([events]);

    const mem = row('daemon memory (start --role all)');
    expect(mem.facts.drained).toEqual([1]);
    expect(mem.facts.shipmentsSeeded).toEqual([100]);
    expect(mem.facts.shipmentsPolled).toEqual([100]);
    expect(mem.items).toBe(100);
    expect(mem.facts.rejectedPollRequests).toEqual([0]);
    expect(mem.facts.eventRows![0]).toBeGreaterThan(100 * 6);
    expect(mem.facts.exceptions![0]).toBeGreaterThan(0);
    expect(mem.facts.outreachTasks![0]).toBeGreaterThan(0);
    expect(mem.facts.customerMessages![0]).toBeGreaterThan(0);
    expect(mem.facts.customerMessages).toEqual(mem.facts.customerMessagesSent);
    expect(mem.facts.agentWebhooks![0]).toBeGreaterThan(0);
    expect(mem.facts.failedJobs).toEqual([0]);
    expect(mem.facts.exitCode).toEqual([0]);
    const idle = row('daemon memory: idle (nothing due)');
    expect(idle.peakRssMb).toBeGreaterThan(0);
    expect(mem.peakRssMb).toBeGreaterThanOrEqual(idle.peakRssMb!);
  });
});

describe('bench repetition budget', () => {
  it('always runs the first repetition, then another only while reps allow and the pace fits the budget', () => {
    let now = 0;
    const another = repetitionBudget(3, 300, 0, () => now);
    expect(another(0)).toBe(true);
    now = 100_000; // one repetition took 100 s: a second ends at 200 s
    expect(another(1)).toBe(true);
    now = 200_000; // a third ends at 300 s: exactly the budget
    expect(another(2)).toBe(true);
    expect(another(3)).toBe(false); // reps exhausted
    now = 160_000; // one repetition took 160 s: a second would end at 320 s
    expect(another(1)).toBe(false);
    expect(repetitionBudget(3, 0, 0, () => 0)(1)).toBe(true); // zero-length repetitions fit any budget
    expect(repetitionBudget(1, 10_000, 0, () => 1)(1)).toBe(false);
  });
});
