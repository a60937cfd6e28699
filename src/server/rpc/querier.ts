/** Pyroscope's querier.v1.QuerierService, as Grafana's Pyroscope data source and Drilldown call it. */
import { fromBinary } from '@bufbuild/protobuf'
import type { ServiceImpl } from '@connectrpc/connect'
import { KilnError } from '../../model/errors.ts'
import { parseProfileTypeId } from '../../model/profile.ts'
import { spanSelector } from '../../model/span.ts'
import { parseProfileId, profileId } from '../../model/profile-id.ts'
import { flameGraph, diffFlameGraph, type FlameGraph as FlameGraphData } from '../../model/flamegraph.ts'
import type { CallTree } from '../../model/tree.ts'
import { encodePprof } from '../../formats/pprof.ts'
import type { Reader, Selection } from '../../store/index.ts'
import type { Exemplar } from '../../store/reader.ts'
import { framesToProfile, maxNodesOf, mergedTree, selection, stepOf } from '../../query/index.ts'
import type { Context } from '../context.ts'
import { ProfileSchema } from './gen/google/v1/profile_pb.ts'
import { ExemplarType, TimeSeriesAggregationType, type StackTraceSelector } from './gen/types/v1/types_pb.ts'
import { ProfileFormat, type QuerierService } from './gen/querier/v1/querier_pb.ts'
import { tenantOf } from './tenant.ts'
import { treeBytes, treeDot } from './tree-format.ts'
import { TYPE_LABELS, isTypeLabel, matcherSelections, settleTypeMatchers, typeLabels } from './labels.ts'

/** The fields every typed query shares (SelectMergeStacktraces, SelectSeries, SelectMergeProfile, Diff's sides). */
interface TypedQuery {
  profileTypeID: string
  labelSelector: string
  start: bigint
  end: bigint
  stackTraceSelector?: StackTraceSelector
  /** Span ids (16 hex digits): only their samples. Absent: every sample. */
  spanSelector?: string[]
  /** Profile ids (from SelectSeries exemplars): only those profiles. Absent: every profile. */
  profileIdSelector?: string[]
}

const TYPE_HINT = 'profile_typeID is required, e.g. process_cpu:cpu:nanoseconds:cpu:nanoseconds'

/** Connect's start/end are ms since the epoch (0: unset); int64 arrive as bigint. An empty span selector is none. */
function typedSelection(tenant: string, m: TypedQuery): Selection {
  const sel = settleTypeMatchers(
    selection({
      tenant,
      profileType: m.profileTypeID,
      selectors: [m.labelSelector],
      from: Number(m.start),
      until: Number(m.end),
      requireType: TYPE_HINT,
    }),
  )
  return {
    ...sel,
    ...(m.spanSelector?.length ? { spanIds: spanSelector(m.spanSelector) } : {}),
    ...(m.profileIdSelector?.length ? { profiles: m.profileIdSelector.map(parseProfileId) } : {}),
  }
}

/** A label query's matchers and range, as matcherSelections takes them. */
const matcherQuery = (tenant: string, m: { matchers: string[]; start: bigint; end: bigint }) => ({
  tenant,
  matchers: m.matchers,
  start: Number(m.start),
  end: Number(m.end),
})

// Sums of Int64 columns: integers, and far below 2^53 in practice; int64 fields take bigint.
const big = (n: number): bigint => BigInt(Math.round(n))

const union = (lists: string[][]): string[] => [...new Set(lists.flat())].sort()

const callSiteOf = (m: TypedQuery): string[] => (m.stackTraceSelector?.callSite ?? []).map((l) => l.name)

/**
 * Selectors of traces: the store keeps no trace ids, and ignoring them would answer the merge of
 * everything as if it were the trace asked for. (Spans and profiles it selects.)
 */
function refuseIdSelectors(m: { traceIdSelector?: string[] }): void {
  if (m.traceIdSelector?.length)
    throw new KilnError(
      'KILN_UNSUPPORTED',
      'trace_id_selector is not supported yet: Kiln does not keep trace ids; select by span_selector (docs/pyroscope-compat.md)',
    )
}

function flameGraphMessage(fg: FlameGraphData): { names: string[]; levels: { values: bigint[] }[]; total: bigint; maxSelf: bigint } {
  return {
    names: fg.names,
    levels: fg.levels.map((values) => ({ values: values.map(big) })),
    total: big(fg.total),
    maxSelf: big(fg.maxSelf),
  }
}

