/**
 * What the byte path of `PerfCollapser` remembers of the bytes it has seen, so that a sample like
 * one before costs no strings and no parse: the blocks of frame lines (by their bytes) and the
 * header lines of the threads taking turns (by their comm, pid, tid and event bytes).
 */
import type { PerlNum } from './perl-number.ts'
import { blockEnd, blockKey, ByteArena, type EventAt, firstLineKey, framesOnly, sameBytes } from './perf-bytes.ts'

/** One folded stack's count, kept in a cell so that the byte path bumps it without a lookup. */
export interface Cell {
  key: string
  n: PerlNum
}

/** A sample's frame lines seen before, byte for byte, and the folded frames they gave. */
export interface Block {
  bytes: Buffer
  /** The frames root first, joined by ";" (undefined for none), for a non-java and a java process; null until needed. */
  frames: string | undefined | null
  javaFrames: string | undefined | null
  /** The count cell per process name, the last one at hand. */
  lastName: string
  lastCell: Cell | undefined
  cells: Map<string, Cell> | undefined
}

/** Blocks with the same key compared at most; past it, new ones are not kept. */
const MAX_BUCKET = 16
/** Past this many bytes of remembered blocks, new stacks are collapsed without being kept. */
const BLOCK_CACHE_BYTES = 64 << 20

export class BlockStore {
  private readonly blocks = new Map<number, Block[]>()
  private bytes = 0
  /** The block that last followed a first frame line, by firstLineKey. */
  private readonly byFirstLine = new Map<number, Block>()
  private readonly arena = new ByteArena()
  /** The block `at` found. */
  found: Block | undefined

  /**
   * The block of frame lines that starts at `s` and the blank line that closes it: returns the
   * offset after that blank line and sets `found`; -1 when the buffer ends first, -2 when the
   * lines are not frame lines only (the line rules decide then).
   */
  at(b: Buffer, s: number): number {
    // First guess: the block that last followed the same first frame line, when its bytes are
    // here and a blank line closes them (then its end is where a search would find it).
    const fk = s < b.length && b[s] !== 10 ? firstLineKey(b, s) : -1
    let block = fk >= 0 ? this.byFirstLine.get(fk) : undefined
    const e = block ? s + block.bytes.length : -1
    if (block && e < b.length && b[e] === 10 && b.compare(block.bytes, 0, e - s, s, e) === 0) {
      this.found = block
      return e + 1
    }
    const end = blockEnd(b, s)
    if (end === -1) return -1
    const key = blockKey(b, s, end - 1)
    block = this.find(b, s, end - 1, key)
    // Blocks seen before are frame lines only; a new one must be, or the line rules decide.
    if (!block && !framesOnly(b, s, end - 1)) return -2
    block ??= this.remember(b, s, end - 1, key)
    if (fk >= 0 && this.bytes < BLOCK_CACHE_BYTES) this.byFirstLine.set(fk, block)
    this.found = block
    return end
  }

  private find(b: Buffer, s: number, e: number, key: number): Block | undefined {
    const bucket = this.blocks.get(key)
    if (bucket) for (const k of bucket) if (k.bytes.length === e - s && b.compare(k.bytes, 0, e - s, s, e) === 0) return k
    return undefined
  }

  /** A new block of frame lines [s, e): kept (a copy) while the cache has room. */
  private remember(b: Buffer, s: number, e: number, key: number): Block {
    const bucket = this.blocks.get(key)
    const keep = this.bytes + (e - s) <= BLOCK_CACHE_BYTES && (bucket?.length ?? 0) < MAX_BUCKET
    // A copy either way: the chunk it came from is not kept.
    const bytes = keep ? this.arena.copy(b, s, e) : Buffer.from(b.subarray(s, e))
    const block: Block = { bytes, frames: null, javaFrames: null, lastName: '', lastCell: undefined, cells: undefined }
    if (keep) {
      this.bytes += e - s
      if (bucket) bucket.push(block)
      else this.blocks.set(key, [block])
    }
    return block
  }
}

/** A kept header's comm-to-tid bytes, its event's bytes (null for none) and its process name. */
interface Head {
  id: Buffer
  event: Buffer | null
  name: string
}

