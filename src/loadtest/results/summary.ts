/**
 * The end-of-test results in k6's shapes: the `handleSummary(data)` object, the text summary
 * (k6 v1+ "compact"/"full" layout) and the legacy `--summary-export` JSON.
 */
import { createHash } from 'node:crypto'
import type { Metric, Registry, Sink } from './metrics.ts'
import type { Threshold } from './thresholds.ts'

export interface CheckTree {
  name: string
  path: string
  groups: Map<string, CheckTree>
  checks: Map<string, { passes: number; fails: number }>
}

export const newGroup = (name: string, path: string): CheckTree => ({ name, path, groups: new Map(), checks: new Map() })

/** Records one check sample in the group tree (group path like `::a::b`). */
export function recordCheck(root: CheckTree, groupPath: string, name: string, ok: boolean): void {
  const g = groupNode(root, groupPath)
  const c = g.checks.get(name) ?? { passes: 0, fails: 0 }
  if (ok) c.passes++
  else c.fails++
  g.checks.set(name, c)
}

export function groupNode(root: CheckTree, groupPath: string): CheckTree {
  let g = root
  for (const part of groupPath.split('::').slice(1)) {
    let child = g.groups.get(part)
    if (!child) g.groups.set(part, (child = newGroup(part, `${g.path}::${part}`)))
    g = child
  }
  return g
}

const id = (s: string): string => createHash('md5').update(s).digest('hex')

function groupJson(g: CheckTree): unknown {
  return {
    name: g.name,
    path: g.path,
    id: id(g.path),
    groups: [...g.groups.values()].map(groupJson),
    checks: [...g.checks].map(([name, c]) => ({
      name,
      path: `${g.path}::${name}`,
      id: id(`${g.path}::${name}`),
      passes: c.passes,
      fails: c.fails,
    })),
  }
}

export interface SummaryInput {
  registry: Registry
  thresholds: Threshold[]
  checks: CheckTree
  durationMs: number
  trendStats: string[]
  timeUnit: string
  setupData: unknown
}

function values(m: Metric, sink: Sink, inp: SummaryInput): Record<string, number> {
  const sec = inp.durationMs / 1000
  switch (m.type) {
    case 'counter':
      return { count: sink.stat('count', sec), rate: sink.stat('rate', sec) }
    case 'gauge':
      return { value: sink.last, min: sink.stat('min', sec), max: sink.stat('max', sec) }
    case 'rate':
      return { rate: sink.stat('rate', sec), passes: sink.nonzero, fails: sink.count - sink.nonzero }
    case 'trend':
      return Object.fromEntries(inp.trendStats.map((s) => [s, s === 'count' ? sink.count : sink.stat(s, sec)]))
  }
}

/** The object handed to `handleSummary(data)`. */
export function summaryData(inp: SummaryInput, state: { isStdOutTTY: boolean; isStdErrTTY: boolean }): Record<string, unknown> {
  const metrics: Record<string, unknown> = {}
  for (const m of inp.registry.metrics.values()) {
    const ths = inp.thresholds.filter((t) => t.metric === m.name)
    if (!m.seen && !ths.length) continue
    metrics[m.name] = { type: m.type, contains: m.contains, values: values(m, m.sink, inp), ...thresholdsOf(ths) }
    for (const sub of m.submetrics) {
      const sths = inp.thresholds.filter((t) => t.metric === sub.name)
      if (!sub.sink.count && !sths.length) continue
      metrics[sub.name] = { type: m.type, contains: m.contains, values: values(m, sub.sink, inp), ...thresholdsOf(sths) }
    }
  }
  // Metrics judged after the run (the target's profile, a baseline) have no sink: their values as judged.
  for (const t of inp.thresholds) {
    const e = t.external
    if (!e || metrics[e.name]) continue
    metrics[e.name] = {
      type: e.type,
      contains: 'default',
      values: e.values ?? {},
      ...thresholdsOf(inp.thresholds.filter((x) => x.external === e)),
    }
  }
  return {
    root_group: groupJson(inp.checks),
    options: { summaryTrendStats: inp.trendStats, summaryTimeUnit: inp.timeUnit, noColor: true },
    state: { ...state, testRunDurationMs: inp.durationMs },
    metrics,
    setup_data: inp.setupData,
  }
}

