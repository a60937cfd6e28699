/**
 * The CPU-heavy half of a write, with no store in reach: ids of the series, functions and stacks
 * (hashes), samples merged by stack, rows as bytes. Pure, so ingest runs it in a worker thread
 * beside decoding; the writer then only checks its caches and takes slices of the rows.
 */
import { hash64, lastHash } from '../model/hash.ts'
import { getLabel, labelsKey, type Labels } from '../model/labels.ts'
import { frameKey, sameSource, type FrameSource } from '../model/profile.ts'

/** One series' part of one ingested profile: what the writer stores. */
export interface SeriesWrite {
  profileType: string
  /** Full series labels, including __name__ and service_name. */
  labels: Labels
  timeMs: number
  durationNs: number
  /** The profile's function table (index 0 unused). */
  functions: string[]
  /** The profile's sampling period (pprof's period), kept with the series; 0 or absent when unknown. */
  period?: number
  /** Each function's file, line and binary where the profile gave them (same indices); absent when none. */
  sources?: (FrameSource | undefined)[]
  /** Stacks as function indices, root first, with one value each. */
  stacks: number[][]
  values: number[]
  /** Each stack's span id as the store's UInt64 in decimal ('' for none); absent when no sample has one. */
  spans?: string[]
}

/**
 * Rows a write may add to one table, with the id of each: ids as two 32-bit words a row (high,
 * low), rows as bytes, a row ending where `ends` says. Typed arrays, so a worker thread moves them
 * to the main one without a copy, and the writer checks its cache of the 500,000 ids of a large
 * upload in a few ms (as strings in a Map it took the event loop ~1 s) and takes the rows it keeps
 * as slices of the same bytes, never encoding text on the event loop.
 */
export interface IdRows {
  ids: Uint32Array
  rows: Uint8Array
  /** Byte offset after each row (its newline included), from the start of `rows`. */
  ends: Uint32Array
}

/**
 * A SeriesWrite as the rows it may add, ids computed: the writer keeps the rows whose ids it has
 * not written lately. The writes prepared together (one upload's) are views into two ArrayBuffers,
 * and a function or stack's row comes with the first of them that uses it, not with each.
 */
export interface PreparedWrite {
  /** The series' id (decimal) and its `series` row, a JSONEachRow line (labels are a map: JSON is the simplest text of it). */
  seriesId: string
  series: IdRows
  /** Distinct functions and stacks, TabSeparated. */
  functions: IdRows
  stacks: IdRows
  /** The samples (merged by stack) as one `samples_in` row (none without samples), and how many. */
  samples: Uint8Array
  sampleCount: number
}

/**
 * Prepared writes as a worker thread posts them: the buffers they view (moved), and each view as
 * three numbers — its buffer, byte offset and length — in plain arrays. Structured cloning ten
 * typed arrays and four objects a write cost ~28 us a job between the two threads; numbers and
 * strings in arrays cost a fraction of that (bench/README.md, ingest, session 15).
 */
export interface PackedWrites {
  buffers: ArrayBuffer[]
  /** Per write: sampleCount, then (buffer, byteOffset, length) of each view: series, functions and stacks (ids, rows, ends), samples. */
  layout: number[]
  seriesIds: string[]
}

/** The PreparedWrites of a packed layout (prepareWritesPacked's), as views of the same (moved) buffers. */
export function unpackWrites(p: PackedWrites): PreparedWrite[] {
  const { buffers, layout } = p
  let at = 0
  const bytes = () => new Uint8Array(buffers[layout[at++]!]!, layout[at++]!, layout[at++]!)
  const words = () => new Uint32Array(buffers[layout[at++]!]!, layout[at++]!, layout[at++]!)
  const part = (): IdRows => ({ ids: words(), rows: bytes(), ends: words() })
  return p.seriesIds.map((seriesId) => {
    const sampleCount = layout[at++]!
    return { seriesId, series: part(), functions: part(), stacks: part(), samples: bytes(), sampleCount }
  })
}

/** The rows of `ids` (decimal strings), for callers that name them in SQL. */
export function decimalIds(part: IdRows): bigint[] {
  const out: bigint[] = []
  for (let i = 0; i < part.ids.length; i += 2) out.push((BigInt(part.ids[i]!) << 32n) | BigInt(part.ids[i + 1]!))
  return out
}

/** Escapes a string for ClickHouse's TabSeparated format. */
function tsv(s: string): string {
  return /[\\\t\n\r]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : s
}

/** Prepares one write (the writer's own path, on the calling thread). */
export function prepareWrite(tenant: string, w: SeriesWrite, nowS: number): PreparedWrite {
  return prepareWrites(tenant, [w], nowS)[0]!
}

