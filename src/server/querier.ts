/** Pyroscope's querier.v1.QuerierService over Connect, as Grafana's Pyroscope data source calls it. */
import { KilnError } from '../model/errors.ts'
import { parseProfileTypeId } from '../model/profile.ts'
import { flameGraph, diffFlameGraph } from '../model/flamegraph.ts'
import type { CallTree } from '../model/tree.ts'
import type { Msg } from '../formats/protomsg.ts'
import { encodePprof } from '../formats/pprof.ts'
import type { Selection } from '../store/index.ts'
import { maxNodesOf, mergedTree, selection, stepOf, treeToProfile } from '../query/index.ts'
import * as M from './messages.ts'
import type { Method } from './connect.ts'
import type { Context } from './context.ts'

/** Connect's start/end are ms since the epoch (0: unset); `matchers` are ANDed. */
function matcherSelection(tenant: string, m: Msg): Selection {
  return selection({ tenant, selectors: m.matchers as string[], from: Number(m.start), until: Number(m.end) })
}

function callSiteOf(m: Msg): string[] {
  const sts = m.stackTraceSelector as Msg | undefined
  return ((sts?.callSite as Msg[] | undefined) ?? []).map((l) => String(l.name))
}

const TYPE_HINT = 'profile_typeID is required, e.g. process_cpu:cpu:nanoseconds:cpu:nanoseconds'

function typedSelection(tenant: string, m: Msg): Selection {
  return selection({ tenant, profileType: String(m.profileTypeID ?? ''), selectors: [String(m.labelSelector ?? '')], from: Number(m.start), until: Number(m.end), requireType: TYPE_HINT })
}

async function mergedFor(ctx: Context, tenant: string, m: Msg): Promise<CallTree> {
  return mergedTree(ctx.store.reader, typedSelection(tenant, m), callSiteOf(m))
}

export function querierMethods(ctx: Context): Method[] {
  const base = '/querier.v1.QuerierService/'
  const r = ctx.store.reader
  return [
    {
      path: base + 'ProfileTypes',
      input: M.ProfileTypesRequest,
      output: M.ProfileTypesResponse,
      async run(req, m) {
        const types = await r.profileTypes(selection({ tenant: req.tenant, from: Number(m.start), until: Number(m.end) }))
        return {
          profileTypes: types.map((id) => {
            const t = parseProfileTypeId(id)
            return { ID: id, name: t.name, sampleType: t.sampleType, sampleUnit: t.sampleUnit, periodType: t.periodType, periodUnit: t.periodUnit }
          }),
        }
      },
    },
    {
      path: base + 'LabelNames',
      input: M.LabelNamesRequest,
      output: M.LabelNamesResponse,
      async run(req, m) {
        const sel = matcherSelection(req.tenant, m)
        return { names: await r.labelNames(sel) }
      },
    },
    {
      path: base + 'LabelValues',
      input: M.LabelValuesRequest,
      output: M.LabelValuesResponse,
      async run(req, m) {
        if (!m.name) throw new KilnError('KILN_BAD_REQUEST', 'name is required: the label whose values to list')
        const sel = matcherSelection(req.tenant, m)
        return { names: await r.labelValues(sel, String(m.name)) }
      },
    },
    {
      path: base + 'Series',
      input: M.SeriesRequest,
      output: M.SeriesResponse,
      async run(req, m) {
        const sel = matcherSelection(req.tenant, m)
        const only = (m.labelNames as string[]).length ? new Set(m.labelNames as string[]) : null
        const seen = new Set<string>()
        const labelsSet: Msg[] = []
        for (const s of await r.series(sel)) {
          const all: Record<string, string> = { ...s.labels, __profile_type__: s.profileType }
          const pairs = Object.entries(all)
            .filter(([k]) => !only || only.has(k))
            .sort((a, b) => (a[0] < b[0] ? -1 : 1))
          const key = JSON.stringify(pairs)
          if (seen.has(key)) continue
          seen.add(key)
          labelsSet.push({ labels: pairs.map(([name, value]) => ({ name, value })) })
        }
        return { labelsSet }
      },
    },
    {
      path: base + 'SelectMergeStacktraces',
      input: M.SelectMergeStacktracesRequest,
      output: M.SelectMergeStacktracesResponse,
      async run(req, m) {
        const tree = await mergedFor(ctx, req.tenant, m)
        if (Number(m.format) === 4) return { pprof: { profile: encodePprof(treeToProfile(tree, String(m.profileTypeID)), { gzip: false }) } }
        if (Number(m.format) === 2 || Number(m.format) === 3) throw new KilnError('KILN_UNSUPPORTED', 'format TREE and DOT are not supported; use FLAMEGRAPH or PPROF')
        const fg = flameGraph(tree, maxNodesOf(m.maxNodes))
        return { flamegraph: { names: fg.names, levels: fg.levels.map((values) => ({ values })), total: fg.total, maxSelf: fg.maxSelf } }
      },
    },
    {
      path: base + 'SelectMergeProfile',
      input: M.SelectMergeProfileRequest,
      output: M.SelectMergeStacktracesResponse,
      async run(req, m) {
        const tree = await mergedFor(ctx, req.tenant, m)
        return encodePprof(treeToProfile(tree, String(m.profileTypeID)), { gzip: false })
      },
    },
    {
      path: base + 'SelectSeries',
      input: M.SelectSeriesRequest,
      output: M.SelectSeriesResponse,
      async run(req, m) {
        const sel = typedSelection(req.tenant, m)
        const step = stepOf(sel, m.step, { minS: 10, points: 300 })
        const groupBy = m.groupBy as string[]
        const series = await r.timeline(sel, { stepS: step, groupBy, aggregation: Number(m.aggregation) === 1 ? 'average' : 'sum', limit: Number(m.limit) || undefined, callSite: callSiteOf(m) })
        return {
          series: series.map((s) => ({
            labels: Object.entries(s.labels).map(([name, value]) => ({ name, value })),
            points: s.points.map(([timestamp, value]) => ({ timestamp, value })),
          })),
        }
      },
    },
    {
      path: base + 'GetProfileStats',
      input: M.GetProfileStatsRequest,
      output: M.GetProfileStatsResponse,
      async run(req) {
        const s = await r.profileStats(req.tenant)
        return { dataIngested: s.count > 0, oldestProfileTime: s.oldest, newestProfileTime: s.newest }
      },
    },
    {
      path: base + 'Diff',
      input: M.DiffRequest,
      output: M.DiffResponse,
      async run(req, m) {
        if (!m.left || !m.right) throw new KilnError('KILN_BAD_REQUEST', 'left and right are both required')
        const [l, rt] = await Promise.all([mergedFor(ctx, req.tenant, m.left as Msg), mergedFor(ctx, req.tenant, m.right as Msg)])
        const maxNodes = maxNodesOf((m.left as Msg).maxNodes || (m.right as Msg).maxNodes)
        const fg = diffFlameGraph(l, rt, maxNodes)
        return { flamegraph: { names: fg.names, levels: fg.levels.map((values) => ({ values })), total: fg.total, maxSelf: fg.maxSelf, leftTicks: fg.leftTicks, rightTicks: fg.rightTicks } }
      },
    },
  ]
}
