/**
 * Each distinct order of an import counted once, whatever batches its rows fell into. Rows of one order need not
 * be adjacent (Taobao/JD exports write a row per item, and a sorted or merged export scatters them), so one order
 * can come up in several batches: it counts as stored if any batch stored it, else as unchanged.
 *
 * Orders are remembered by a 64-bit fingerprint in typed arrays (9 bytes a slot, at most half the slots used:
 * about 19 MB for a million orders), not by their ids: a Set of a million order keys took 117 MB, half of the
 * importer's 256 MB budget. Two orders share a fingerprint with odds of about n²/2⁶⁵ (1 in 37 million for a
 * million orders); the summary would then count one order too few.
 */
export class OrderTally {
  stored = 0;
  unchanged = 0;
  private size = 0;
  private hi = new Uint32Array(1024);
  private lo = new Uint32Array(1024);
  /** 0 free, 1 unchanged so far, 2 stored. */
  private state = new Uint8Array(1024);

  /** One batch's outcome for an order (orderKey); an order refused whole in a batch is not noted. */
  note(key: string, stored: boolean): void {
    let h1 = 0x811c9dc5;
    let h2 = 0x9747b28c;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193); // FNV-1a
      h2 = Math.imul(h2 ^ c, 0x5bd1e995); // a second, independent multiplier (MurmurHash2's)
      h2 ^= h2 >>> 15;
    }
    this.put(h1 >>> 0, (h2 ^ key.length) >>> 0, stored ? 2 : 1);
  }

  private put(hi: number, lo: number, value: 1 | 2): void {
    const mask = this.state.length - 1;
    let i = lo & mask;
    while (this.state[i] !== 0 && (this.hi[i] !== hi || this.lo[i] !== lo)) i = (i + 1) & mask;
    const was = this.state[i]!;
    if (was === 0) {
      this.hi[i] = hi;
      this.lo[i] = lo;
      this.size++;
    }
    if (value > was) {
      this.state[i] = value;
      if (was === 1) this.unchanged--;
      if (value === 1) this.unchanged++;
      else this.stored++;
    }
    if (was === 0 && this.size * 2 > this.state.length) this.grow();
  }

  private grow(): void {
    const { hi, lo, state } = this;
    this.hi = new Uint32Array(state.length * 2);
    this.lo = new Uint32Array(state.length * 2);
    this.state = new Uint8Array(state.length * 2);
    const mask = this.state.length - 1;
    for (let j = 0; j < state.length; j++) {
      if (state[j] === 0) continue;
      let i = lo[j]! & mask;
      while (this.state[i] !== 0) i = (i + 1) & mask;
      this.hi[i] = hi[j]!;
      this.lo[i] = lo[j]!;
      this.state[i] = state[j]!;
    }
  }
}
