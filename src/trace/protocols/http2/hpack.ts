/**
 * HPACK decoding (RFC 7541): the static table, a dynamic table with size updates, literals with
 * and without indexing, Huffman strings. One decoder per direction of a connection. When capture
 * joined the connection late, the dynamic table's earlier entries are unknown: a reference to one
 * decodes to the name ":unknown" (and `unknownRefs` counts them) instead of failing the block.
 */
import { huffmanDecode } from './huffman.ts'

/** RFC 7541 Appendix A. Index 1 is the first entry. */
const staticTable: [string, string][] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
]

class Bad extends Error {}

/** An entry's size: name + value + 32 octets of overhead (RFC 7541 §4.1). */
const entrySize = (n: string, v: string) => Buffer.byteLength(n) + Buffer.byteLength(v) + 32
/** A header string longer than this is junk (HTTP/2 servers cap header lists at 8–64 KiB). */
const maxString = 64 * 1024

export class HpackDecoder {
  private dyn: [string, string][] = []
  private size = 0
  /** SETTINGS_HEADER_TABLE_SIZE default (RFC 7540 §6.5.2). */
  private max = 4096
  unknownRefs = 0

  /** Decodes one complete header block; null when it is malformed (the table may then be out of step). */
  decode(b: Buffer): [string, string][] | null {
    try {
      return this.block(b)
    } catch (e) {
      if (e instanceof Bad || e instanceof RangeError) return null
      throw e
    }
  }

  private block(b: Buffer): [string, string][] {
    const out: [string, string][] = []
    let o = 0
    while (o < b.length) {
      const c = b[o]!
      if (c & 0x80) {
        // Indexed field (§6.1).
        const i = this.int(b, o, 7)
        o = i.next
        out.push(this.entry(i.v))
      } else if (c & 0x40) {
        // Literal with incremental indexing (§6.2.1).
        const f = this.literal(b, o, 6)
        o = f.next
        out.push(f.field)
        this.add(f.field[0], f.field[1])
      } else if (c & 0x20) {
        // Dynamic table size update (§6.3).
        const i = this.int(b, o, 5)
        o = i.next
        this.max = i.v
        this.evict()
      } else {
        // Literal without indexing (0000) or never indexed (0001) (§6.2.2, §6.2.3).
        const f = this.literal(b, o, 4)
        o = f.next
        out.push(f.field)
      }
    }
    return out
  }

  private int(b: Buffer, o: number, prefix: number): { v: number; next: number } {
    const mask = (1 << prefix) - 1
    if (o >= b.length) throw new Bad()
    let v = b[o]! & mask
    o++
    if (v < mask) return { v, next: o }
    let m = 0
    for (;;) {
      if (o >= b.length || m > 28) throw new Bad()
      const x = b[o++]!
      v += (x & 0x7f) * 2 ** m
      m += 7
      if (!(x & 0x80)) break
    }
    return { v, next: o }
  }

  private str(b: Buffer, o: number): { s: string; next: number } {
    if (o >= b.length) throw new Bad()
    const huff = (b[o]! & 0x80) !== 0
    const n = this.int(b, o, 7)
    if (n.v > maxString || n.next + n.v > b.length) throw new Bad()
    const raw = b.subarray(n.next, n.next + n.v)
    const bytes = huff ? huffmanDecode(raw) : raw
    if (!bytes) throw new Bad()
    return { s: bytes.toString('latin1'), next: n.next + n.v }
  }

  private literal(b: Buffer, o: number, prefix: number): { field: [string, string]; next: number } {
    const i = this.int(b, o, prefix)
    let name: string
    let at = i.next
    if (i.v === 0) {
      const n = this.str(b, at)
      name = n.s
      at = n.next
    } else name = this.entry(i.v)[0]
    const v = this.str(b, at)
    return { field: [name, v.s], next: v.next }
  }

  private entry(i: number): [string, string] {
    if (i === 0) throw new Bad()
    if (i <= staticTable.length) return staticTable[i - 1]!
    const d = this.dyn[i - staticTable.length - 1]
    if (d) return d
    this.unknownRefs++
    return [':unknown', '']
  }

  private add(name: string, value: string): void {
    const s = entrySize(name, value)
    this.dyn.unshift([name, value])
    this.size += s
    this.evict()
  }

  private evict(): void {
    while (this.size > this.max && this.dyn.length) {
      const [n, v] = this.dyn.pop()!
      this.size -= entrySize(n, v)
    }
  }
}