export function querierService(ctx: Context): Partial<ServiceImpl<typeof QuerierService>> {
  const r = ctx.store.reader
  const merged = (tenant: string, m: TypedQuery): Promise<CallTree> => mergedTree(r, typedSelection(tenant, m), callSiteOf(m))
  // The selection as pprof (SelectMergeProfile, SelectMergeStacktraces' PPROF): the stored frames
  // with their files, lines and binaries, spanning the range asked for.
  const mergedPprof = async (tenant: string, m: TypedQuery): Promise<Uint8Array> => {
    const sel = typedSelection(tenant, m)
    const profile = framesToProfile(await r.mergedFrames(sel), m.profileTypeID, {
      timeMs: sel.from,
      durationNanos: (sel.until - sel.from) * 1e6,
      callSite: callSiteOf(m),
    })
    return encodePprof(profile, { gzip: false })
  }
  return {
    async profileTypes(m, call) {
      const types = await r.profileTypes(selection({ tenant: tenantOf(call), from: Number(m.start), until: Number(m.end) }))
      return {
        profileTypes: types.map((id) => {
          const t = parseProfileTypeId(id)
          return {
            ID: id,
            name: t.name,
            sampleType: t.sampleType,
            sampleUnit: t.sampleUnit,
            periodType: t.periodType,
            periodUnit: t.periodUnit,
          }
        }),
      }
    },
    async labelNames(m, call) {
      const sels = await matcherSelections(r, matcherQuery(tenantOf(call), m))
      // A selection with series has the type's labels too, as Pyroscope lists them.
      const names = await Promise.all(
        sels.map(async (s) => {
          const stored = await r.labelNames(s)
          return stored.length ? [...stored, ...TYPE_LABELS] : stored
        }),
      )
      return { names: union(names) }
    },
    async labelValues(m, call) {
      if (!m.name) throw new KilnError('KILN_BAD_REQUEST', 'name is required: the label whose values to list')
      const sels = await matcherSelections(r, matcherQuery(tenantOf(call), m))
      const values = await Promise.all(
        sels.map(async (s) => {
          if (!isTypeLabel(m.name)) return r.labelValues(s, m.name)
          return (await r.profileTypes(s)).map((t) => typeLabels(t)[m.name]!).filter((v) => v !== '')
        }),
      )
      return { names: union(values) }
    },
    async series(m, call) {
      const only = m.labelNames.length ? new Set(m.labelNames) : null
      const seen = new Set<string>()
      const labelsSet: { labels: { name: string; value: string }[] }[] = []
      for (const sel of await matcherSelections(r, matcherQuery(tenantOf(call), m))) {
        for (const s of await r.series(sel)) {
          const pairs = Object.entries({ ...s.labels, ...typeLabels(s.profileType) })
            .filter(([k]) => !only || only.has(k))
            .sort((a, b) => (a[0] < b[0] ? -1 : 1))
          const key = JSON.stringify(pairs)
          if (seen.has(key)) continue
          seen.add(key)
          labelsSet.push({ labels: pairs.map(([name, value]) => ({ name, value })) })
        }
      }
      return { labelsSet }
    },
    async selectMergeStacktraces(m, call) {
      refuseIdSelectors(m)
      if (m.format === ProfileFormat.PPROF) return { pprof: { profile: await mergedPprof(tenantOf(call), m) } }
      const tree = await merged(tenantOf(call), m)
      if (m.format === ProfileFormat.TREE) return { tree: treeBytes(tree, maxNodesOf(m.maxNodes)) }
      // A call graph is read, not zoomed: 100 functions unless asked (pprof shows 80).
      if (m.format === ProfileFormat.DOT) return { dot: treeDot(tree, m.maxNodes ? maxNodesOf(m.maxNodes) : 100, m.profileTypeID) }
      return { flamegraph: flameGraphMessage(flameGraph(tree, maxNodesOf(m.maxNodes))) }
    },
    async selectMergeProfile(m, call) {
      refuseIdSelectors(m)
      // The pprof encoder is Kiln's one writer of the format; the message is read back from its bytes.
      return fromBinary(ProfileSchema, await mergedPprof(tenantOf(call), m))
    },
    async selectSeries(m, call) {
      const sel = typedSelection(tenantOf(call), m)
      const step = stepOf(sel, m.step, { minS: 10, points: 300 })
      const aggregation = m.aggregation === TimeSeriesAggregationType.AVERAGE ? 'average' : 'sum'
      const series = await r.timeline(sel, {
        stepS: step,
        groupBy: m.groupBy,
        aggregation,
        limit: Number(m.limit ?? 0) || undefined,
        callSite: callSiteOf(m),
        exemplars: wantsExemplars(m.exemplarType),
      })
      return {
        series: series.map((s) => ({
          labels: Object.entries(s.labels).map(([name, value]) => ({ name, value })),
          points: s.points.map(([timestamp, value], i) => {
            const e = s.exemplars?.[i]
            return { timestamp: big(timestamp), value, exemplars: e ? [exemplarMessage(e)] : [] }
          }),
        })),
      }
    },
    async getProfileStats(_m, call) {
      const s = await r.profileStats(tenantOf(call))
      return { dataIngested: s.count > 0, oldestProfileTime: big(s.oldest), newestProfileTime: big(s.newest) }
    },
    async analyzeQuery(m, call) {
      // What the query reads: Kiln answers from one store, so one scope; its series are counted.
      // Byte counts are not tracked per query and stay 0.
      const sel = settleTypeMatchers(
        selection({ tenant: tenantOf(call), selectors: [m.query], from: Number(m.start), until: Number(m.end) }),
      )
      const series = BigInt((await r.series(sel)).length)
      return {
        queryScopes: [{ componentType: 'ClickHouse store', componentCount: 1n, seriesCount: series }],
        queryImpact: { totalQueriedSeries: series, deduplicationNeeded: false },
      }
    },
    selectMergeSpanProfile: selectMergeSpanProfile(r),
    async diff(m, call) {
      if (!m.left || !m.right) throw new KilnError('KILN_BAD_REQUEST', 'left and right are both required')
      const tenant = tenantOf(call)
      const [l, rt] = await Promise.all([merged(tenant, m.left), merged(tenant, m.right)])
      const fg = diffFlameGraph(l, rt, maxNodesOf(m.left.maxNodes || m.right.maxNodes))
      return { flamegraph: { ...flameGraphMessage(fg), leftTicks: big(fg.leftTicks), rightTicks: big(fg.rightTicks) } }
    },
  }
}

