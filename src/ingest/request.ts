/**
 * From the bytes and parameters of one upload to the series the store writes: Pyroscope's
 * `/ingest` (every format and parameter the SDKs send) and push.v1's raw pprof samples. Pure
 * functions of their input, so they run in a worker thread as well as on the main one.
 */
import { KilnError } from '../model/errors.ts'
import { parseAppName, type LabelLimits, type Labels } from '../model/labels.ts'
import { parseTime } from '../model/time.ts'
import { BoundedMemo } from './memo.ts'
import type { Limits } from '../model/profile.ts'
import { decodeJfr, decodePprof, formatForName, formats, maybeGunzip, type FormatName } from '../formats/index.ts'
import type { SeriesWrite } from '../store/index.ts'
import { parseMultipart } from './multipart.ts'
import { legacyWrites, pprofWrites, type IngestMeta, type SampleTypeConfig } from './convert.ts'

/** The limits every decode of one request shares. */
export interface DecodeLimits {
  /** Bytes all of a request's gzip members may inflate to together. */
  maxDecompressedBytes: number
  limits: Limits
  labelLimits: LabelLimits
}

/** `/ingest`'s query parameters and content type, as strings the way they arrived. */
export interface IngestParams {
  name: string | null
  from?: string | null
  until?: string | null
  sampleRate?: string | null
  spyName?: string | null
  format?: string | null
  contentType?: string
  /** The request's from/until replace the time the profile carries (`kiln ingest --at/--from`). */
  retime?: boolean
}

/**
 * Inflation budget of one request: every gzip member of it draws from the same allowance, so 40
 * samples that each inflate to 60 MB cost 2.4 GB only once: at the first 64 MB.
 */
export class InflateBudget {
  private left: number
  constructor(private readonly max: number) {
    this.left = max
  }
  /** Gunzips (when gzipped) within what is left; counts the plain bytes too. */
  take(bytes: Uint8Array): Uint8Array {
    if (this.left <= 0) throw this.tooLarge()
    let out: Uint8Array
    try {
      out = maybeGunzip(bytes, { maxBytes: this.left })
    } catch (e) {
      if (e instanceof KilnError && e.code === 'KILN_TOO_LARGE') throw this.tooLarge()
      throw e
    }
    this.left -= out.length
    if (this.left < 0) throw this.tooLarge()
    return out
  }
  private tooLarge(): KilnError {
    return new KilnError(
      'KILN_TOO_LARGE',
      `the request's profiles inflate to more than ${this.max} bytes together (server option --max-decompressed-bytes); send fewer or smaller profiles per request`,
    )
  }
}

// An SDK sends the same name with every upload: parsed once (4 us an upload; bench/README.md).
// 4,096 names of at most 1,024 characters: ≤ ~8 MB.
const appNames = new BoundedMemo<{ app: string; labels: Labels }>(4096, 1024)

/** The time window and metadata of an /ingest request. */
function metaOf(p: IngestParams, lim: DecodeLimits, now: number): IngestMeta {
  const name = p.name
  if (!name) throw new KilnError('KILN_BAD_REQUEST', "missing 'name' parameter: send name=myapp.cpu{env=prod}")
  const { app, labels } = appNames.get(name, lim.labelLimits, () => parseAppName(name, lim.labelLimits))
  const fromMs = p.from ? parseTime(p.from, now) : now - 10_000
  // A re-timed upload without `until` keeps a 10 s window (the SDKs' upload period).
  const untilMs = p.until ? parseTime(p.until, now) : p.retime && p.from ? fromMs + 10_000 : now
  const rate = Number(p.sampleRate)
  const sampleRate = Number.isFinite(rate) && rate > 0 ? rate : 100
  return { app, labels, fromMs, untilMs, sampleRate, spyName: p.spyName ?? undefined, labelLimits: lim.labelLimits, retime: p.retime }
}