/**
 * What one worker thread already sent rows for, per tenant, so that an upload of functions and
 * stacks seen before (continuous profiling's steady state: the same services every 10–15 s) costs
 * a lookup each instead of a hash and a rendered row. Functions are found by name and source, stacks by
 * walking a trie over the functions' numbers (no key string built, nothing hashed), series by id.
 * A known id still goes to the writer, with an empty row: the writer checks that it is durable and
 * fresh, and when it is not (a commit failed, an hour passed, its cache was cleared) the upload is
 * prepared once more with every row (`Writer.writePrepared` answers false). Bounded: past `limit`
 * entries everything is forgotten, and every row is sent again as after a start.
 */
export class SentRows {
  private readonly tenants = new Map<string, Sent>()
  private entries = 0

  // 250,000 entries: ~30 MB of the worker's heap (~120 B an entry, measured with synthetic stacks of depth 25).
  constructor(private readonly limit = 250_000) {}

  of(tenant: string): Sent {
    let t = this.tenants.get(tenant)
    if (!t) this.tenants.set(tenant, (t = { fns: new Map(), root: node(), series: new Map(), seriesKeys: new Map(), count: 0, added: 0 }))
    return t
  }

  /** Forgets what was sent for `tenant`: its next upload goes with every row. */
  forget(tenant: string): void {
    this.tenants.delete(tenant)
  }

  /** Forgets everything once the entries added since the last time pass the limit. */
  trim(): void {
    for (const t of this.tenants.values()) {
      this.entries += t.added
      t.added = 0
    }
    if (this.entries > this.limit) {
      this.tenants.clear()
      this.entries = 0
    }
  }
}

/** A function's id, its number in the trie, the last upload that listed it, and its source (`other`: the next of its name). */
interface Fn {
  id: string
  hi: number
  lo: number
  n: number
  upload: number
  src: FrameSource | undefined
  other: Fn | undefined
}

/**
 * A stack prefix; `id` set where a stack sent before ends; `s` its index in the upload `upload`.
 * Its first child inline (`k` its function's number), the others in a Map: most prefixes have one.
 */
interface StackNode {
  k: number
  child: StackNode | undefined
  next: Map<number, StackNode> | undefined
  id: string | undefined
  hi: number
  lo: number
  upload: number
  s: number
}

interface Sent {
  /** By name; a name's frames at other sources follow `other`. */
  fns: Map<string, Fn>
  root: StackNode
  /** Series ids, with the upload that first sent each. */
  series: Map<string, number>
  /** Series ids (and their words) by the text they hash (labelsKey's). */
  seriesKeys: Map<string, { id: string; hi: number; lo: number }>
  /** Functions numbered so far (their keys in the trie). */
  count: number
  /** Entries added since the last trim. */
  added: number
}

const node = (): StackNode => ({ k: -1, child: undefined, next: undefined, id: undefined, hi: 0, lo: 0, upload: 0, s: 0 })

// Numbers each prepareWrites call, so entries remember which upload listed them last.
let uploads = 0

/** Per write: its rows and ids in three parts (series, functions, stacks); a part's rows first, its row-less ids after. */
class Part {
  text = ''
  words: number[] = []
  rows = 0
  bare: number[] = []

  add(hi: number, lo: number, row: string): void {
    this.words.push(hi, lo)
    this.text += row
    this.rows++
  }
}

const utf8 = new TextEncoder()

/**
 * Hashes the writes' series, functions and stacks, merges each one's samples by stack and renders
 * the rows — all of them one string, encoded once — with the ids and row ends in one more buffer:
 * two buffers to move to the main thread, not ten a write. A function's or stack's row goes with
 * the first write that uses it. With `sent`, what it holds goes without its row (see SentRows)
 * and what is sent is added to it.
 */
export function prepareWrites(tenant: string, writes: readonly SeriesWrite[], nowS: number, sent?: SentRows): PreparedWrite[] {
  return unpackWrites(prepareWritesPacked(tenant, writes, nowS, sent))
}

