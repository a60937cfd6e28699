/**
 * The CPU-heavy half of a write, with no store in reach: ids of the series, functions and stacks
 * (hashes), samples merged by stack. Pure, so ingest runs it in a worker thread beside decoding;
 * the writer then only checks its caches and appends rows.
 */
import { hash64 } from '../model/hash.ts'
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
 * A SeriesWrite as the rows it may add, ids computed, as a few long strings: a worker thread
 * hands it over as a copy of each string, where 500,000 small strings (a 15 MB upload of distinct
 * stacks) cost the main thread hundreds of ms to rebuild. Line i of `fnIds` is the id of line i
 * of `fnRows` (rows are TabSeparated, so a row never holds a raw newline); the writer keeps the
 * rows whose ids it has not written lately.
 */
export interface PreparedWrite {
  seriesId: string
  /** The `series` row, a JSONEachRow line (labels are a map: JSON is the simplest text of it). */
  seriesRow: string
  /** Distinct functions: ids and their `functions` rows, one a line. */
  fnIds: string
  fnRows: string
  /** Distinct stacks: ids and their `stacks` rows, one a line. */
  stackIds: string
  stackRows: string
  /** The `samples` rows (merged by stack) and how many. */
  samples: string
  sampleCount: number
}

/** Escapes a string for ClickHouse's TabSeparated format. */
function tsv(s: string): string {
  return /[\\\t\n\r]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : s
}

/** Hashes a write's series, functions and stacks, merges its samples by stack and renders the rows. */
export function prepareWrite(tenant: string, w: SeriesWrite, nowS: number): PreparedWrite {
  const ids: (string | undefined)[] = new Array(w.functions.length)
  let fnIds = ''
  let fnRows = ''
  let stackIds = ''
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
        fnIds += id + '\n'
        // Columns: tenant, function_id, name, last_seen, then file, line, mapping, build_id (schema.ts).
        const where = src ? `${tsv(src.file)}\t${Math.round(src.line)}\t${tsv(src.mapping ?? '')}\t${tsv(src.buildId ?? '')}` : '\t0\t\t'
        fnRows += `${t}\t${id}\t${tsv(w.functions[f]!)}\t${nowS}\t${where}\n`
      }
      key += id + ','
    }
    const stackId = hash64(key)
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
    stackIds += stackId + '\n'
    // key is the function ids joined by ',' with a trailing one: the array's text but for brackets.
    stackRows += `${t}\t${stackId}\t[${key.slice(0, -1)}]\t${nowS}\n`
  }
  const seriesId = labelsHash([['__profile_type__', w.profileType], ...w.labels])
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
  return { seriesId, seriesRow, fnIds, fnRows, stackIds, stackRows, samples, sampleCount: merged.size }
}
