/**
 * The CPU-heavy half of a write, with no store in reach: ids of the series, functions and stacks
 * (hashes), samples merged by stack, rows as bytes. Pure, so ingest runs it in a worker thread
 * beside decoding; the writer then only checks its caches and takes slices of the rows.
 */
import { hash64, lastHash } from '../model/hash.ts'
import { getLabel, labelsHash, type Labels } from '../model/labels.ts'
import { frameKey, type FrameSource } from '../model/profile.ts'

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
  /** The `samples` rows (merged by stack) and how many. */
  samples: Uint8Array
  sampleCount: number
}

/** The buffers of prepared writes, to move them to another thread (each once: writes share them). */
export function transferList(writes: PreparedWrite[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>()
  for (const w of writes)
    for (const a of [
      w.series.ids,
      w.series.rows,
      w.series.ends,
      w.functions.ids,
      w.functions.rows,
      w.functions.ends,
      w.stacks.ids,
      w.stacks.rows,
      w.stacks.ends,
      w.samples,
    ])
      out.add(a.buffer as ArrayBuffer)
  return [...out]
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
 * What one profile's function table gives (the writes of one profile share it): each function's id,
 * and each stack's index in the upload by the stack array itself (the profile's series share its
 * samples' arrays too).
 */
interface ProfileIds {
  fnIds: (string | undefined)[]
  stacks: Map<readonly number[], number>
}

const utf8 = new TextEncoder()

/**
 * Hashes the writes' series, functions and stacks, merges each one's samples by stack and renders
 * the rows — all of them one string, encoded once — with the ids and row ends in one more buffer:
 * two buffers to move to the main thread, not ten a write. A function's or stack's row goes with
 * the first write that uses it.
 */
export function prepareWrites(tenant: string, writes: readonly SeriesWrite[], nowS: number): PreparedWrite[] {
  const t = tsv(tenant)
  let text = ''
  // Per part (a table's rows of one write, in the order of `text`): its rows and their ids as word pairs.
  const partRows: number[] = []
  const ids: number[] = []
  const profiles = new Map<readonly string[], ProfileIds>()
  // The upload's distinct stacks, by id.
  const stackOf = new Map<string, number>()
  const stackIds: string[] = []
  const made: { seriesId: string; sampleCount: number }[] = []
  for (const w of writes) {
    let p = profiles.get(w.functions)
    if (!p) profiles.set(w.functions, (p = { fnIds: new Array(w.functions.length), stacks: new Map() }))
    const fnWords: number[] = []
    let fnRows = ''
    const stackWords: number[] = []
    let stackRows = ''
    // Samples merged by stack (its index), or by stack and span where they carry one.
    const merged = new Map<number | string, number>()
    const sampleStack: number[] = []
    const sampleSpan: string[] = []
    const values: number[] = []
    for (let i = 0; i < w.stacks.length; i++) {
      const v = w.values[i]!
      if (!v) continue
      const stack = w.stacks[i]!
      let s = p.stacks.get(stack)
      if (s === undefined) {
        let key = ''
        for (let k = 0; k < stack.length; k++) {
          const f = stack[k]!
          let id = p.fnIds[f]
          if (id === undefined) {
            const src = w.sources?.[f]
            id = p.fnIds[f] = hash64(frameKey(w.functions[f]!, src))
            fnWords.push(lastHash[0]!, lastHash[1]!)
            // Columns: tenant, function_id, name, last_seen, then file, line, mapping, build_id (schema.ts).
            const where = src
              ? `${tsv(src.file)}\t${Math.round(src.line)}\t${tsv(src.mapping ?? '')}\t${tsv(src.buildId ?? '')}`
              : '\t0\t\t'
            fnRows += `${t}\t${id}\t${tsv(w.functions[f]!)}\t${nowS}\t${where}\n`
          }
          key += id + ','
        }
        const id = hash64(key)
        s = stackOf.get(id)
        if (s === undefined) {
          // New to the upload (not only another array of the same frames): its row goes with this write.
          s = stackIds.length
          stackOf.set(id, s)
          stackIds.push(id)
          stackWords.push(lastHash[0]!, lastHash[1]!)
          // key is the function ids joined by ',' with a trailing one: the array's text but for brackets.
          stackRows += `${t}\t${id}\t[${key.slice(0, -1)}]\t${nowS}\n`
        }
        p.stacks.set(stack, s)
      }
      const span = w.spans?.[i]
      const sample = span ? `${s}:${span}` : s
      const at = merged.get(sample)
      if (at !== undefined) {
        values[at]! += v
        continue
      }
      merged.set(sample, values.length)
      values.push(v)
      sampleStack.push(s)
      sampleSpan.push(span || '0')
    }
    const seriesId = labelsHash([['__profile_type__', w.profileType], ...w.labels])
    // labelsHash is a hash64: its words are in lastHash.
    ids.push(lastHash[0]!, lastHash[1]!)
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
    for (const x of fnWords) ids.push(x)
    for (const x of stackWords) ids.push(x)
    const head = `${t}\t${tsv(w.profileType)}\t${seriesId}\t${(w.timeMs / 1000).toFixed(3)}\t`
    // Columns after value: duration_ns, span_id (0: none).
    const duration = `\t${Math.max(0, Math.round(w.durationNs))}\t`
    let samples = ''
    for (let k = 0; k < values.length; k++)
      samples += `${head}${stackIds[sampleStack[k]!]}\t${Math.round(values[k]!)}${duration}${sampleSpan[k]}\n`
    text += fnRows + stackRows + samples
    partRows.push(1, fnWords.length / 2, stackWords.length / 2, values.length)
    made.push({ seriesId, sampleCount: values.length })
  }
  return layOut(utf8.encode(text), partRows, ids, made)
}

/**
 * The PreparedWrites as views: `rows` holds every part's rows in turn (series, functions, stacks,
 * samples of each write), and one more buffer every id-carrying part's ids, then its row ends.
 */
function layOut(rows: Uint8Array, partRows: number[], ids: number[], made: { seriesId: string; sampleCount: number }[]): PreparedWrite[] {
  const idRowCount = ids.length / 2
  const words = new Uint32Array(3 * idRowCount)
  words.set(ids)
  let id = 0
  let end = idRowCount * 2
  let at = 0
  const part = (n: number): IdRows => {
    const first = at
    const ends = words.subarray(end, end + n)
    // A row never holds a raw newline (TabSeparated and JSON escape it), nor does UTF-8 inside a character.
    for (let r = 0; r < n; r++) ends[r] = (at = rows.indexOf(10, at) + 1) - first
    const out = { ids: words.subarray(2 * id, 2 * (id + n)), rows: rows.subarray(first, at), ends }
    id += n
    end += n
    return out
  }
  return made.map((m, i) => {
    const series = part(partRows[4 * i]!)
    const functions = part(partRows[4 * i + 1]!)
    const stacks = part(partRows[4 * i + 2]!)
    const first = at
    for (let r = 0; r < m.sampleCount; r++) at = rows.indexOf(10, at) + 1
    return { seriesId: m.seriesId, series, functions, stacks, samples: rows.subarray(first, at), sampleCount: m.sampleCount }
  })
}