/** prepareWrites in the form a worker thread posts (PackedWrites), without making the views. */
export function prepareWritesPacked(tenant: string, writes: readonly SeriesWrite[], nowS: number, sent?: SentRows): PackedWrites {
  const upload = ++uploads
  const known = sent?.of(tenant)
  const t = tsv(tenant)
  let text = ''
  // Per part (a table's rows of one write, in the order of `text`): its rows, its row-less ids.
  const partRows: number[] = []
  const ids: number[] = []
  // Each profile's functions by index (the writes of one profile share its table), and its stacks by the array itself.
  const profiles = new Map<readonly string[], { fns: (Fn | undefined)[]; stacks: Map<readonly number[], number> }>()
  // The upload's distinct stacks, by id, without `sent`.
  const stackOf = new Map<string, number>()
  const stackIds: string[] = []
  const made: { seriesId: string; sampleCount: number }[] = []
  for (const w of writes) {
    let p = profiles.get(w.functions)
    if (!p) profiles.set(w.functions, (p = { fns: new Array(w.functions.length), stacks: new Map() }))
    const fnIds = p.fns
    const fns = new Part()
    const stacks = new Part()
    const fn = (f: number): Fn => {
      let e = fnIds[f]
      if (e) return e
      const name = w.functions[f]!
      const src = w.sources?.[f]
      // Found by name, then source: building frameKey's text to look it up cost more than the rest of a lookup.
      const first = known?.fns.get(name)
      e = first
      while (e && !sameSource(e.src, src)) e = e.other
      if (e) {
        // Listed once an upload, as a new one would be.
        if (e.upload !== upload) fns.bare.push(e.hi, e.lo)
      } else {
        const id = hash64(frameKey(name, src))
        e = { id, hi: lastHash[0]!, lo: lastHash[1]!, n: known ? known.count++ : 0, upload, src, other: first }
        if (known) {
          known.fns.set(name, e)
          known.added++
        }
        // Columns: tenant, function_id, name, last_seen, then file, line, mapping, build_id (schema.ts).
        const where = src ? `${tsv(src.file)}\t${Math.round(src.line)}\t${tsv(src.mapping ?? '')}\t${tsv(src.buildId ?? '')}` : '\t0\t\t'
        fns.add(e.hi, e.lo, `${t}\t${id}\t${tsv(name)}\t${nowS}\t${where}\n`)
      }
      e.upload = upload
      return (fnIds[f] = e)
    }
    // A new stack's row; its key is the function ids joined by ',' with a trailing one: the array's text but for brackets.
    const newStack = (key: string): string => {
      const id = hash64(key)
      stacks.add(lastHash[0]!, lastHash[1]!, `${t}\t${id}\t[${key.slice(0, -1)}]\t${nowS}\n`)
      stackIds.push(id)
      return id
    }
    // A stack's index in the upload: by its key's hash without `sent`, by the trie with it.
    const stackIndex = known
      ? (stack: readonly number[]): number => {
          let at = known.root
          for (let k = 0; k < stack.length; k++) {
            const e = fn(stack[k]!)
            let next = at.k === e.n ? at.child : at.next?.get(e.n)
            if (!next) {
              next = node()
              if (at.child) (at.next ??= new Map()).set(e.n, next)
              else {
                at.k = e.n
                at.child = next
              }
              known.added++
            }
            at = next
          }
          if (at.upload === upload) return at.s
          at.upload = upload
          at.s = stackIds.length
          if (at.id === undefined) {
            let key = ''
            for (let k = 0; k < stack.length; k++) key += fnIds[stack[k]!]!.id + ','
            at.id = newStack(key)
            at.hi = lastHash[0]!
            at.lo = lastHash[1]!
          } else {
            stacks.bare.push(at.hi, at.lo)
            stackIds.push(at.id)
          }
          return at.s
        }
      : (stack: readonly number[]): number => {
          let key = ''
          for (let k = 0; k < stack.length; k++) key += fn(stack[k]!).id + ','
          const id = hash64(key)
          let s = stackOf.get(id)
          // New to the upload (not only another array of the same frames): its row goes with this write.
          if (s === undefined) {
            stackOf.set(id, (s = stackIds.length))
            newStack(key)
          }
          return s
        }
    // Samples merged by stack (its index: an array, cheaper than a Map), or by stack and span where they carry one.
    const byStack: number[] = []
    let bySpan: Map<string, number> | undefined
    const sampleStack: number[] = []
    const sampleSpan: string[] = []
    const values: number[] = []
    for (let i = 0; i < w.stacks.length; i++) {
      const v = w.values[i]!
      if (!v) continue
      const stack = w.stacks[i]!
      let s = p.stacks.get(stack)
      if (s === undefined) p.stacks.set(stack, (s = stackIndex(stack)))
      const span = w.spans?.[i]
      const key = span ? `${s}:${span}` : ''
      const at = span ? (bySpan ??= new Map()).get(key) : byStack[s]
      if (at !== undefined) {
        values[at]! += v
        continue
      }
      if (span) bySpan!.set(key, values.length)
      else byStack[s] = values.length
      values.push(v)
      sampleStack.push(s)
      sampleSpan.push(span || '0')
    }
    // The series' id: labelsHash of its labels after __profile_type__, remembered by `sent` by
    // that text (the hash was 70 % of the work, the text the rest).
    const seriesKey = labelsKey(w.labels, `__profile_type__\u0000${w.profileType}\u0001`)
    let sid = known?.seriesKeys.get(seriesKey)
    if (!sid) {
      sid = { id: hash64(seriesKey), hi: lastHash[0]!, lo: lastHash[1]! }
      // Long label sets are hashed each time: SentRows' bound counts entries, not their size.
      if (known && seriesKey.length <= 2048) {
        known.seriesKeys.set(seriesKey, sid)
        known.added++
      }
    }
    const seriesId = sid.id
    // Row-less only when an earlier upload sent it: a series repeated within an upload keeps its row each time, as without SentRows.
    const seen = known?.series.get(seriesId)
    if (seen !== undefined && seen !== upload) {
      ids.push(sid.hi, sid.lo)
      partRows.push(0, 1)
    } else {
      if (known && seen === undefined) {
        known.series.set(seriesId, upload)
        known.added++
      }
      ids.push(sid.hi, sid.lo)
      text +=
        JSON.stringify({
          tenant,
          profile_type: w.profileType,
          series_id: seriesId,
          service_name: getLabel(w.labels, 'service_name') ?? '',
          labels: Object.fromEntries(w.labels),
          last_seen: nowS,
          period: Math.round(w.period ?? 0),
        }) + '\n'
      partRows.push(1, 0)
    }
    for (const part of [fns, stacks]) {
      for (const x of part.words) ids.push(x)
      for (const x of part.bare) ids.push(x)
      text += part.text
      partRows.push(part.rows, part.bare.length / 2)
    }
    // samples_in's row (schema.ts): tenant, profile_type, series_id, time, duration_ns, then the
    // samples as three arrays — stack ids, values, span ids (empty when none has a span).
    if (values.length) {
      let stackList = ''
      let valueList = ''
      for (let k = 0; k < values.length; k++) {
        const sep = k ? ',' : ''
        stackList += sep + stackIds[sampleStack[k]!]
        valueList += sep + Math.round(values[k]!)
      }
      const spanList = sampleSpan.some((x) => x !== '0') ? sampleSpan.join(',') : ''
      text += `${t}\t${tsv(w.profileType)}\t${seriesId}\t${(w.timeMs / 1000).toFixed(3)}\t${Math.max(0, Math.round(w.durationNs))}\t[${stackList}]\t[${valueList}]\t[${spanList}]\n`
    }
    made.push({ seriesId, sampleCount: values.length })
  }
  sent?.trim()
  return layOut(utf8.encode(text), partRows, ids, made)
}

