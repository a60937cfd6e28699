/** Pyroscope's legacy HTTP query endpoints: /pyroscope/render, /render-diff, /label-values. */
import type { ServerResponse } from 'node:http'
import { KilnError } from '../model/errors.ts'
import { parseProfileTypeId } from '../model/profile.ts'
import { flameGraph, diffFlameGraph } from '../model/flamegraph.ts'
import type { Selection } from '../store/index.ts'
import { legacyTimeline, maxNodesOf, selection } from '../query/index.ts'
import { sendJson, type Req } from './http.ts'
import type { Context } from './context.ts'

function renderSelection(req: Req, query: string | null, from: string | null, until: string | null): Selection {
  if (!query)
    throw new KilnError('KILN_BAD_REQUEST', 'missing \'query\': send query=process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="app"}')
  return selection({
    tenant: req.tenant,
    selectors: [query],
    from,
    until,
    requireType: `query ${JSON.stringify(query.slice(0, 100))} names no profile type before '{'`,
  })
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

export async function handleRender(ctx: Context, req: Req, res: ServerResponse): Promise<void> {
  const q = req.query
  if (q.get('format') && q.get('format') !== 'json')
    throw new KilnError('KILN_UNSUPPORTED', `format ${q.get('format')} is not supported; use format=json`)
  const sel = renderSelection(req, q.get('query'), q.get('from'), q.get('until'))
  const [tree, tl] = await Promise.all([
    ctx.store.reader.mergedTree(sel),
    legacyTimeline(ctx.store.reader, sel, q.get('groupBy') ?? undefined),
  ])
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
  const [l, r, tl] = await Promise.all([
    ctx.store.reader.mergedTree(left),
    ctx.store.reader.mergedTree(right),
    legacyTimeline(ctx.store.reader, left),
  ])
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
  const sel = selection({ tenant: req.tenant, from: req.query.get('from'), until: req.query.get('until') })
  if (label === '__name__') sendJson(res, 200, await ctx.store.reader.profileTypes(sel))
  else sendJson(res, 200, await ctx.store.reader.labelValues(sel, label))
}
