/** Pyroscope's querier.v1.QuerierService over Connect, as Grafana's Pyroscope data source calls it. */
import { KilnError } from '../model/errors.ts'
import { parseSelector, type Matcher } from '../model/selector.ts'
import { parseProfileTypeId } from '../model/profile.ts'
import { flameGraph, diffFlameGraph } from '../model/flamegraph.ts'
import type { CallTree } from '../model/tree.ts'
import type { Msg } from '../formats/protomsg.ts'
import { encodePprof } from '../formats/pprof.ts'
import type { Selection } from '../store/index.ts'
import * as M from './messages.ts'
import type { Method } from './connect.ts'
import type { Context } from './context.ts'
import { treeToProfile } from './export.ts'

export const DEFAULT_MAX_NODES = 8192
export const MAX_NODES_LIMIT = 1_048_576

/** Builds a store selection; `start`/`end` in ms (0: the last hour up to now). */
export function selection(tenant: string, profileType: string | undefined, selector: string, start: number, end: number): Selection {
  const now = Date.now()
  const until = end > 0 ? end : now
  const from = start > 0 ? start : until - 3_600_000
  if (!(from < until)) throw new KilnError('KILN_BAD_TIME', `time range is empty: start ${from} must be before end ${until} (ms since the epoch)`)
  const sel = parseSelector(selector || '{}')
  let type = profileType || undefined
  if (!type && sel.prefix) type = sel.prefix
  if (type) parseProfileTypeId(type)
  return { tenant, profileType: type, matchers: sel.matchers, from, until }
}

/**
 * The selection of a request with Pyroscope's `matchers` (a list of selectors) and start/end.
 * Pyroscope ORs the selectors; clients send one, and Kiln ANDs them.
 */
function matcherSelection(tenant: string, m: Msg): Selection {
  const sel = selection(tenant, undefined, '{}', Number(m.start), Number(m.end))
  sel.matchers = (m.matchers as string[]).flatMap((s): Matcher[] => parseSelector(s).matchers)
  return sel
}

export function maxNodesOf(v: unknown): number {
  const n = Number(v ?? 0)
  if (!n) return DEFAULT_MAX_NODES
  if (n < 0) throw new KilnError('KILN_BAD_REQUEST', 'max_nodes must be positive')
  return Math.min(n, MAX_NODES_LIMIT)
}

/** Keeps only stacks that pass through the call site (a root-first prefix of function names). */
export function filterCallSite(tree: CallTree, callSite: string[]): CallTree {
  if (!callSite.length) return tree
  const out = new (tree.constructor as new () => CallTree)()
  for (const [stack, v] of tree.stacks()) {
    if (stack.length >= callSite.length && callSite.every((f, i) => stack[i] === f)) out.add(stack, v)
  }
  return out
}

function callSiteOf(m: Msg): string[] {
  const sts = m.stackTraceSelector as Msg | undefined
  return ((sts?.callSite as Msg[] | undefined) ?? []).map((l) => String(l.name))
}

async function mergedFor(ctx: Context, tenant: string, m: Msg): Promise<CallTree> {
  if (!m.profileTypeID) throw new KilnError('KILN_BAD_REQUEST', 'profile_typeID is required, e.g. process_cpu:cpu:nanoseconds:cpu:nanoseconds')
  const sel = selection(tenant, String(m.profileTypeID), String(m.labelSelector ?? ''), Number(m.start), Number(m.end))
  return filterCallSite(await ctx.store.reader.mergedTree(sel), callSiteOf(m))
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
        const types = await r.profileTypes(selection(req.tenant, undefined, '{}', Number(m.start), Number(m.end)))
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
        if (!m.profileTypeID) throw new KilnError('KILN_BAD_REQUEST', 'profile_typeID is required')
        const sel = selection(req.tenant, String(m.profileTypeID), String(m.labelSelector ?? ''), Number(m.start), Number(m.end))
        const step = Number(m.step) > 0 ? Number(m.step) : Math.max(10, (sel.until - sel.from) / 1000 / 300)
        if ((sel.until - sel.from) / 1000 / step > 100_000) throw new KilnError('KILN_LIMIT', `step ${step}s gives more than 100,000 points for this range; use a larger step`)
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
