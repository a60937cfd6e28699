/** Load-test runs stored by `kiln run --out kiln=URL`: list, read, compare, and their profiles. */
import { randomUUID } from 'node:crypto'
import { KilnError } from '../model/errors.ts'
import { parseSelector } from '../model/selector.ts'
import type { RunInfo, RunPoint } from '../store/runs.ts'
import { RUN_PERCENTILES, histMerge, histQuantile, runProfileWindow, type MetricSummary, type ShownPoint } from '../model/run.ts'
import { readRunSummary } from '../model/run-summary.ts'
import { sendJson, type Req, type Router } from './http.ts'
import type { Context } from './context.ts'

const ID_RE = /^[A-Za-z0-9_.-]{1,100}$/

async function jsonBody(req: Req): Promise<Record<string, unknown>> {
  const raw = (await req.body()).toString('utf8')
  try {
    const v = JSON.parse(raw || '{}') as unknown
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>
  } catch {
    /* reported below */
  }
  throw new KilnError('KILN_BAD_REQUEST', 'expected a JSON object body')
}

function runId(req: Req): string {
  const id = req.query.get('run') ?? ''
  if (!ID_RE.test(id))
    throw new KilnError('KILN_BAD_REQUEST', "missing or invalid 'run' parameter: a run id of letters, digits, '.', '_' and '-'")
  return id
}

async function getRun(ctx: Context, req: Req, id: string): Promise<RunInfo> {
  const [run] = await ctx.store.runs.list(req.tenant, id)
  if (!run) throw new KilnError('KILN_NOT_FOUND', `no run ${id}; list runs at /api/v1/runs`)
  return run
}

// Runs seen to exist, so a run's points (posted every second) cost no lookup after the first.
const known = new Set<string>()
const KNOWN_LIMIT = 10_000

async function knownRun(ctx: Context, req: Req, id: string): Promise<void> {
  const key = `${req.tenant}\u0000${id}`
  if (known.has(key)) return
  await getRun(ctx, req, id)
  if (known.size >= KNOWN_LIMIT) known.clear()
  known.add(key)
}

/** Per-metric totals of a run: count, sum, min, max, avg (trends: avg of values; counters: sum). */
function summarize(points: RunPoint[]): Record<string, MetricSummary> {
  const out: Record<string, MetricSummary> = {}
  const hists: Record<string, Record<string, number>> = {}
  for (const p of points) {
    const m = (out[p.metric] ??= { type: p.type, count: 0, sum: 0, min: Infinity, max: -Infinity, avg: 0 })
    m.count += p.count
    m.sum += p.sum
    m.min = Math.min(m.min, p.min)
    m.max = Math.max(m.max, p.max)
    if (p.hist) histMerge((hists[p.metric] ??= {}), p.hist)
  }
  for (const [name, m] of Object.entries(out)) {
    m.avg = m.count ? m.sum / m.count : 0
    const h = hists[name]
    if (h) for (const q of RUN_PERCENTILES) m[`p${q}`] = histQuantile(h, q / 100, m.min, m.max)
  }
  return out
}

/** A stored second as the API shows it: the histogram read as percentiles. */
function showPoint(p: RunPoint): ShownPoint {
  const { hist, ...rest } = p
  if (!hist) return rest
  return { ...rest, ...Object.fromEntries(RUN_PERCENTILES.map((q) => [`p${q}`, histQuantile(hist, q / 100, p.min, p.max)])) }
}

/** A point's histogram as sent: bucket numbers (Int16) to whole counts; anything else is a 400. */
function readHist(v: unknown, at: string): Record<string, number> | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'object' || Array.isArray(v)) throw new KilnError('KILN_BAD_REQUEST', `${at} must be an object of bucket → count`)
  const out: Record<string, number> = {}
  for (const [k, c] of Object.entries(v as Record<string, unknown>)) {
    const b = Number(k)
    if (!Number.isInteger(b) || b < -32768 || b > 32767)
      throw new KilnError('KILN_BAD_REQUEST', `${at}: bucket '${k.slice(0, 20)}' is not a 16-bit integer`)
    if (typeof c !== 'number' || !Number.isSafeInteger(c) || c < 0)
      throw new KilnError('KILN_BAD_REQUEST', `${at}[${b}]: the count must be a whole number ≥ 0`)
    out[b] = c
  }
  return out
}

