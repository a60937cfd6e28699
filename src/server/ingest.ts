/** Pyroscope's `POST /ingest`: every format and parameter the SDKs send, unchanged. */
import type { ServerResponse } from 'node:http'
import { KilnError } from '../model/errors.ts'
import { parseAppName } from '../model/labels.ts'
import { parseTime } from '../model/time.ts'
import type { Profile } from '../model/profile.ts'
import { decodeFolded, decodeJfr, decodeLines, decodePprof, decodeSpeedscope, maybeGunzip } from '../formats/index.ts'
import { parseMultipart } from './multipart.ts'
import { legacyWrites, pprofWrites, type SampleTypeConfig } from './convert.ts'
import type { Req } from './http.ts'
import type { Context } from './context.ts'
import type { SeriesWrite } from '../store/index.ts'
import { retentionDays } from './config.ts'

/**
 * Writes series durably, refusing profiles that retention would drop at once: acknowledging them
 * would be a silent loss.
 */
export async function writeSeries(ctx: Context, tenant: string, writes: SeriesWrite[]): Promise<void> {
  const days = retentionDays(ctx.config.retention)
  if (days > 0) {
    const oldest = Date.now() - days * 86_400_000
    const old = writes.find((w) => w.timeMs < oldest)
    if (old) {
      throw new KilnError('KILN_LIMIT', `profile time ${new Date(old.timeMs).toISOString()} is older than the retention period (${ctx.config.retention}); send current profiles, or start the server with a longer --retention`)
    }
  }
  if (writes.length) await ctx.store.writer.write(tenant, writes)
}

/** Handles one /ingest request: decode, map to series, write durably, then answer 200. */
export async function handleIngest(ctx: Context, req: Req, res: ServerResponse): Promise<void> {
  const q = req.query
  const name = q.get('name')
  if (!name) throw new KilnError('KILN_BAD_REQUEST', "missing 'name' parameter: send name=myapp.cpu{env=prod}")
  const { app, labels } = parseAppName(name, ctx.labelLimits)
  const now = Date.now()
  const fromMs = q.get('from') ? parseTime(q.get('from')!, now) : now - 10_000
  const untilMs = q.get('until') ? parseTime(q.get('until')!, now) : now
  const rate = Number(q.get('sampleRate'))
  const sampleRate = Number.isFinite(rate) && rate > 0 ? rate : 100
  const spyName = q.get('spyName') ?? undefined
  const meta = { app, labels, fromMs, untilMs, sampleRate, spyName, labelLimits: ctx.labelLimits }
  const contentType = String(req.raw.headers['content-type'] ?? '')
  const format = (q.get('format') ?? '').toLowerCase()
  const body = await req.body()
  const limits = { maxBytes: ctx.config.maxDecompressedBytes, limits: ctx.limits }

  let writes
  if (format === 'trie' || format === 'tree' || contentType.includes('octet-stream+trie') || contentType.includes('octet-stream+tree')) {
    throw new KilnError('KILN_UNSUPPORTED', `format ${format || contentType} (Pyroscope 0.x's binary trie/tree) is not supported: send folded stacks, pprof, speedscope or JFR`)
  } else if (format === 'jfr') {
    // The Pyroscope Java agent: the recording raw, or multipart fields `jfr` and `labels` (its LabelsSnapshot).
    let jfr: Uint8Array = body
    let jfrLabels: Uint8Array | undefined
    if (contentType.includes('multipart/form-data')) {
      const parts = parseMultipart(body, contentType)
      const part = parts.find((p) => p.name === 'jfr')
      if (!part) throw new KilnError('KILN_BAD_REQUEST', `multipart body has no 'jfr' field (fields: ${parts.map((p) => p.name).join(', ') || 'none'})`)
      jfr = part.data
      jfrLabels = parts.find((p) => p.name === 'labels')?.data
    }
    const decoded = decodeJfr(jfr, { ...limits, labels: jfrLabels, sampleRate: q.get('sampleRate') ? sampleRate : undefined })
    writes = decoded.flatMap((j) => pprofWrites(j.profile, meta, { metricName: j.metric }))
  } else if (format === 'pprof' && !contentType.includes('multipart/form-data')) {
    writes = pprofWrites(decodePprof(body, limits), meta)
  } else if (contentType.includes('multipart/form-data')) {
    const parts = parseMultipart(body, contentType)
    if (parts.some((p) => p.name === 'prev_profile')) {
      throw new KilnError('KILN_BAD_PROFILE', 'prev_profile is not supported (cumulative profiles from old SDKs): please update pyroscope-go to a version that sends delta profiles')
    }
    const profile = parts.find((p) => p.name === 'profile')
    if (!profile) throw new KilnError('KILN_BAD_REQUEST', `multipart body has no 'profile' field (fields: ${parts.map((p) => p.name).join(', ') || 'none'})`)
    let config: SampleTypeConfig | undefined
    const st = parts.find((p) => p.name === 'sample_type_config')
    if (st) {
      try {
        config = JSON.parse(st.data.toString('utf8')) as SampleTypeConfig
      } catch (e) {
        throw new KilnError('KILN_BAD_REQUEST', `sample_type_config is not valid JSON: ${(e as Error).message}`)
      }
      if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new KilnError('KILN_BAD_REQUEST', 'sample_type_config must be a JSON object keyed by sample type')
    }
    writes = pprofWrites(decodePprof(profile.data, limits), meta, { config })
  } else {
    const bytes = maybeGunzip(body, { maxBytes: ctx.config.maxDecompressedBytes })
    let p: Profile | null
    if (format === 'speedscope') p = decodeSpeedscope(bytes, { limits: ctx.limits })
    else if (format === 'lines') p = decodeLines(bytes, { limits: ctx.limits })
    else if (format === '' || format === 'groups' || format === 'folded' || format === 'collapsed') p = decodeFolded(bytes, { limits: ctx.limits })
    else throw new KilnError('KILN_BAD_FORMAT', `unknown format ${JSON.stringify(format)}: use folded (default), lines, pprof, speedscope or jfr`)
    if (!p) throw new KilnError('KILN_BAD_FORMAT', `the body is not ${format || 'folded'} data; set format= to what you send (pprof, speedscope, lines, folded)`)
    writes = legacyWrites(p, meta)
  }
  await writeSeries(ctx, req.tenant, writes)
  ctx.metrics.ingested(writes.length, body.length)
  res.writeHead(200, { 'content-length': 0 })
  res.end()
}
