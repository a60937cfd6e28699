/** `kiln compare RUN_A RUN_B`: two stored load-test runs — the functions that got hotter, the metrics that moved, and thresholds on both. */
import { writeFileSync } from 'node:fs'
import { parseCommand, str, list, type CommandSpec } from './args.ts'
import { defaultServer } from '../client/client.ts'
import { KilnError } from '../model/errors.ts'
import { EXIT } from '../loadtest/errors.ts'
import { Registry } from '../loadtest/results/metrics.ts'
import { buildThresholds, evaluate, type Threshold } from '../loadtest/results/thresholds.ts'
import { judgeExternal, profileMetrics } from '../loadtest/results/profile-thresholds.ts'
import { ProfileSource } from '../loadtest/results/profile-source.ts'
import { compareRuns, type Comparison } from '../loadtest/results/profile-compare.ts'
import { thresholdRows, type SummaryLike } from '../loadtest/results/report-data.ts'
import { junitXml } from '../loadtest/results/junit.ts'
import { markdownSummary } from '../loadtest/results/markdown.ts'

export const spec: CommandSpec = {
  name: 'compare',
  usage: 'kiln compare [OPTIONS] RUN_A RUN_B',
  summary: 'Compare two stored load-test runs: the functions whose profile share changed most, the metric changes, thresholds',
  description:
    "RUN_A is the baseline (a run id, or latest: the previous run of RUN_B's script), RUN_B the run judged; both stored by\n" +
    "kiln run -o kiln=URL --profile SELECTOR. Functions are ranked by the change of their share of the target's profile\n" +
    "(stacks through the function over the profile total, as the top table's total column), in points.\n" +
    "--threshold takes k6's threshold grammar on Kiln's metrics, judged with A as the baseline and B as the run:\n" +
    '  \'profile_share_change{function:"handleSearch"}=value<0.05\'   at most 5 points hotter in B\n' +
    "  'http_req_duration_change=p(95)<0.1'                          p(95) at most 10% slower\n" +
    '  \'profile_share{function:"json.*",match:"regex"}=value<0.2\'    B\'s share through any function the regex matches\n' +
    'Exit codes: 0, 99 when a threshold is crossed (as kiln run), 2 on a usage mistake, 1 on other errors.',
  options: {
    format: { type: 'string', short: 'f', arg: 'text|json|junit|markdown', help: 'output format', default: 'text' },
    top: { type: 'string', short: 'n', arg: 'N', help: 'functions listed', default: '10' },
    threshold: {
      type: 'string',
      short: 't',
      multiple: true,
      arg: "'METRIC=EXPR'",
      help: 'a threshold that must hold, repeatable (see above)',
    },
    type: { type: 'string', arg: 'TYPE', help: 'profile type id (default: a CPU type, as the run page)' },
    profile: { type: 'string', arg: 'SELECTOR', help: "the target's profiles of both runs (default: each run's --profile)" },
    output: { type: 'string', short: 'o', arg: 'FILE', help: 'write there instead of standard output' },
    server: { type: 'string', short: 's', arg: 'URL', help: 'server address (default: $KILN_SERVER or http://localhost:4040)' },
    tenant: { type: 'string', arg: 'ID', help: 'X-Scope-OrgID for a multi-tenant server' },
  },
  examples: [
    'kiln compare 3f2a… 9c41…',
    'kiln compare latest $RUN_ID --format markdown -t \'profile_share_change{function:"handleSearch"}=value<0.05\' > comment.md',
  ],
}

/** `METRIC=EXPR` as a k6 thresholds object; the `=` is the first after the tags' closing brace. */
export function parseThresholdFlags(flags: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const f of flags) {
    const close = f.indexOf('}')
    const eq = f.indexOf('=', close < 0 ? 0 : close)
    if (eq <= 0 || eq === f.length - 1)
      throw new KilnError(
        'KILN_USAGE',
        `--threshold '${f}' must be METRIC=EXPR, e.g. 'profile_share_change{function:"handleSearch"}=value<0.05'`,
      )
    const name = f.slice(0, eq).trim()
    ;(out[name] ??= []).push(f.slice(eq + 1).trim())
  }
  return out
}

export async function run(argv: string[]): Promise<number> {
  const p = parseCommand(spec, argv)
  if (!p) return 0
  if (p.positionals.length !== 2)
    throw new KilnError(
      'KILN_USAGE',
      "kiln compare takes two run ids: 'kiln compare RUN_A RUN_B' (RUN_A may be latest); list runs at SERVER/api/v1/runs",
    )
  const format = str(p, 'format')!
  if (!['text', 'json', 'junit', 'markdown'].includes(format))
    throw new KilnError('KILN_USAGE', `unknown --format ${format}: use text, json, junit or markdown`)
  const top = Number(str(p, 'top'))
  if (!Number.isInteger(top) || top < 0) throw new KilnError('KILN_USAGE', `--top must be a whole number, got '${str(p, 'top')}'`)
  const registry = new Registry()
  const ths = buildThresholds(
    parseThresholdFlags(list(p, 'threshold')),
    registry,
    profileMetrics((n) => registry.metrics.get(n)?.type),
  )
  const local = ths.find((t) => !t.external)
  if (local)
    throw new KilnError(
      'KILN_USAGE',
      `--threshold on '${local.metric}': kiln compare judges profile_share, profile_share_change, profile_cpu_seconds and METRIC_change (e.g. http_req_duration_change)`,
    )
  const client = { server: str(p, 'server') ?? defaultServer(), ...(str(p, 'tenant') ? { tenant: str(p, 'tenant')! } : {}) }
  const source = new ProfileSource(client)
  const [idA, idB] = p.positionals as [string, string]
  const b = await source.run(idB)
  const a = await source.baseline(idA, b.run)
  const cmp = await compareRuns(source, a, b, {
    top,
    ...(str(p, 'type') ? { type: str(p, 'type')! } : {}),
    ...(str(p, 'profile') ? { selector: str(p, 'profile')! } : {}),
  })
  await judgeExternal(ths, {
    client,
    current: async () => b.run.id,
    baseline: a.run.id,
    profileWaitMs: 0,
    warn: (s) => process.stderr.write(s),
  })
  evaluate(ths, 0, true)
  const text =
    format === 'json'
      ? JSON.stringify(asJson(cmp, ths), null, 2) + '\n'
      : format === 'junit'
        ? junitXml(thresholdData(ths), { name: `kiln compare ${a.run.id} ${b.run.id}` })
        : format === 'markdown'
          ? markdown(cmp, ths)
          : plain(cmp, ths)
  const file = str(p, 'output')
  if (file) writeFileSync(file, text)
  else process.stdout.write(text)
  return ths.some((t) => !t.ok) ? EXIT.thresholds : 0
}