/** Headers remembered by their bytes (threads taking turns); past it, the oldest goes. */
const MAX_HEADS = 32

/** Kept headers by their bytes, so that the samples of a thread make no strings. */
export class HeadCache {
  private readonly heads: Head[] = []
  private added = 0
  private readonly arena = new ByteArena()

  /** The process name of a kept header with these comm-to-tid bytes [hs, idEnd) and this event. */
  find(b: Buffer, hs: number, idEnd: number, ev: EventAt | null): string | undefined {
    for (const k of this.heads) {
      if (k.id.length !== idEnd - hs || !sameBytes(b, hs, idEnd, k.id)) continue
      if (ev ? k.event?.length === ev.eventEnd - ev.eventStart && sameBytes(b, ev.eventStart, ev.eventEnd, k.event) : k.event === null)
        return k.name
    }
    return undefined
  }

  add(b: Buffer, hs: number, idEnd: number, ev: EventAt | null, name: string): void {
    const event = ev ? this.arena.copy(b, ev.eventStart, ev.eventEnd) : null
    this.heads[this.added++ % MAX_HEADS] = { id: this.arena.copy(b, hs, idEnd), event, name }
  }
}

/**
 * Frame lines' tidied frames by the bytes they depend on (symbol without offset, and module),
 * found by a hash of those bytes: a frame line like one seen before (another address or offset
 * in the same function) costs no string. Open addressing over typed arrays; the key bytes are
 * kept in one growing byte array to compare against.
 */
export class FrameLines {
  private slots = new Int32Array(1 << 12) // id + 1; 0 is empty
  private bytes = new Uint8Array(1 << 16)
  private used = 0
  private readonly start: number[] = []
  private readonly hash: number[] = []
  readonly parts: string[][] = []

  /** The id of the frame line whose key is b[fs, fe) + b[ms, me), or -1 (then `add` it). */
  find(b: Uint8Array, fs: number, fe: number, ms: number, me: number): number {
    const h = rangeHash(b, ms, me, rangeHash(b, fs, fe, 0x811c9dc5))
    const mask = this.slots.length - 1
    const n = fe - fs + (me - ms)
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const id = this.slots[s]! - 1
      if (id < 0) {
        this.lastHash = h
        return -1
      }
      if (this.hash[id] !== h) continue
      const k = this.start[id]!
      if (this.start[id + 1]! - k !== n) continue
      const bytes = this.bytes
      let i = 0
      for (let j = fs; j < fe; j++, i++) if (bytes[k + i] !== b[j]) break
      if (i < fe - fs) continue
      for (let j = ms; j < me; j++, i++) if (bytes[k + i] !== b[j]) break
      if (i === n) return id
    }
  }

  private lastHash = 0

  /** Adds the key `find` just failed to find, with its tidied frames. */
  add(b: Uint8Array, fs: number, fe: number, ms: number, me: number, parts: string[]): void {
    const id = this.parts.length
    const n = fe - fs + (me - ms)
    if (this.used + n > this.bytes.length) {
      const more = new Uint8Array(Math.max(this.bytes.length * 2, this.used + n))
      more.set(this.bytes.subarray(0, this.used))
      this.bytes = more
    }
    if (id === 0) this.start.push(0)
    this.bytes.set(b.subarray(fs, fe), this.used)
    this.bytes.set(b.subarray(ms, me), this.used + fe - fs)
    this.used += n
    this.start.push(this.used)
    this.hash.push(this.lastHash)
    this.parts.push(parts)
    if ((id + 1) * 2 > this.slots.length) this.rehash()
    else this.place(id)
  }

  private place(id: number): void {
    const mask = this.slots.length - 1
    let s = this.hash[id]! & mask
    while (this.slots[s] !== 0) s = (s + 1) & mask
    this.slots[s] = id + 1
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2)
    for (let id = 0; id < this.parts.length; id++) this.place(id)
  }
}

/** FNV-1a of b[s, e), continued from `h`. */
function rangeHash(b: Uint8Array, s: number, e: number, h: number): number {
  for (let i = s; i < e; i++) h = Math.imul(h ^ b[i]!, 0x01000193)
  return h
}
