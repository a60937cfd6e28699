/**
 * A run's outcome as Markdown for a pull-request comment: a verdict line, the thresholds with the
 * values they were judged on (the failed ones first), and the request metrics in a fold.
 * `kiln run --out markdown=FILE`, `handleSummary` (k6/x/kiln) and `kiln compare --format markdown`.
 */
import { show, thresholdRows, type SummaryLike } from './report-data.ts'

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')
const code = (s: string): string => `\`${s.replace(/`/g, "'")}\``

/** The verdict and thresholds table; `title` names the run (e.g. the script). */
export function markdownSummary(data: SummaryLike, opts: { title?: string } = {}): string {
  const rows = thresholdRows(data)
  const failed = rows.filter((r) => !r.ok)
  const title = opts.title ? ` — ${opts.title}` : ''
  const out: string[] = []
  if (!rows.length) out.push(`### Load test${title}: no thresholds`)
  else if (failed.length) out.push(`### ❌ Load test${title}: ${failed.length} of ${rows.length} thresholds crossed`)
  else out.push(`### ✅ Load test${title}: all ${rows.length} thresholds passed`)
  if (rows.length) {
    out.push('', '| | Metric | Threshold | Value |', '|---|---|---|---|')
    for (const r of [...failed, ...rows.filter((x) => x.ok)])
      out.push(`| ${r.ok ? '✅' : '❌'} | ${code(r.metric)} | ${code(r.source)} | ${cell(r.reason ?? r.shown)} |`)
  }
  const metrics = requestMetrics(data)
  if (metrics.length)
    out.push('', '<details><summary>Run metrics</summary>', '', '| Metric | Value |', '|---|---|', ...metrics, '', '</details>')
  return out.join('\n') + '\n'
}

function requestMetrics(data: SummaryLike): string[] {
  const lines: string[] = []
  const m = data.metrics ?? {}
  const line = (name: string, text: string) => lines.push(`| ${code(name)} | ${cell(text)} |`)
  for (const name of ['http_reqs', 'iterations']) {
    const v = m[name]?.values
    if (v) line(name, `${v.count ?? 0} (${show(name, 'counter', 'default', 'rate', v.rate ?? 0)})`)
  }
  for (const name of ['http_req_duration', 'iteration_duration']) {
    const v = m[name]?.values
    if (v)
      line(
        name,
        Object.entries(v)
          .map(([k, x]) => `${k} ${show(name, 'trend', 'time', k, x)}`)
          .join(', '),
      )
  }
  for (const name of ['http_req_failed', 'checks']) {
    const v = m[name]?.values
    if (v) line(name, show(name, 'rate', 'default', 'rate', v.rate ?? 0))
  }
  return lines
}