/**
 * The writes' layout (PackedWrites): `rows` (buffer 0) holds every part's rows in turn (series,
 * functions, stacks, samples of each write), and one more buffer (1) every id-carrying part's ids,
 * then its row ends. `partRows` has two numbers a part: its rows, then its row-less ids (listed
 * after them, ending where its last row does).
 */
function layOut(rows: Uint8Array, partRows: number[], ids: number[], made: { seriesId: string; sampleCount: number }[]): PackedWrites {
  const idRowCount = ids.length / 2
  const words = new Uint32Array(3 * idRowCount)
  words.set(ids)
  const layout: number[] = []
  let id = 0
  let end = idRowCount * 2
  let at = 0
  let k = 0
  const part = () => {
    const n = partRows[k++]!
    const bare = partRows[k++]!
    const first = at
    // A row never holds a raw newline (TabSeparated and JSON escape it), nor does UTF-8 inside a character.
    for (let r = 0; r < n; r++) words[end + r] = (at = rows.indexOf(10, at) + 1) - first
    words.fill(at - first, end + n, end + n + bare)
    // ids, rows, ends: (buffer, byte offset, length) each.
    layout.push(1, 8 * id, 2 * (n + bare), 0, rows.byteOffset + first, at - first, 1, 4 * end, n + bare)
    id += n + bare
    end += n + bare
  }
  for (const m of made) {
    layout.push(m.sampleCount)
    part()
    part()
    part()
    const first = at
    // One samples_in row a write with samples.
    if (m.sampleCount) at = rows.indexOf(10, at) + 1
    layout.push(0, rows.byteOffset + first, at - first)
  }
  return { buffers: [rows.buffer as ArrayBuffer, words.buffer], layout, seriesIds: made.map((m) => m.seriesId) }
}
