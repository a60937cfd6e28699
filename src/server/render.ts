/** Pyroscope's legacy HTTP query endpoints: /pyroscope/render, /render-diff, /label-values. */
import type { ServerResponse } from 'node:http'
import { KilnError } from '../model/errors.ts'
import { parseProfileTypeId } from '../model/profile.ts'
import { flameGraph, diffFlameGraph } from '../model/flamegraph.ts'
import type { Selection } from '../store/index.ts'
import { legacyTimeline, maxNodesOf, selection } from '../query/index.ts'
import { sendJson, type Req } from './http.ts'
import { treeDot } from './rpc/tree-format.ts'
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

/**
 * Flamebearer metadata as Pyroscope's render reports it: the sample unit as it is (wall in
 * microseconds from Node, delay in nanoseconds), but `cpu` in samples at a rate of 1e9 (values are
 * nanoseconds) and the object and goroutine counts in objects; 100 Hz otherwise; the name is the
 * sample type.
 */
function metadataOf(typeId: string): { sampleRate: number; units: string; name: string } {
  const t = parseProfileTypeId(typeId)
  if (t.sampleType === 'cpu') return { sampleRate: 1e9, units: 'samples', name: t.sampleType }
  const objects = ['inuse_objects', 'alloc_objects', 'goroutine', 'samples'].includes(t.sampleType)
  return { sampleRate: 100, units: objects ? 'objects' : t.sampleUnit, name: t.sampleType }
}

// Pyroscope draws its DOT from a merge of at most 512 nodes, keeping 100 in the graph.
const DOT_NODES = 100

export async function handleRender(ctx: Context, req: Req, res: ServerResponse): Promise<void> {
  const q = req.query
  const format = q.get('format') ?? 'json'
  const sel = renderSelection(req, q.get('query'), q.get('from'), q.get('until'))
  if (format === 'dot') {
    // A Graphviz call graph as text, as Pyroscope answers; an empty body when nothing matched.
    const tree = await ctx.store.reader.mergedTree(sel)
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end(tree.total[0] ? treeDot(tree, DOT_NODES, sel.profileType!) : '')
    return
  }
  // Pyroscope answers every other format (json, collapsed, …) with the flamebearer JSON.
  const [tree, tl] = await Promise.all([
    ctx.store.reader.mergedTree(sel),
    legacyTimeline(ctx.store.reader, sel, q.get('groupBy') ?? undefined),
  ])
  const fg = flameGraph(tree, maxNodesOf(q.get('maxNodes') ?? q.get('max-nodes')))
  sendJson(res, 200, {
    version: 1,
    flamebearer: { names: fg.names, levels: fg.levels, numTicks: fg.total, maxSelf: fg.maxSelf },
    metadata: { format: 'single', spyName: '', ...metadataOf(sel.profileType!) },
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
  sendJson(res, 200, {
    version: 1,
    flamebearer: { names: fg.names, levels: fg.levels, numTicks: fg.total, maxSelf: fg.maxSelf },
    metadata: { format: 'double', spyName: '', ...metadataOf(left.profileType!) },
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
