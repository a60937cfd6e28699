/** Pyroscope's legacy HTTP query endpoints: /pyroscope/render, /render-diff, /label-values. */
import type { ServerResponse } from 'node:http'
import { KilnError } from '../model/errors.ts'
import { parseSelector } from '../model/selector.ts'
import { parseTime } from '../model/time.ts'
import { parseProfileTypeId } from '../model/profile.ts'
import { flameGraph, diffFlameGraph } from '../model/flamegraph.ts'
import { sendJson, type Req } from './http.ts'
import type { Context } from './context.ts'
import { maxNodesOf } from './querier.ts'
import type { Selection } from '../store/index.ts'

function renderSelection(req: Req, query: string | null, from: string | null, until: string | null): Selection {
  if (!query) throw new KilnError('KILN_BAD_REQUEST', "missing 'query': send query=process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name=\"app\"}")
  const sel = parseSelector(query)
  if (!sel.prefix) throw new KilnError('KILN_BAD_REQUEST', `query ${JSON.stringify(query)} names no profile type before '{'`)
  parseProfileTypeId(sel.prefix)
  const now = Date.now()
  const f = parseTime(from ?? 'now-1h', now)
  const u = parseTime(until ?? 'now', now)
  if (!(f < u)) throw new KilnError('KILN_BAD_TIME', 'from must be before until')
  return { tenant: req.tenant, profileType: sel.prefix, matchers: sel.matchers, from: f, until: u }
}

/** Flamebearer metadata units and sample rate, as Pyroscope reports them per profile type. */
function unitsOf(typeId: string): { units: string; sampleRate: number } {
  const t = parseProfileTypeId(typeId)
  if (t.sampleUnit === 'nanoseconds' && (t.name === 'process_cpu' || t.name === 'wall')) return { units: 'samples', sampleRate: 1e9 }
  if (t.sampleUnit === 'bytes') return { units: 'bytes', sampleRate: 100 }
  if (t.sampleUnit === 'nanoseconds') return { units: 'lock_nanoseconds', sampleRate: 100 }
  if (t.sampleType.includes('goroutine')) return { units: 'goroutines', sampleRate: 100 }
  if (t.sampleType.endsWith('objects') || t.sampleUnit === 'count') return { units: 'objects', sampleRate: 100 }
  return { units: 'samples', sampleRate: 100 }
}

/** Timeline step as Pyroscope computes it: (until − from)/1500, at least 15 s. */
function timelineStepS(sel: Selection): number {
  return Math.max(15, Math.round((sel.until - sel.from) / 1000 / 1500))
}

async function timelineOf(ctx: Context, sel: Selection, groupBy?: string) {
  const step = timelineStepS(sel)
  const startTime = Math.floor(sel.from / 1000 / step) * step
  const n = Math.ceil((sel.until / 1000 - startTime) / step)
  const series = await ctx.store.reader.timeline(sel, { stepS: step, groupBy: groupBy ? [groupBy] : [], aggregation: 'sum' })
  const toTl = (points: [number, number][]) => {
    const samples = new Array<number>(Math.max(0, n)).fill(0)
    for (const [t, v] of points) {
      const i = Math.floor((t / 1000 - startTime) / step)
      if (i >= 0 && i < samples.length) samples[i]! += v
    }
    return { startTime, samples, durationDelta: step, watermarks: {} }
  }
  const all = series.flatMap((s) => s.points)
  const groups = groupBy ? Object.fromEntries(series.map((s) => [s.labels[groupBy] ?? '', toTl(s.points)])) : null
  return { timeline: toTl(all), groups }
}

export async function handleRender(ctx: Context, req: Req, res: ServerResponse): Promise<void> {
  const q = req.query
  if (q.get('format') && q.get('format') !== 'json') throw new KilnError('KILN_UNSUPPORTED', `format ${q.get('format')} is not supported; use format=json`)
  const sel = renderSelection(req, q.get('query'), q.get('from'), q.get('until'))
  const [tree, tl] = await Promise.all([ctx.store.reader.mergedTree(sel), timelineOf(ctx, sel, q.get('groupBy') ?? undefined)])
  const fg = flameGraph(tree, maxNodesOf(q.get('maxNodes') ?? q.get('max-nodes')))
  const { units, sampleRate } = unitsOf(sel.profileType!)
  const svc = sel.matchers.find((m) => m.name === 'service_name' && m.op === '=')?.value ?? ''
  sendJson(res, 200, {
    version: 1,
    flamebearer: { names: fg.names, levels: fg.levels, numTicks: fg.total, maxSelf: fg.maxSelf },
    metadata: { format: 'single', spyName: '', sampleRate, units, name: svc },
    timeline: tl.timeline,
    groups: tl.groups,
    heatmap: null,
  })
}

export async function handleRenderDiff(ctx: Context, req: Req, res: ServerResponse): Promise<void> {
  const q = req.query
  const left = renderSelection(req, q.get('leftQuery'), q.get('leftFrom'), q.get('leftUntil'))
  const right = renderSelection(req, q.get('rightQuery'), q.get('rightFrom'), q.get('rightUntil'))
  const [l, r, tl] = await Promise.all([ctx.store.reader.mergedTree(left), ctx.store.reader.mergedTree(right), timelineOf(ctx, left)])
  const fg = diffFlameGraph(l, r, maxNodesOf(q.get('maxNodes') ?? q.get('max-nodes')))
  const { units, sampleRate } = unitsOf(left.profileType!)
  sendJson(res, 200, {
    version: 1,
    flamebearer: { names: fg.names, levels: fg.levels, numTicks: fg.total, maxSelf: fg.maxSelf },
    metadata: { format: 'double', spyName: '', sampleRate, units, name: '' },
    leftTicks: fg.leftTicks,
    rightTicks: fg.rightTicks,
    timeline: tl.timeline,
  })
}

export async function handleLabelValuesLegacy(ctx: Context, req: Req, res: ServerResponse): Promise<void> {
  const label = req.query.get('label')
  if (!label) throw new KilnError('KILN_BAD_REQUEST', "missing 'label' parameter, e.g. label=__name__")
  const now = Date.now()
  const sel: Selection = { tenant: req.tenant, matchers: [], from: parseTime(req.query.get('from') ?? 'now-1h', now), until: parseTime(req.query.get('until') ?? 'now', now) }
  if (label === '__name__') sendJson(res, 200, await ctx.store.reader.profileTypes(sel))
  else sendJson(res, 200, await ctx.store.reader.labelValues(sel, label))
}
