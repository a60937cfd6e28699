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
  /** Byte offset after each row (its newline included). */
  ends: Uint32Array
}

/** A SeriesWrite as the rows it may add, ids computed: the writer keeps the rows whose ids it has not written lately. */
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

/** The buffers of prepared writes, to move them to another thread (each is its own ArrayBuffer). */
export function transferList(writes: PreparedWrite[]): ArrayBuffer[] {
  return writes.flatMap((w) => [
    ...[w.series, w.functions, w.stacks].flatMap((p) => [p.ids.buffer, p.rows.buffer, p.ends.buffer] as ArrayBuffer[]),
    w.samples.buffer as ArrayBuffer,
  ])
}

/** The rows of `ids` (decimal strings), for callers that name them in SQL. */
export function decimalIds(part: IdRows): bigint[] {
  const out: bigint[] = []
  for (let i = 0; i < part.ids.length; i += 2) out.push((BigInt(part.ids[i]!) << 32n) | BigInt(part.ids[i + 1]!))
  return out
}

const utf8 = new TextEncoder()

/** Lines of text and their ids as IdRows (`ids` holds at least `n` of them). */
function idRows(text: string, ids: Uint32Array, n: number): IdRows {
  const rows = utf8.encode(text)
  const ends = new Uint32Array(n)
  // A row never holds a raw newline (TabSeparated and JSON escape it), nor does UTF-8 inside a character.
  let at = 0
  for (let i = 0; i < n; i++) ends[i] = at = rows.indexOf(10, at) + 1
  return { ids: ids.slice(0, 2 * n), rows, ends }
}

/** Escapes a string for ClickHouse's TabSeparated format. */
function tsv(s: string): string {
  return /[\\\t\n\r]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : s
}

/** Hashes a write's series, functions and stacks, merges its samples by stack and renders the rows. */
export function prepareWrite(tenant: string, w: SeriesWrite, nowS: number): PreparedWrite {
  const ids: (string | undefined)[] = new Array(w.functions.length)
  // Each distinct function and stack's id as two words (hash64 leaves them in lastHash).
  const fnIds = new Uint32Array(2 * w.functions.length)
  let fns = 0
  let fnRows = ''
  const stackIds = new Uint32Array(2 * w.stacks.length)
  let stacks = 0
  let stackRows = ''
  // Samples merged by stack, and by span where they carry one (key `stack` or `stack:span`).
  const merged = new Map<string, number>()
  const stacksSeen = w.spans ? new Set<string>() : undefined
  const t = tsv(tenant)
  for (let i = 0; i < w.stacks.length; i++) {
    const v = w.values[i]!
    if (!v) continue
    const stack = w.stacks[i]!
    let key = ''
    for (let k = 0; k < stack.length; k++) {
      const f = stack[k]!
      let id = ids[f]
      if (id === undefined) {
        const src = w.sources?.[f]
        id = ids[f] = hash64(frameKey(w.functions[f]!, src))
        fnIds.set(lastHash, 2 * fns++)
        // Columns: tenant, function_id, name, last_seen, then file, line, mapping, build_id (schema.ts).
        const where = src ? `${tsv(src.file)}\t${Math.round(src.line)}\t${tsv(src.mapping ?? '')}\t${tsv(src.buildId ?? '')}` : '\t0\t\t'
        fnRows += `${t}\t${id}\t${tsv(w.functions[f]!)}\t${nowS}\t${where}\n`
      }
      key += id + ','
    }
    const stackId = hash64(key)
    const hi = lastHash[0]!
    const lo = lastHash[1]!
    const span = w.spans?.[i]
    const sample = span ? `${stackId}:${span}` : stackId
    const prev = merged.get(sample)
    if (prev !== undefined) {
      merged.set(sample, prev + v)
      continue
    }
    merged.set(sample, v)
    // Without spans a new sample key is a new stack; with them a stack may recur under another span.
    if (stacksSeen) {
      if (stacksSeen.has(stackId)) continue
      stacksSeen.add(stackId)
    }
    stackIds[2 * stacks] = hi
    stackIds[2 * stacks++ + 1] = lo
    // key is the function ids joined by ',' with a trailing one: the array's text but for brackets.
    stackRows += `${t}\t${stackId}\t[${key.slice(0, -1)}]\t${nowS}\n`
  }
  const seriesId = labelsHash([['__profile_type__', w.profileType], ...w.labels])
  // labelsHash is a hash64: its words are in lastHash.
  const seriesWords = lastHash.slice()
  const seriesRow =
    JSON.stringify({
      tenant,
      profile_type: w.profileType,
      series_id: seriesId,
      service_name: getLabel(w.labels, 'service_name') ?? '',
      labels: Object.fromEntries(w.labels),
      last_seen: nowS,
      period: Math.round(w.period ?? 0),
    }) + '\n'
  const head = `${t}\t${tsv(w.profileType)}\t${seriesId}\t${(w.timeMs / 1000).toFixed(3)}\t`
  // Columns after value: duration_ns, span_id (0: none).
  const duration = `\t${Math.max(0, Math.round(w.durationNs))}\t`
  let samples = ''
  for (const [sample, value] of merged) {
    const c = sample.indexOf(':')
    samples +=
      c < 0
        ? `${head}${sample}\t${Math.round(value)}${duration}0\n`
        : `${head}${sample.slice(0, c)}\t${Math.round(value)}${duration}${sample.slice(c + 1)}\n`
  }
  return {
    seriesId,
    series: idRows(seriesRow, seriesWords, 1),
    functions: idRows(fnRows, fnIds, fns),
    stacks: idRows(stackRows, stackIds, stacks),
    samples: utf8.encode(samples),
    sampleCount: merged.size,
  }
}
