/**
 * Thresholds as JUnit XML, the report CI systems show as tests (GitLab, Jenkins, GitHub checks):
 * one testcase per threshold, classname the metric, a <failure> with the value or the reason.
 * `kiln run --out junit=FILE`, `handleSummary` (k6/x/kiln) and `kiln compare --format junit`.
 */
import { thresholdRows, type SummaryLike } from './report-data.ts'

const xml = (s: string): string =>
  s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')

/** The thresholds of k6 summary data as a JUnit document; `name` names the suite (the script). */
export function junitXml(data: SummaryLike, opts: { name?: string } = {}): string {
  const rows = thresholdRows(data)
  const failures = rows.filter((r) => !r.ok).length
  const secs = ((data.state?.testRunDurationMs ?? 0) / 1000).toFixed(3)
  const name = xml(opts.name ?? 'kiln thresholds')
  const cases = rows.map((r) => {
    const head = `    <testcase classname="${xml(r.metric)}" name="${xml(`${r.metric}: ${r.source}`)}"`
    if (r.ok) return `${head}/>`
    const msg = r.reason ?? `${r.source} crossed: ${r.shown}`
    return `${head}>\n      <failure message="${xml(msg)}" type="threshold">${xml(msg)}</failure>\n    </testcase>`
  })
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${name}" tests="${rows.length}" failures="${failures}" time="${secs}">`,
    `  <testsuite name="${name}" tests="${rows.length}" failures="${failures}" errors="0" skipped="0" time="${secs}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n')
}
