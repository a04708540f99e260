import { describe, expect, it } from 'vitest';
import { Coalescer } from './coalescer.js';

/** A flush whose batches are recorded and answered by the test, one at a time. */
function controlledFlush<I>() {
  const batches: { inputs: I[]; release: (err?: Error) => void }[] = [];
  const waiters: (() => void)[] = [];
  const flush = (inputs: I[]) =>
    new Promise<string[]>((resolve, reject) => {
      batches.push({ inputs, release: (err) => (err ? reject(err) : resolve(inputs.map((i) => `out:${String(i)}`))) });
      waiters.splice(0).forEach((w) => w());
    });
  /** Resolves once `n` batches have been flushed. */
  const flushed = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => (batches.length >= n ? resolve() : waiters.push(check));
      check();
    });
  return { batches, flush, flushed };
}

const settle = (ps: Promise<unknown>[]) => Promise.allSettled(ps);

describe('Coalescer', () => {
  it('submissions of one turn share one flush; each gets its own output', async () => {
    const f = controlledFlush<number>();
    const c = new Coalescer(f.flush, { maxWeight: 100, maxInFlight: 1 });
    const outs = [1, 2, 3].map((i) => c.submit(i));
    await f.flushed(1);
    expect(f.batches[0]!.inputs).toEqual([1, 2, 3]);
    f.batches[0]!.release();
    expect(await Promise.all(outs)).toEqual(['out:1', 'out:2', 'out:3']);
  });

  it('while a flush runs, later submissions wait and go together in the next one', async () => {
    const f = controlledFlush<number>();
    const c = new Coalescer(f.flush, { maxWeight: 100, maxInFlight: 1 });
    const first = c.submit(1);
    await f.flushed(1);
    const later = [2, 3, 4].map((i) => c.submit(i));
    await new Promise((r) => setImmediate(r));
    expect(f.batches).toHaveLength(1); // nothing starts while the one allowed flush runs
    expect(c.pending).toEqual({ queued: 3, inFlight: 1 });
    f.batches[0]!.release();
    await first;
    await f.flushed(2);
    expect(f.batches[1]!.inputs).toEqual([2, 3, 4]);
    f.batches[1]!.release();
    expect(await Promise.all(later)).toEqual(['out:2', 'out:3', 'out:4']);
  });

  it('splits by weight, and runs up to maxInFlight flushes at once', async () => {
    const f = controlledFlush<number>();
    const c = new Coalescer(f.flush, { maxWeight: 5, maxInFlight: 2, weight: (i) => i });
    const outs = [3, 2, 4, 1, 9].map((i) => c.submit(i));
    await f.flushed(2);
    // 3+2 fill the first flush; 4 and 1 the second; 9 (heavier than the cap) waits and then goes alone.
    expect(f.batches.map((b) => b.inputs)).toEqual([
      [3, 2],
      [4, 1],
    ]);
    f.batches[0]!.release();
    await f.flushed(3);
    expect(f.batches[2]!.inputs).toEqual([9]);
    f.batches[1]!.release();
    f.batches[2]!.release();
    expect(await Promise.all(outs)).toEqual(['out:3', 'out:2', 'out:4', 'out:1', 'out:9']);
  });

  it('inputs sharing a key never share a flush nor run at once, and keep their order', async () => {
    const f = controlledFlush<{ id: string; keys: number[] }>();
    const c = new Coalescer(f.flush, { maxWeight: 100, maxInFlight: 2, keys: (i) => i.keys });
    const a = { id: 'a', keys: [1, 2] };
    const b = { id: 'b', keys: [2] }; // conflicts with a
    const d = { id: 'd', keys: [3] };
    const e = { id: 'e', keys: [2, 4] }; // conflicts with a and b: after b
    const outs = [a, b, d, e].map((i) => c.submit(i));
    await f.flushed(1);
    await new Promise((r) => setImmediate(r));
    // Only one flush although two may run: b and e wait for a's keys, and no later input may pass b.
    expect(f.batches.map((x) => x.inputs.map((i) => i.id))).toEqual([['a', 'd']]);
    f.batches[0]!.release();
    await f.flushed(2);
    expect(f.batches[1]!.inputs.map((i) => i.id)).toEqual(['b']);
    f.batches[1]!.release();
    await f.flushed(3);
    expect(f.batches[2]!.inputs.map((i) => i.id)).toEqual(['e']);
    f.batches[2]!.release();
    await Promise.all(outs);
  });

  it('a failed flush fails all its inputs, unless the error is one to isolate: then each is retried alone', async () => {
    const poison = new Error('bad row');
    poison.name = 'PostgresError';
    const flush = async (inputs: number[]) => {
      if (inputs.includes(13)) throw poison;
      return inputs.map((i) => i * 10);
    };
    const isolating = new Coalescer(flush, { maxWeight: 100, maxInFlight: 1, isolate: (err) => (err as Error).name === 'PostgresError' });
    const r1 = await settle([1, 13, 2].map((i) => isolating.submit(i)));
    expect(r1.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(r1.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([10, 'bad row', 20]);

    const plain = new Coalescer(flush, { maxWeight: 100, maxInFlight: 1 });
    const r2 = await settle([1, 13, 2].map((i) => plain.submit(i)));
    expect(r2.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
  });

  it('a flush answering the wrong number of outputs fails its inputs', async () => {
    const c = new Coalescer(async (inputs: number[]) => inputs.slice(1), { maxWeight: 100, maxInFlight: 1 });
    const r = await settle([1, 2].map((i) => c.submit(i)));
    expect(r.every((x) => x.status === 'rejected')).toBe(true);
    // and it keeps working afterwards
    const ok = new Coalescer(async (inputs: number[]) => inputs, { maxWeight: 100, maxInFlight: 1 });
    expect(await ok.submit(7)).toBe(7);
  });
});