// `reason` (Kiln's): why a threshold could not be judged, e.g. no profile in the run's window.
const thresholdsOf = (ths: Threshold[]): object =>
  ths.length ? { thresholds: Object.fromEntries(ths.map((t) => [t.source, { ok: t.ok, ...(t.reason ? { reason: t.reason } : {}) }])) } : {}

/** `--summary-export`: k6's legacy flat form; thresholds map to `true` when they FAILED. */
export function exportSummary(data: Record<string, unknown>): Record<string, unknown> {
  const flatGroup = (g: { name: string; path: string; id: string; groups: unknown[]; checks: { name: string }[] }): unknown => ({
    name: g.name,
    path: g.path,
    id: g.id,
    groups: Object.fromEntries(g.groups.map((x) => [(x as { name: string }).name, flatGroup(x as typeof g)])),
    checks: Object.fromEntries(g.checks.map((c) => [c.name, c])),
  })
  const metrics: Record<string, unknown> = {}
  for (const [name, v] of Object.entries(
    data.metrics as Record<string, { type: string; values: Record<string, number>; thresholds?: Record<string, { ok: boolean }> }>,
  )) {
    const out: Record<string, unknown> = { ...v.values }
    if (v.type === 'rate') {
      out.value = out.rate
      delete out.rate
    }
    if (v.thresholds) out.thresholds = Object.fromEntries(Object.entries(v.thresholds).map(([k, t]) => [k, !t.ok]))
    metrics[name] = out
  }
  return { root_group: flatGroup(data.root_group as Parameters<typeof flatGroup>[0]), metrics }
}

// ---- text ------------------------------------------------------------------------------------

/** Cuts (not rounds) to `digits` decimals and drops trailing zeros, as k6's summary does. */
const trunc = (v: number, digits: number): string => {
  const f = 10 ** digits
  return String(Math.trunc(v * f) / f)
}

/** k6's duration display: 0s, 512µs, 140.36ms, 1.52s, 1m3s, 1h2m3s; or a fixed unit. */
export function humanDuration(ms: number, unit = ''): string {
  if (unit === 's') return `${(ms / 1000).toFixed(2)}s`
  if (unit === 'ms') return `${ms.toFixed(2)}ms`
  if (unit === 'us') return `${(ms * 1000).toFixed(2)}µs`
  if (ms === 0) return '0s'
  if (ms < 0.001) return `${Math.trunc(ms * 1e6)}ns`
  if (ms < 1) return `${trunc(ms * 1000, 2)}µs`
  if (ms < 1000) return `${trunc(ms, 2)}ms`
  const mins = Math.trunc(ms / 60000)
  let out = `${trunc((ms % 60000) / 1000, mins ? 0 : 2)}s`
  if (!mins) return out
  out = `${mins % 60}m${out}`
  return mins >= 60 ? `${Math.trunc(mins / 60)}h${out}` : out
}

/** SI bytes as k6 prints them: 519 kB, 1.2 MB, 8 B. */
export function humanBytes(b: number): string {
  if (b < 10) return `${Math.round(b)} B`
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB']
  const e = Math.min(units.length - 1, Math.floor(Math.log(b) / Math.log(1000)))
  const v = Math.floor((b / 1000 ** e) * 10 + 0.5) / 10
  return `${v.toFixed(v < 10 && e > 0 ? 1 : 0)} ${units[e]}`
}

const plain = (v: number): string => String(Number(v.toFixed(6)))
const pct = (r: number): string => `${(Math.trunc(r * 10000) / 100).toFixed(2)}%`

interface Line {
  name: string
  cols: string[]
  trend: boolean
}

