/**
 * The writer's memory of which group commit last wrote each id (a 64-bit hash, as two 32-bit
 * words): open-addressing hash tables in typed arrays. The 500,000 ids of a 15 MB upload are
 * checked in a few ms without a string or an entry object each; as decimal strings in a Map the
 * check held the event loop for seconds (bench/README.md, ingest). The ids are spread over 64
 * tables by their top bits, so one that grows rehashes 1/64 of them: one table of a million ids
 * took ~100 ms of the event loop to double. Each table grows at its own load (from 1/4 to 1/2 full):
 * the ids spread evenly over the tables, so tables of one size would all double within a few
 * thousand ids of each other — one slice of 16,384 ids met nearly all 64 grows (106–163 ms under load).
 */
const PARTS = 64

class Table {
  hi: Uint32Array
  lo: Uint32Array
  /** The commit's number per slot; 0 marks an empty slot (commits count from 1). */
  seq: Int32Array
  mask: number
  size = 0
  /** Ids moved by its doublings. */
  moved = 0

  constructor(
    capacity: number,
    /** The share of its slots filled before it doubles (at most 1/2: probes stay short). */
    private readonly load: number,
  ) {
    this.hi = new Uint32Array(capacity)
    this.lo = new Uint32Array(capacity)
    this.seq = new Int32Array(capacity)
    this.mask = capacity - 1
  }

  /** The slot that holds the id, or the empty one where it would go. */
  slot(hi: number, lo: number): number {
    // The ids are hashes already: their low word spreads well.
    let i = lo & this.mask
    while (this.seq[i] !== 0 && (this.lo[i] !== lo || this.hi[i] !== hi)) i = (i + 1) & this.mask
    return i
  }

  set(hi: number, lo: number, seq: number): void {
    const i = this.slot(hi, lo)
    if (this.seq[i] === 0) {
      this.hi[i] = hi
      this.lo[i] = lo
      this.size++
    }
    this.seq[i] = seq
    if (this.size > this.load * this.mask) this.grow()
  }

  private grow(): void {
    const { hi, lo, seq } = this
    const n = (this.mask + 1) * 2
    this.hi = new Uint32Array(n)
    this.lo = new Uint32Array(n)
    this.seq = new Int32Array(n)
    this.mask = n - 1
    this.moved += this.size
    for (let i = 0; i < seq.length; i++) {
      if (seq[i] === 0) continue
      const s = this.slot(hi[i]!, lo[i]!)
      this.hi[s] = hi[i]!
      this.lo[s] = lo[i]!
      this.seq[s] = seq[i]!
    }
  }
}

export class IdCache {
  private parts: Table[] = []

  constructor() {
    this.clear()
  }

  /** Ids held. */
  get size(): number {
    let n = 0
    for (const t of this.parts) n += t.size
    return n
  }

  /** Ids its tables' doublings have moved. */
  get moved(): number {
    let n = 0
    for (const t of this.parts) n += t.moved
    return n
  }

  /** The commit that last wrote the id (0: none). */
  get(hi: number, lo: number): number {
    const t = this.parts[hi >>> 26]!
    return t.seq[t.slot(hi, lo)]!
  }

  /** Records that commit `seq` writes the id. */
  set(hi: number, lo: number, seq: number): void {
    this.parts[hi >>> 26]!.set(hi, lo, seq)
  }

  clear(): void {
    // Loads from 1/4 to 1/2 spread the tables' doublings evenly over each doubling of the ids held.
    this.parts = Array.from({ length: PARTS }, (_, i) => new Table(64, 0.5 / 2 ** (i / PARTS)))
  }
}