/** Decodes one `/ingest` body into series writes; throws a located 4xx KilnError when it cannot. */
export function ingestWrites(p: IngestParams, body: Uint8Array, lim: DecodeLimits, now = Date.now()): SeriesWrite[] {
  const meta = metaOf(p, lim, now)
  const contentType = p.contentType ?? ''
  const format = (p.format ?? '').toLowerCase()
  const multipart = contentType.includes('multipart/form-data')
  const budget = new InflateBudget(lim.maxDecompressedBytes)
  const decodeOpts = { maxBytes: lim.maxDecompressedBytes, limits: lim.limits }
  if (format === 'trie' || format === 'tree' || contentType.includes('octet-stream+trie') || contentType.includes('octet-stream+tree')) {
    throw new KilnError(
      'KILN_UNSUPPORTED',
      `format ${format || contentType} (Pyroscope 0.x's binary trie/tree) is not supported: send folded stacks, pprof, speedscope or JFR`,
    )
  }
  if (format === 'jfr') {
    // The Pyroscope Java agent: the recording raw, or multipart fields `jfr` and `labels` (its LabelsSnapshot).
    let jfr: Uint8Array = body
    let jfrLabels: Uint8Array | undefined
    if (multipart) {
      const parts = parseMultipart(Buffer.from(body.buffer, body.byteOffset, body.length), contentType)
      const part = parts.find((x) => x.name === 'jfr')
      if (!part)
        throw new KilnError(
          'KILN_BAD_REQUEST',
          `multipart body has no 'jfr' field (fields: ${parts.map((x) => x.name).join(', ') || 'none'})`,
        )
      jfr = part.data
      jfrLabels = parts.find((x) => x.name === 'labels')?.data
    }
    const decoded = decodeJfr(budget.take(jfr), {
      ...decodeOpts,
      labels: jfrLabels,
      sampleRate: p.sampleRate ? meta.sampleRate : undefined,
    })
    return decoded.flatMap((j) => pprofWrites(j.profile, meta, { metricName: j.metric }))
  }
  if (multipart) {
    const parts = parseMultipart(Buffer.from(body.buffer, body.byteOffset, body.length), contentType)
    if (parts.some((x) => x.name === 'prev_profile')) {
      throw new KilnError(
        'KILN_BAD_PROFILE',
        'prev_profile is not supported (cumulative profiles from old SDKs): please update pyroscope-go to a version that sends delta profiles',
      )
    }
    const profile = parts.find((x) => x.name === 'profile')
    if (!profile)
      throw new KilnError(
        'KILN_BAD_REQUEST',
        `multipart body has no 'profile' field (fields: ${parts.map((x) => x.name).join(', ') || 'none'})`,
      )
    let config: SampleTypeConfig | undefined
    const st = parts.find((x) => x.name === 'sample_type_config')
    if (st) {
      try {
        config = JSON.parse(st.data.toString('utf8')) as SampleTypeConfig
      } catch (e) {
        throw new KilnError('KILN_BAD_REQUEST', `sample_type_config is not valid JSON: ${(e as Error).message}`)
      }
      if (typeof config !== 'object' || config === null || Array.isArray(config))
        throw new KilnError('KILN_BAD_REQUEST', 'sample_type_config must be a JSON object keyed by sample type')
    }
    return pprofWrites(decodePprof(budget.take(profile.data), decodeOpts), meta, { config })
  }
  // One body of one format, named by `format=` (Pyroscope's default: folded), through the registry.
  const name: FormatName | undefined = format === '' ? 'folded' : formatForName(format)
  if (!name || name === 'jfr')
    throw new KilnError(
      'KILN_BAD_FORMAT',
      `unknown format ${JSON.stringify(format)}: use folded (default), lines, pprof, speedscope or jfr`,
    )
  const bytes = budget.take(body)
  if (name === 'pprof') return pprofWrites(decodePprof(bytes, decodeOpts), meta)
  const profile = formats[name].decode(bytes, { limits: lim.limits })
  if (!profile)
    throw new KilnError(
      'KILN_BAD_FORMAT',
      `the body is not ${format || 'folded'} data; set format= to what you send (pprof, speedscope, lines, folded)`,
    )
  return legacyWrites(profile, meta)
}

/** One series of a push.v1 request: its labels and raw pprof samples. */
export interface PushSeries {
  labels: [string, string][]
  samples: Uint8Array[]
}

/** Decodes a push.v1 request's series; errors name the series and sample. */
export function pushWrites(series: PushSeries[], lim: DecodeLimits, now = Date.now()): SeriesWrite[] {
  const writes: SeriesWrite[] = []
  const budget = new InflateBudget(lim.maxDecompressedBytes)
  for (const [i, s] of series.entries()) {
    const metric = s.labels.find(([k]) => k === '__name__')?.[1]
    const service = s.labels.find(([k]) => k === 'service_name')?.[1] ?? 'unknown_service'
    // Private labels (__name__, __delta__, …) are the server's to set.
    const labels = s.labels.filter(([k]) => !k.startsWith('__'))
    for (const [j, raw] of s.samples.entries()) {
      const at = `series ${i}, sample ${j}`
      if (!raw.length) throw new KilnError('KILN_BAD_PROFILE', `${at}: raw_profile is empty`)
      let profile: ReturnType<typeof decodePprof>
      try {
        profile = decodePprof(budget.take(raw), { maxBytes: lim.maxDecompressedBytes, limits: lim.limits })
      } catch (e) {
        if (e instanceof KilnError) throw new KilnError(e.code, `${at}: ${e.message}`)
        throw e
      }
      const meta = { app: service, labels, fromMs: now - 15_000, untilMs: now, sampleRate: 100, labelLimits: lim.labelLimits }
      writes.push(...pprofWrites(profile, meta, metric ? { metricName: metric } : {}))
    }
  }
  return writes
}