function fmtValue(contains: string, v: number, unit: string): string {
  return contains === 'time' ? humanDuration(v, unit) : contains === 'data' ? humanBytes(v) : plain(v)
}

function metricCols(type: string, contains: string, vals: Record<string, number>, unit: string): { cols: string[]; trend: boolean } {
  switch (type) {
    case 'counter': {
      const rate = fmtValue(contains, vals.rate ?? 0, unit)
      return {
        cols: [fmtValue(contains, vals.count ?? 0, unit), contains === 'data' ? `${rate}/s` : `${plain(vals.rate ?? 0)}/s`],
        trend: false,
      }
    }
    case 'gauge':
      return {
        cols: [
          fmtValue(contains, vals.value ?? 0, unit),
          `min=${fmtValue(contains, vals.min ?? 0, unit)}`,
          `max=${fmtValue(contains, vals.max ?? 0, unit)}`,
        ],
        trend: false,
      }
    case 'rate': {
      const total = (vals.passes ?? 0) + (vals.fails ?? 0)
      return { cols: [pct(vals.rate ?? 0), `${vals.passes ?? 0} out of ${total}`], trend: false }
    }
    default:
      return { cols: Object.entries(vals).map(([k, v]) => `${k}=${k === 'count' ? plain(v) : fmtValue(contains, v, unit)}`), trend: true }
  }
}

const HTTP_COMPACT = new Set(['http_req_duration', 'http_req_failed', 'http_reqs'])
const sectionOf = (name: string): string =>
  name.startsWith('browser_web_vital_')
    ? 'WEB_VITALS'
    : name.startsWith('browser_')
      ? 'BROWSER'
      : name.startsWith('http_req')
        ? 'HTTP'
        : name.startsWith('ws_')
          ? 'WEBSOCKET'
          : name.startsWith('grpc_')
            ? 'GRPC'
            : ['iteration_duration', 'iterations', 'vus', 'vus_max', 'dropped_iterations'].includes(name)
              ? 'EXECUTION'
              : ['data_received', 'data_sent'].includes(name)
                ? 'NETWORK'
                : name === 'group_duration'
                  ? 'EXECUTION'
                  : 'CUSTOM'

function render(lines: Line[], width: number): string[] {
  const colW: number[] = []
  const trendW: number[] = []
  for (const l of lines) l.cols.forEach((c, i) => ((l.trend ? trendW : colW)[i] = Math.max((l.trend ? trendW : colW)[i] ?? 0, c.length)))
  return lines.map((l) => {
    const w = l.trend ? trendW : colW
    const cols = l.cols.map((c, i) => (i < l.cols.length - 1 ? c.padEnd(w[i]!) : c)).join(' ')
    return `    ${l.name}${'.'.repeat(Math.max(3, width - l.name.length))}: ${cols}`
  })
}

function checkLines(g: CheckTree, indent: string): string[] {
  const out: string[] = []
  for (const [name, c] of g.checks) {
    const total = c.passes + c.fails
    if (!c.fails) out.push(`${indent}✓ ${name}`)
    else out.push(`${indent}✗ ${name}`, `${indent}  ↳  ${Math.trunc((c.passes / total) * 100)}% — ✓ ${c.passes} / ✗ ${c.fails}`)
  }
  return out
}