export function mountRuns(router: Router, ctx: Context): void {
  const runs = ctx.store.runs
  router.on('POST', '/api/v1/runs', async (req, res) => {
    const b = await jsonBody(req)
    const id = b.id === undefined ? randomUUID() : String(b.id)
    if (!ID_RE.test(id)) throw new KilnError('KILN_BAD_REQUEST', `invalid run id ${JSON.stringify(id.slice(0, 100))}`)
    const profile = String(b.profile ?? '')
    if (profile) parseSelector(profile.startsWith('{') ? profile : `{${profile}}`)
    const tags = (b.tags && typeof b.tags === 'object' ? b.tags : {}) as Record<string, unknown>
    const run: RunInfo = {
      id,
      script: String(b.script ?? ''),
      tags: Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, String(v)])),
      profile: profile && !profile.startsWith('{') ? `{${profile}}` : profile,
      started: Number(b.started ?? Date.now()),
      ended: 0,
      thresholds: [],
    }
    await runs.save(req.tenant, run)
    sendJson(res, 200, { id })
  })
  router.on('POST', '/api/v1/runs/points', async (req, res) => {
    const id = runId(req)
    const b = await jsonBody(req)
    // Points of a run never created would be stored where no listing shows them.
    await knownRun(ctx, req, id)
    if (!Array.isArray(b.points)) throw new KilnError('KILN_BAD_REQUEST', 'expected {points: [{metric, type, t, count, sum, min, max}]}')
    const points = (b.points as Record<string, unknown>[]).map((p, i) => {
      const n = (k: string) => {
        const v = Number(p[k])
        if (!Number.isFinite(v)) throw new KilnError('KILN_BAD_REQUEST', `points[${i}].${k} is not a number`)
        return v
      }
      if (typeof p.metric !== 'string' || !p.metric) throw new KilnError('KILN_BAD_REQUEST', `points[${i}].metric is missing`)
      const point: RunPoint = {
        metric: p.metric,
        type: String(p.type ?? ''),
        t: n('t'),
        count: n('count'),
        sum: n('sum'),
        min: n('min'),
        max: n('max'),
      }
      const hist = readHist(p.hist, `points[${i}].hist`)
      if (hist) point.hist = hist
      return point
    })
    await runs.addPoints(req.tenant, id, points)
    sendJson(res, 200, { stored: points.length })
  })
  router.on('POST', '/api/v1/runs/finish', async (req, res) => {
    const id = runId(req)
    const b = await jsonBody(req)
    const run = await getRun(ctx, req, id)
    run.ended = Number(b.ended ?? Date.now())
    if (b.summary !== undefined) run.summary = readRunSummary(b.summary)
    run.thresholds = Array.isArray(b.thresholds)
      ? (b.thresholds as RunInfo['thresholds']).map((t) => ({ metric: String(t.metric), source: String(t.source), ok: Boolean(t.ok) }))
      : []
    await runs.save(req.tenant, run)
    sendJson(res, 200, { id })
  })
  router.on('GET', '/api/v1/runs', async (req, res) => {
    const list = await runs.list(req.tenant)
    sendJson(
      res,
      200,
      list.map((r) => ({ ...r, thresholdsOk: r.thresholds.every((t) => t.ok) })),
    )
  })
  router.on('GET', '/api/v1/runs/get', async (req, res) => {
    const run = await getRun(ctx, req, runId(req))
    const points = await runs.points(req.tenant, run.id)
    const { from, until } = runProfileWindow(run)
    let profileTypes: string[] = []
    if (run.profile)
      profileTypes = await ctx.store.reader.profileTypes({ tenant: req.tenant, matchers: parseSelector(run.profile).matchers, from, until })
    sendJson(res, 200, {
      run,
      metrics: summarize(points),
      points: points.map(showPoint),
      profile: run.profile ? { query: run.profile, from, until, types: profileTypes } : null,
    })
  })
  router.on('GET', '/api/v1/runs/compare', async (req, res) => {
    const ids = [req.query.get('a') ?? '', req.query.get('b') ?? '']
    if (!ids.every((id) => ID_RE.test(id))) throw new KilnError('KILN_BAD_REQUEST', 'compare needs two run ids: ?a=RUN&b=RUN')
    const [a, b] = await Promise.all(
      ids.map(async (id) => ({ run: await getRun(ctx, req, id), metrics: summarize(await runs.points(req.tenant, id)) })),
    )
    const change: Record<string, number | null> = {}
    for (const [name, m] of Object.entries(a!.metrics)) {
      const other = b!.metrics[name]
      change[name] = other && m.avg ? other.avg / m.avg - 1 : null
    }
    sendJson(res, 200, { a, b, change })
  })
}
