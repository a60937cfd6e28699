/**
 * The writer's memory of which group commit last wrote each id (a 64-bit hash, as two 32-bit
 * words): an open-addressing hash table in typed arrays. The 500,000 ids of a 15 MB upload are
 * checked in a few ms without a string or an entry object each; as decimal strings in a Map the
 * check held the event loop for seconds (bench/README.md, ingest).
 */
export class IdCache {
  private hi: Uint32Array
  private lo: Uint32Array
  /** The commit's number per slot; 0 marks an empty slot (commits count from 1). */
  private seq: Int32Array
  private mask: number
  size = 0

  constructor(private readonly initial = 1 << 12) {
    this.hi = new Uint32Array(initial)
    this.lo = new Uint32Array(initial)
    this.seq = new Int32Array(initial)
    this.mask = initial - 1
  }

  /** The slot that holds the id, or the empty one where it would go. */
  slot(hi: number, lo: number): number {
    // The ids are hashes already: their low word, stirred with the high one, spreads well.
    let i = (lo ^ Math.imul(hi, 0x9e3779b1)) & this.mask
    while (this.seq[i] !== 0 && (this.lo[i] !== lo || this.hi[i] !== hi)) i = (i + 1) & this.mask
    return i
  }

  /** The commit that last wrote the id in `slot` (0: none). */
  at(slot: number): number {
    return this.seq[slot]!
  }

  /** Records that commit `seq` writes the id; `slot` is slot(hi, lo), with nothing put since. */
  put(slot: number, hi: number, lo: number, seq: number): void {
    if (this.seq[slot] === 0) {
      this.hi[slot] = hi
      this.lo[slot] = lo
      this.size++
    }
    this.seq[slot] = seq
    // At most half full: probes stay short.
    if (this.size * 2 > this.mask) this.grow()
  }

  clear(): void {
    this.hi = new Uint32Array(this.initial)
    this.lo = new Uint32Array(this.initial)
    this.seq = new Int32Array(this.initial)
    this.mask = this.initial - 1
    this.size = 0
  }

  private grow(): void {
    const { hi, lo, seq } = this
    const n = (this.mask + 1) * 2
    this.hi = new Uint32Array(n)
    this.lo = new Uint32Array(n)
    this.seq = new Int32Array(n)
    this.mask = n - 1
    for (let i = 0; i < seq.length; i++) {
      if (seq[i] === 0) continue
      const s = this.slot(hi[i]!, lo[i]!)
      this.hi[s] = hi[i]!
      this.lo[s] = lo[i]!
      this.seq[s] = seq[i]!
    }
  }
}