/**
 * The merged flame graph of the samples of the spans asked for (their `span_id` pprof label), as
 * Grafana's "profiles for this span" asks it. Spans are matched exactly: a span's children are
 * their own spans, and selected only when listed. An empty selector selects nothing, as in Pyroscope.
 */
function selectMergeSpanProfile(r: Reader): NonNullable<Partial<ServiceImpl<typeof QuerierService>>['selectMergeSpanProfile']> {
  return async (m, call) => {
    const tree = await mergedTree(r, { ...typedSelection(tenantOf(call), m), spanIds: spanSelector(m.spanSelector) })
    const maxNodes = maxNodesOf(m.maxNodes)
    if (m.format === ProfileFormat.TREE) return { tree: treeBytes(tree, maxNodes) }
    return { flamegraph: flameGraphMessage(flameGraph(tree, maxNodes)) }
  }
}

/** Whether SelectSeries attaches exemplars: INDIVIDUAL profiles yes; SPAN is unimplemented, as in Pyroscope. */
function wantsExemplars(t: ExemplarType): boolean {
  if (t === ExemplarType.INDIVIDUAL) return true
  if (t === ExemplarType.UNSPECIFIED || t === ExemplarType.NONE) return false
  if (t === ExemplarType.SPAN)
    throw new KilnError(
      'KILN_UNSUPPORTED',
      'exemplar_type EXEMPLAR_TYPE_SPAN is not implemented (as in Pyroscope); use EXEMPLAR_TYPE_INDIVIDUAL',
    )
  throw new KilnError('KILN_BAD_REQUEST', `unknown exemplar_type ${t}: use EXEMPLAR_TYPE_NONE or EXEMPLAR_TYPE_INDIVIDUAL`)
}

/** A point's exemplar: the profile's id (which profile_id_selector takes back), time, total and series labels. */
function exemplarMessage(e: Exemplar) {
  return {
    profileId: profileId(e),
    timestamp: big(e.timeMs),
    value: big(e.value),
    labels: Object.entries(e.labels).map(([name, value]) => ({ name, value })),
  }
}