/** k6's end-of-test text: thresholds, then totals by section; `full` adds every HTTP timing and groups. */
export function textSummary(data: Record<string, unknown>, inp: SummaryInput, mode: 'compact' | 'full'): string {
  const metrics = data.metrics as Record<string, { type: string; contains: string; values: Record<string, number> }>
  const unit = inp.timeUnit
  const out: string[] = []
  if (inp.thresholds.length) {
    out.push('  █ THRESHOLDS ', '')
    const byMetric = new Map<string, Threshold[]>()
    for (const t of inp.thresholds) byMetric.set(t.metric, [...(byMetric.get(t.metric) ?? []), t])
    for (const [name, ths] of [...byMetric].sort(([a], [b]) => a.localeCompare(b))) {
      out.push(`    ${name}`)
      for (const t of ths) {
        const m = metrics[name]
        const shown = t.external
          ? plain(t.actual)
          : m?.type === 'rate'
            ? pct(t.actual)
            : t.agg === 'rate'
              ? `${plain(t.actual)}/s`
              : fmtValue(m?.contains ?? '', t.actual, unit)
        out.push(t.reason ? `    ✗ '${t.source}' ${t.reason}` : `    ${t.ok ? '✓' : '✗'} '${t.source}' ${t.agg}=${shown}`)
      }
      out.push('')
    }
    out.push('')
  }
  out.push('  █ TOTAL RESULTS ', '')
  const checksM = metrics.checks
  if (checksM) {
    const p = checksM.values.passes ?? 0
    const f = checksM.values.fails ?? 0
    const total = p + f
    out.push(
      ...render(
        [
          { name: 'checks_total', cols: [String(total), `${plain(total / (inp.durationMs / 1000 || 1))}/s`], trend: false },
          { name: 'checks_succeeded', cols: [pct(total ? p / total : 0), `${p} out of ${total}`], trend: false },
          { name: 'checks_failed', cols: [pct(total ? f / total : 0), `${f} out of ${total}`], trend: false },
        ],
        35,
      ),
      '',
      ...checkLines(inp.checks, '    '),
      '',
    )
  }
  const external = new Set(inp.thresholds.flatMap((t) => (t.external ? [t.external.name] : [])))
  const names = Object.keys(metrics).filter(
    (n) => !external.has(n) && !n.includes('{') && n !== 'checks' && (mode === 'full' || sectionOf(n) !== 'HTTP' || HTTP_COMPACT.has(n)),
  )
  const sections = ['CUSTOM', 'HTTP', 'EXECUTION', 'NETWORK', 'BROWSER', 'WEB_VITALS', 'GRPC', 'WEBSOCKET', 'PROFILE AND BASELINE']
  const lines = new Map<string, Line[]>(sections.map((s) => [s, []]))
  // Values judged after the run: each as name=value pairs (a share, CPU seconds, a change).
  for (const n of [...external].sort()) {
    const v = Object.entries(metrics[n]!.values)
    lines
      .get('PROFILE AND BASELINE')!
      .push({ name: n, cols: v.length ? v.map(([k, x]) => `${k}=${plain(x)}`) : ['(not judged)'], trend: true })
  }
  for (const n of names.sort()) {
    const m = metrics[n]!
    lines.get(sectionOf(n))!.push({ name: n, ...metricCols(m.type, m.contains, m.values, unit) })
    for (const sub of Object.keys(metrics)
      .filter((k) => k.startsWith(`${n}{`))
      .sort()) {
      const sm = metrics[sub]!
      lines.get(sectionOf(n))!.push({ name: `  { ${sub.slice(n.length + 1, -1)} }`, ...metricCols(sm.type, sm.contains, sm.values, unit) })
    }
  }
  const all = [...lines.values()].flat()
  const width = Math.max(35, ...all.map((l) => l.name.length + 3))
  const rendered = render(all, width)
  let i = 0
  for (const s of sections) {
    const ls = lines.get(s)!
    if (!ls.length) continue
    out.push(`    ${s}`, ...rendered.slice(i, i + ls.length), '')
    i += ls.length
  }
  if (mode === 'full') {
    const walk = (g: CheckTree): void => {
      for (const child of g.groups.values()) {
        out.push('', `  █ GROUP: ${child.name}`, '', ...checkLines(child, '    '))
        walk(child)
      }
    }
    walk(inp.checks)
  } else {
    const walk = (g: CheckTree, depth: number): void => {
      for (const child of g.groups.values()) {
        out.push(`    ${'  '.repeat(depth)}█ ${child.name}`, '', ...checkLines(child, `    ${'  '.repeat(depth + 1)}`), '')
        walk(child, depth + 1)
      }
    }
    walk(inp.checks, 0)
  }
  return `\n${out.join('\n').trimEnd()}\n\n\n`
}
