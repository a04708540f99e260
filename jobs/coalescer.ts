/**
 * Coalesce the same kind of work submitted by jobs running at once in one process into one call.
 *
 * A poll job carries one tracking number when the provider's API takes one (Kuaidi100, Kdniao): the
 * BullMQ limiter counts jobs, so one job per request is what keeps the provider's rate limit exact.
 * Its database work, though, does not need to be per job: the jobs a worker runs concurrently submit
 * their loads and writes here and share one statement per flush. Every job still waits for its own
 * work to be done (committed) before it completes, so retries and idempotency are unchanged.
 *
 * Flushing is adaptive, without timers: when nothing is in flight a submission is flushed on the next
 * turn of the event loop (alone, if it is alone); while `maxInFlight` flushes run, submissions queue up
 * and go together in the next one. Light load keeps latency, heavy load gets larger batches.
 */
export interface CoalescerOptions<I> {
  /** Most total weight in one flush (an input heavier than this still goes alone). */
  maxWeight: number;
  /** Flushes running at once. */
  maxInFlight: number;
  /** Weight of an input (default 1), e.g. its number of shipments. */
  weight?: (input: I) => number;
  /**
   * Keys an input claims: two inputs sharing a key never go in the same flush nor in two flushes running
   * at once; they go one after the other, in submission order.
   */
  keys?: (input: I) => Iterable<number | string>;
  /**
   * When a flush of several inputs fails with an error this accepts (e.g. a Postgres data error from
   * one job's rows), each input is retried alone so only the culprit fails. Connection errors should
   * fail the batch as is.
   */
  isolate?: (err: unknown) => boolean;
}

interface Entry<I, O> {
  input: I;
  resolve: (out: O) => void;
  reject: (err: unknown) => void;
}

export class Coalescer<I, O> {
  private queue: Entry<I, O>[] = [];
  private inFlight = 0;
  private armed = false;
  /** Keys of the inputs in running flushes. */
  private readonly busy = new Set<number | string>();

  /** `flush` gets the inputs of one batch and answers one output per input, in the same order. */
  constructor(
    private readonly flush: (inputs: I[]) => Promise<O[]>,
    private readonly opts: CoalescerOptions<I>,
  ) {}

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.arm();
    });
  }

  /** Submissions waiting for a flush plus flushes running (tests, metrics). */
  get pending(): { queued: number; inFlight: number } {
    return { queued: this.queue.length, inFlight: this.inFlight };
  }

  private arm(): void {
    if (this.armed || this.queue.length === 0 || this.inFlight >= this.opts.maxInFlight) return;
    this.armed = true;
    // setImmediate, not a microtask: jobs resumed in this turn (a flush just answered them) submit first.
    setImmediate(() => {
      this.armed = false;
      while (this.queue.length > 0 && this.inFlight < this.opts.maxInFlight) {
        const batch = this.take();
        if (batch.entries.length === 0) break; // all waiting on keys of a running flush
        void this.run(batch);
      }
    });
  }

  private take(): { entries: Entry<I, O>[]; keys: (number | string)[] } {
    const weightOf = this.opts.weight ?? (() => 1);
    const entries: Entry<I, O>[] = [];
    const rest: Entry<I, O>[] = [];
    const claimed = new Set<number | string>();
    // A key seen on an entry left behind blocks later entries with that key (keeps per-key order).
    const blocked = new Set<number | string>(this.busy);
    let weight = 0;
    for (const e of this.queue) {
      const w = weightOf(e.input);
      const keys = this.opts.keys ? [...this.opts.keys(e.input)] : [];
      const full = entries.length > 0 && weight + w > this.opts.maxWeight;
      if (full || keys.some((k) => claimed.has(k) || blocked.has(k))) {
        rest.push(e);
        for (const k of keys) blocked.add(k);
        continue;
      }
      entries.push(e);
      weight += w;
      for (const k of keys) claimed.add(k);
    }
    this.queue = rest;
    return { entries, keys: [...claimed] };
  }

  private async run({ entries: batch, keys }: { entries: Entry<I, O>[]; keys: (number | string)[] }): Promise<void> {
    this.inFlight++;
    for (const k of keys) this.busy.add(k);
    try {
      try {
        const outs = await this.flush(batch.map((e) => e.input));
        if (outs.length !== batch.length) throw new Error(`coalescer: flush answered ${outs.length} outputs for ${batch.length} inputs`);
        batch.forEach((e, i) => e.resolve(outs[i]!));
      } catch (err) {
        if (batch.length === 1 || !this.opts.isolate?.(err)) {
          for (const e of batch) e.reject(err);
          return;
        }
        for (const e of batch) {
          try {
            const [out] = await this.flush([e.input]);
            e.resolve(out!);
          } catch (one) {
            e.reject(one);
          }
        }
      }
    } finally {
      this.inFlight--;
      for (const k of keys) this.busy.delete(k);
      this.arm();
    }
  }
}
