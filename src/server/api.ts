/** Kiln's own JSON API (`/api/v1/…`) for the web UI and the CLI; see docs/api.md. */
import type { ServerResponse } from 'node:http'
import { KilnError } from '../model/errors.ts'
import { parseProfileTypeId } from '../model/profile.ts'
import { flameGraph, diffFlameGraph } from '../model/flamegraph.ts'
import { topTable } from '../model/tree.ts'
import { encodePprof, encodeSpeedscope, encodeFolded } from '../formats/index.ts'
import type { Selection } from '../store/index.ts'
import { framesToProfile, maxNodesOf, selection, stepOf } from '../query/index.ts'
import { sendBytes, sendJson, type Req, type Router } from './http.ts'
import type { Context } from './context.ts'

const TYPE_HINT =
  "missing 'type': a profile type id such as process_cpu:cpu:nanoseconds:cpu:nanoseconds (list them at /api/v1/profile-types)"

/** The request's selection: `type`, `query`, `from`, `until` (or `leftQuery`, `leftFrom`, … with a prefix). */
function sel(req: Req, opts: { needType: boolean; prefix?: string }): Selection {
  const q = req.query
  const name = (n: string) => (opts.prefix ? `${opts.prefix}${n[0]!.toUpperCase()}${n.slice(1)}` : n)
  return selection({
    tenant: req.tenant,
    profileType: q.get('type'),
    selectors: [q.get(name('query'))],
    from: q.get(name('from')),
    until: q.get(name('until')),
    requireType: opts.needType ? TYPE_HINT : undefined,
  })
}

function typeInfo(id: string) {
  const t = parseProfileTypeId(id)
  return { id, name: t.name, sampleType: t.sampleType, sampleUnit: t.sampleUnit, periodType: t.periodType, periodUnit: t.periodUnit }
}

export function mountApi(router: Router, ctx: Context): void {
  const r = ctx.store.reader
  const get = (path: string, h: (req: Req, res: ServerResponse) => Promise<void>) => router.on('GET', `/api/v1/${path}`, h)

  get('profile-types', async (req, res) => {
    sendJson(res, 200, (await r.profileTypes(sel(req, { needType: false }))).map(typeInfo))
  })
  get('label-names', async (req, res) => {
    sendJson(res, 200, await r.labelNames(sel(req, { needType: false })))
  })
  get('label-values', async (req, res) => {
    const name = req.query.get('name')
    if (!name) throw new KilnError('KILN_BAD_REQUEST', "missing 'name': the label whose values to list")
    sendJson(res, 200, await r.labelValues(sel(req, { needType: false }), name))
  })
  get('flamegraph', async (req, res) => {
    const s = sel(req, { needType: true })
    const fg = flameGraph(await r.mergedTree(s), maxNodesOf(req.query.get('maxNodes')))
    sendJson(res, 200, { flamegraph: fg, unit: parseProfileTypeId(s.profileType!).sampleUnit, type: typeInfo(s.profileType!) })
  })
  get('top', async (req, res) => {
    const s = sel(req, { needType: true })
    const tree = await r.mergedTree(s)
    const limit = Number(req.query.get('limit') ?? 0)
    const rows = topTable(tree)
    sendJson(res, 200, {
      rows: limit > 0 ? rows.slice(0, limit) : rows,
      total: tree.total[0],
      unit: parseProfileTypeId(s.profileType!).sampleUnit,
    })
  })
  get('timeline', async (req, res) => {
    const s = sel(req, { needType: true })
    const step = stepOf(s, req.query.get('step'), { minS: 10, points: 300 })
    const groupBy = (req.query.get('groupBy') ?? '').split(',').filter(Boolean)
    const series = await r.timeline(s, {
      stepS: step,
      groupBy,
      aggregation: req.query.get('aggregation') === 'average' ? 'average' : 'sum',
    })
    sendJson(res, 200, { step, series })
  })
  get('diff', async (req, res) => {
    const left = sel(req, { needType: true, prefix: 'left' })
    const right = sel(req, { needType: true, prefix: 'right' })
    const [l, rt] = await Promise.all([r.mergedTree(left), r.mergedTree(right)])
    sendJson(res, 200, {
      flamegraph: diffFlameGraph(l, rt, maxNodesOf(req.query.get('maxNodes'))),
      unit: parseProfileTypeId(left.profileType!).sampleUnit,
    })
  })
  get('label-breakdown', async (req, res) => {
    const name = req.query.get('name')
    if (!name) throw new KilnError('KILN_BAD_REQUEST', "missing 'name': the label to break down by")
    const s = sel(req, { needType: true })
    const values = await r.breakdown(s, name)
    const total = values.reduce((a, v) => a + v.total, 0)
    sendJson(res, 200, { name, total, values: values.map((v) => ({ ...v, share: total ? v.total / total : 0 })) })
  })
  get('export', async (req, res) => {
    const s = sel(req, { needType: true })
    const format = req.query.get('format') ?? 'pprof'
    // The stored frames, as SelectMergeProfile reads them: a download keeps files, lines and binaries.
    const profile = framesToProfile(await r.mergedFrames(s), s.profileType!, { timeMs: s.from, durationNanos: (s.until - s.from) * 1e6 })
    const base = `kiln-${parseProfileTypeId(s.profileType!).name}-${new Date(s.from).toISOString().replace(/[:.]/g, '-')}`
    const disp = (ext: string) => ({ 'content-disposition': `attachment; filename="${base}.${ext}"` })
    if (format === 'pprof') sendBytes(res, 200, 'application/octet-stream', encodePprof(profile, { gzip: true }), disp('pb.gz'))
    else if (format === 'folded') sendBytes(res, 200, 'text/plain; charset=utf-8', encodeFolded(profile), disp('folded'))
    else if (format === 'speedscope')
      sendBytes(res, 200, 'application/json', encodeSpeedscope(profile, { name: base }), disp('speedscope.json'))
    else throw new KilnError('KILN_BAD_REQUEST', `unknown export format ${JSON.stringify(format)}: use pprof, folded or speedscope`)
  })
}
