/**
 * Two stored runs side by side: the functions whose share of the target's profile changed most,
 * and the run metrics' changes — what `kiln compare` prints and judges thresholds on.
 */
import type { ProfileSource, StoredRun } from './profile-source.ts'
import { show } from './report-data.ts'
import { Registry } from './metrics.ts'

export interface FunctionChange {
  name: string
  /** Share of each run's profile total in stacks through the function (0…1). */
  a: number
  b: number
  /** b − a: 0.05 = 5 points hotter in B. */
  delta: number
}

export interface MetricChange {
  metric: string
  stat: string
  a: number
  b: number
  /** Relative (0.1 = 10% more), or in points for a rate metric's rate. */
  change: number
  shown: { a: string; b: string; change: string }
}

export interface Comparison {
  a: StoredRun
  b: StoredRun
  /** The profile type both sides were read in, and why there are no functions when there are none. */
  type: string
  note?: string
  functions: FunctionChange[]
  metrics: MetricChange[]
}

/** Each function's total over the stacks (counted once per stack, so recursion once, as the top table's total). */
// `fn dir/sub/file.mjs:12` → `fn file.mjs:12`: the same function checked out in two places (CI
// workspaces, temp directories) is one row, as profile_share_change (bare names) already treats it.
const IN_DIR = /^(.*\S)\s+\S*\/([^/\s]+:\d+)$/

/** A frame's name without the directories of its file. */
export function withoutDirs(frame: string): string {
  const m = IN_DIR.exec(frame)
  return m ? `${m[1]} ${m[2]}` : frame
}

function totals(stacks: [string[], number][]): Map<string, number> {
  const out = new Map<string, number>()
  for (const [stack, v] of stacks) for (const f of new Set(stack.map(withoutDirs))) out.set(f, (out.get(f) ?? 0) + v)
  return out
}

/** The comparison of runs `a` (the baseline) and `b`, with the `top` functions that moved most. */
export async function compareRuns(
  source: ProfileSource,
  a: StoredRun,
  b: StoredRun,
  opts: { top: number; type?: string; selector?: string },
): Promise<Comparison> {
  const out: Comparison = { a, b, type: '', functions: [], metrics: metricChanges(a, b) }
  const selA = opts.selector ?? a.run.profile
  const selB = opts.selector ?? b.run.profile
  if (!selA || !selB) {
    out.note = `run ${selA ? b.run.id : a.run.id} was stored without --profile: no profile to compare (give --profile SELECTOR)`
    return out
  }
  const sb = await source.stacks(selB, b.run, opts.type ? { type: opts.type } : {})
  const sa = sb ? await source.stacks(selA, a.run, { type: sb.type }).catch(() => null) : null
  if (!sa || !sb) {
    out.note = `no ${sb ? `${sb.type} ` : ''}profile of ${sa ? selB : selA} in run ${sa ? b.run.id : a.run.id}'s window`
    return out
  }
  out.type = sb.type
  const ta = totals(sa.stacks)
  const tb = totals(sb.stacks)
  const names = new Set([...ta.keys(), ...tb.keys()])
  const rows = [...names].map((name) => {
    const x = (ta.get(name) ?? 0) / sa.total
    const y = (tb.get(name) ?? 0) / sb.total
    return { name, a: x, b: y, delta: y - x }
  })
  rows.sort((p, q) => Math.abs(q.delta) - Math.abs(p.delta) || (p.name < q.name ? -1 : 1))
  out.functions = rows.slice(0, opts.top)
  return out
}

const builtins = new Registry()
const STATS: Record<string, string[]> = { trend: ['avg', 'p95'], counter: ['count', 'rate'], rate: ['rate'], gauge: ['avg'] }

/** The request metrics both runs have: trends' avg and p95, counters' count and per-second rate, rates' rate. */
function metricChanges(a: StoredRun, b: StoredRun): MetricChange[] {
  const out: MetricChange[] = []
  const secs = (r: StoredRun) => Math.max(0.001, (r.run.ended - r.run.started) / 1000)
  for (const name of Object.keys(b.metrics).sort()) {
    const mb = b.metrics[name]!
    const ma = a.metrics[name]
    if (!ma) continue
    for (const stat of STATS[mb.type] ?? []) {
      const pick = (m: typeof mb, r: StoredRun): number =>
        stat === 'count'
          ? m.sum
          : stat === 'rate'
            ? mb.type === 'rate'
              ? m.count
                ? m.sum / m.count
                : 0
              : m.sum / secs(r)
            : stat === 'p95'
              ? (m.p95 ?? NaN)
              : m.avg
      const x = pick(ma, a)
      const y = pick(mb, b)
      const rate = mb.type === 'rate'
      const change = rate ? y - x : x === 0 ? (y === 0 ? 0 : Infinity) : y / x - 1
      const agg = stat === 'p95' ? 'p(95)' : stat
      // The store keeps no metric's `contains`: k6's built-ins are known, custom ones shown as numbers.
      const contains = builtins.metrics.get(name)?.contains ?? 'default'
      out.push({
        metric: name,
        stat: agg,
        a: x,
        b: y,
        change,
        shown: {
          a: show(name, mb.type, contains, agg, x),
          b: show(name, mb.type, contains, agg, y),
          change: show(`${name}_change`, mb.type, 'default', agg, change),
        },
      })
    }
  }
  return out
}