/** The thresholds as k6 summary data, so the JUnit and Markdown writers read them as kiln run's. */
function thresholdData(ths: Threshold[]): SummaryLike {
  const metrics: SummaryLike['metrics'] = {}
  for (const t of ths) {
    const e = t.external!
    const m = (metrics[e.name] ??= { type: e.type, values: e.values ?? {}, thresholds: {} })
    m.thresholds![t.source] = { ok: t.ok, ...(t.reason ? { reason: t.reason } : {}) }
  }
  return { metrics }
}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`
const pts = (v: number) => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(2)}`
const runLine = (c: Comparison['a']) =>
  `${c.run.id}  ${c.run.script}  ${new Date(c.run.started).toISOString().slice(0, 19).replace('T', ' ')} UTC`

function table(head: string[], rows: string[][], right: number[]): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (r: string[]) =>
    r.map((x, i) => (right.includes(i) ? x.padStart(w[i]!) : i === r.length - 1 ? x : x.padEnd(w[i]!))).join('  ')
  return [line(head), ...rows.map(line)]
}

function plain(c: Comparison, ths: Threshold[]): string {
  const out = [`A (baseline)  ${runLine(c.a)}`, `B             ${runLine(c.b)}`, '']
  if (c.note) out.push(`functions: ${c.note}`, '')
  else {
    out.push(`FUNCTIONS whose share of ${c.type} changed most (points = B − A)`)
    out.push(
      ...table(
        ['A', 'B', 'POINTS', 'FUNCTION'],
        c.functions.map((f) => [pct(f.a), pct(f.b), pts(f.delta), f.name]),
        [0, 1, 2],
      ),
      '',
    )
  }
  out.push('METRICS')
  out.push(
    ...table(
      ['METRIC', 'STAT', 'A', 'B', 'CHANGE'],
      c.metrics.map((m) => [m.metric, m.stat, m.shown.a, m.shown.b, m.shown.change]),
      [2, 3, 4],
    ),
    '',
  )
  if (ths.length) {
    out.push('THRESHOLDS')
    for (const r of thresholdRows(thresholdData(ths))) out.push(`${r.ok ? '✓' : '✗'} ${r.metric} '${r.source}' ${r.reason ?? r.shown}`)
    out.push('')
  }
  return out.join('\n')
}

function markdown(c: Comparison, ths: Threshold[]): string {
  const code = (s: string) => `\`${s.replace(/`/g, "'")}\``
  const out = [
    ths.length
      ? markdownSummary(thresholdData(ths), { title: `${c.b.run.script} vs ${c.a.run.id.slice(0, 8)}` })
      : `### ${c.b.run.script}: run ${c.b.run.id.slice(0, 8)} vs ${c.a.run.id.slice(0, 8)}\n`,
  ]
  if (c.note) out.push(`_${c.note}_\n`)
  else {
    out.push(
      `**Functions whose share of the profile changed most** (${code(c.type)})\n`,
      '| Function | A | B | Points |',
      '|---|---:|---:|---:|',
    )
    for (const f of c.functions) out.push(`| ${code(f.name)} | ${pct(f.a)} | ${pct(f.b)} | ${pts(f.delta)} |`)
    out.push('')
  }
  out.push('**Metrics**\n', '| Metric | Stat | A | B | Change |', '|---|---|---:|---:|---:|')
  for (const m of c.metrics) out.push(`| ${code(m.metric)} | ${m.stat} | ${m.shown.a} | ${m.shown.b} | ${m.shown.change} |`)
  return out.join('\n') + '\n'
}

function asJson(c: Comparison, ths: Threshold[]): unknown {
  const run = (r: Comparison['a']) => ({
    id: r.run.id,
    script: r.run.script,
    started: r.run.started,
    ended: r.run.ended,
    profile: r.run.profile,
  })
  return {
    a: run(c.a),
    b: run(c.b),
    profileType: c.type,
    ...(c.note ? { note: c.note } : {}),
    functions: c.functions,
    metrics: c.metrics.map((m) => ({
      metric: m.metric,
      stat: m.stat,
      a: m.a,
      b: m.b,
      change: Number.isFinite(m.change) ? m.change : null,
    })),
    thresholds: thresholdRows(thresholdData(ths)).map((r) => ({
      metric: r.metric,
      source: r.source,
      ok: r.ok,
      value: Number.isFinite(r.value) ? r.value : null,
      ...(r.reason ? { reason: r.reason } : {}),
    })),
  }
}
