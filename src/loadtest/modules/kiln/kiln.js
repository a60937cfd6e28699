// Runs inside each VU's QuickJS runtime: `k6/x/kiln`, Kiln's reports for handleSummary —
// `junit(data)` (JUnit XML of the thresholds) and `markdown(data)` (a pull-request comment).
// The writers run on the host (results/junit.ts, results/markdown.ts), the same ones as
// `kiln run --out junit=FILE` and `--out markdown=FILE`.
;(function () {
  const H = globalThis.__kh
  const report = (kind) => (data, opts) => H.report(kind, JSON.stringify(data), JSON.stringify(opts || {}))
  const mod = { junit: report('junit'), markdown: report('markdown') }
  // Replaces the loading getter vu.ts put there (this file is evaluated on first use).
  Object.defineProperty(globalThis.__k6mods, 'k6/x/kiln', {
    value: { default: mod, ...mod },
    enumerable: true,
    writable: true,
    configurable: true,
  })
})()
