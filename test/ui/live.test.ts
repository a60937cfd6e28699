/**
 * The Live view in Chromium against a real `kiln server`: request rows pushed through
 * POST /api/v1/trace/events, PxL scripts run through POST /api/v1/pxl/run, shown as tables,
 * time-series charts and a service graph; errors at their line and column; completion; the URL
 * holding script and arguments; auto-refresh; a dashboard directory (`--dashboards DIR`).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { root, buildUi, startKiln, launchChromium } from './kiln.ts'
import { searchToLive } from '../../ui/src/lib/livestate.ts'
import { errorLocation } from '../../ui/src/lib/pxl-args.ts'
import { formatCell, type PxlResult } from '../../ui/src/lib/pxl-result.ts'

const artifacts = join(root, 'test-artifacts', 'ui')
const skip = existsSync('/usr/bin/chromium') ? false : 'no /usr/bin/chromium: apt-get install -y chromium'
if (skip) console.log(`# skipping the Live view end-to-end test: ${skip}`)

let kiln: Awaited<ReturnType<typeof startKiln>>
let browser: Browser
let page: Page
let dashDir = ''

// Who calls whom (the caller names itself in User-Agent, as Go and Java HTTP clients can be set to),
// how often in five minutes, how many answers fail and how slowly the callee answers.
const calls = [
  { caller: 'loadbalancer', ip: '10.0.0.1', service: 'frontend', path: '/product/42', n: 60, errors: 3, ms: 45 },
  { caller: 'frontend', ip: '10.0.1.10', service: 'cart', path: '/cart', n: 40, errors: 2, ms: 18 },
  { caller: 'frontend', ip: '10.0.1.10', service: 'catalog', path: '/products?page=2', n: 30, errors: 0, ms: 6 },
  { caller: 'cart', ip: '10.0.2.20', service: 'payments', path: '/pay', n: 12, errors: 3, ms: 140 },
]

/** http_events rows, server side (trace_role 2), spread over the last five minutes. */
function events(now: number, extra: { service: string; n: number } | null = null) {
  const rows: Record<string, unknown>[] = []
  for (const c of extra ? [{ ...calls[0]!, ...extra, errors: 0 }] : calls) {
    for (let k = 0; k < c.n; k++) {
      const t = now - 300_000 + Math.floor(((k + 0.5) * 290_000) / c.n)
      rows.push({
        time_: (BigInt(t) * 1_000_000n + BigInt(k)).toString(),
        remote_addr: c.ip,
        remote_port: 40000 + k,
        trace_role: 2,
        req_method: c.service === 'payments' ? 'POST' : 'GET',
        req_path: c.path,
        req_headers: JSON.stringify({ 'User-Agent': c.caller }),
        resp_status: k < c.errors ? 503 : 200,
        // Latency around the service's typical time, every tenth request three times as slow.
        latency: Math.round(c.ms * 1e6 * (k % 10 === 9 ? 3 : 0.8 + (k % 5) / 10)),
        service: c.service,
        namespace: 'production',
        pod: `${c.service}-7d9f8`,
        node: 'node-1',
        pid: 1000 + c.service.length,
      })
    }
  }
  return { http_events: rows }
}

async function push(body: unknown): Promise<void> {
  const r = await fetch(`${kiln.url}/api/v1/trace/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  assert.equal(r.status, 200, await r.text())
}

async function runApi(script: string, args: Record<string, string> = {}, func?: string): Promise<PxlResult> {
  const r = await fetch(`${kiln.url}/api/v1/pxl/run`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ script, args, ...(func ? { func } : {}) }),
  })
  const body = await r.json()
  assert.equal(r.status, 200, JSON.stringify(body))
  return body as PxlResult
}

const timeseries = `import px

# Per service, in 30 s windows: requests, error share and mean latency.
df = px.DataFrame('http_events', start_time='-10m')
df = df[df.trace_role == 2]
df.time_ = px.bin(df.time_, px.seconds(30))
df.failure = df.resp_status >= 400
df = df.groupby(['time_', 'service']).agg(
    requests=('latency', px.count),
    error_rate=('failure', px.mean),
    latency_ms=('latency_ms', px.mean),
)
px.display(df, 'http_timeseries')
`

const graph = `import px

# Who calls whom: the caller from its User-Agent, the callee is the traced server.
df = px.DataFrame('http_events', start_time='-10m')
df = df[df.trace_role == 2]
df.requestor = px.pluck(df.req_headers, 'User-Agent')
df.responder = px.replace('^production/', df.service, '')  # ns/name → name, as callers name themselves
df.failure = df.resp_status >= 400
df = df.groupby(['requestor', 'responder']).agg(
    requests=('latency', px.count),
    error_rate=('failure', px.mean),
    latency_quantiles=('latency', px.quantiles),
)
df.latency_p99 = px.pluck_float64(df.latency_quantiles, 'p99')
px.display(df.drop(['latency_quantiles']), 'service_graph')
`

const slowest = `import px
df = px.DataFrame('http_events', start_time='-10m')
df = df.groupby(['service', 'req_path']).agg(requests=('latency', px.count), max_latency=('latency', px.max))
df = df.sort_values('max_latency', ascending=False)
px.display(df.head(5), 'slowest_endpoints')
`

before(async () => {
  if (skip) return
  buildUi()
  mkdirSync(artifacts, { recursive: true })
  dashDir = mkdtempSync(join(tmpdir(), 'kiln-dashboards-'))
  // The seed's ConfigMap as it is, and a dashboard of our own in plain YAML.
  writeFileSync(
    join(dashDir, 'pixie-dashboard.yaml'),
    `apiVersion: v1
kind: ConfigMap
metadata:
  name: pixie-dashboards
data:
  http-overview.json: |
    {
      "title": "HTTP Overview",
      "panels": [
        {
          "title": "Request Rate",
          "pxl_script": "import px; df = px.DataFrame('http_events'); px.display(df.groupby('time_').agg(rps=('time_', px.count)))"
        }
      ]
    }
`,
  )
  const yamlScript = (s: string) =>
    s
      .trimEnd()
      .split('\n')
      .map((l) => `      ${l}`)
      .join('\n')
  writeFileSync(
    join(dashDir, 'shop.yaml'),
    `title: Shop services
panels:
  - title: Service graph
    pxl_script: |
${yamlScript(graph)}
  - title: Requests per 30 s
    pxl_script: |
${yamlScript(timeseries.replace(/error_rate=.*\n|latency_ms=.*\n/g, ''))}
  - title: Slowest endpoints
    pxl_script: |
${yamlScript(slowest)}
  - title: Broken panel
    pxl_script: |
      import px
      px.display(px.DataFrame('http_event'))
`,
  )
  // Files that are not dashboards are listed with what is wrong; other files are ignored.
  writeFileSync(join(dashDir, 'zz-broken.json'), '{"title": "Broken", "panels": [{"title": "no script"}]}')
  writeFileSync(join(dashDir, 'zz-bad-yaml.yml'), 'panels: [unclosed')
  writeFileSync(join(dashDir, 'notes.txt'), 'not a dashboard')
  kiln = await startKiln(['--dashboards', dashDir])
  await push(events(Date.now()))
  browser = await launchChromium()
  page = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light', deviceScaleFactor: 1 })).newPage()
})

after(async () => {
  await browser?.close()
  await kiln?.dispose()
  if (dashDir) rmSync(dashDir, { recursive: true, force: true })
})

const shot = (name: string) => page.screenshot({ path: join(artifacts, `${name}.png`) })
const live = (params: Record<string, string>) => `${kiln.url}/?${new URLSearchParams({ page: 'live', ...params })}`
const tableRows = (display: string) => page.locator(`[data-display="${display}"] [data-testid=pxl-table] tbody tr`)

test('the Live tab opens the view; a script with time_ becomes time-series charts and a sortable table', { skip }, async () => {
  await page.goto(`${kiln.url}/?page=runs`)
  await page.click('[data-testid=page-live]')
  await page.locator('[data-testid=pxl-editor]').waitFor()
  // With no script named, the library's px/http_data runs: the most recent requests.
  await tableRows('HTTP requests').first().waitFor()
  assert.equal(await page.locator('[data-testid=pxl-script]').inputValue(), 'px/http_data')
  // The seed's first example: p99, error rate and rps per service and endpoint.
  await page.selectOption('[data-testid=pxl-script]', 'examples/http_summary')
  await tableRows('http_summary').first().waitFor()
  assert.equal(await tableRows('http_summary').count(), calls.length)
  await shot('live')
  await page.goto(live({ pxl: timeseries }))
  const want = (await runApi(timeseries)).tables[0]!
  await tableRows('http_timeseries').first().waitFor()
  assert.equal(await tableRows('http_timeseries').count(), want.rows.length)
  // One chart per value column, one line per service.
  const charts = page.locator('[data-display=http_timeseries] [data-testid=pxl-chart] figure')
  assert.deepEqual(await charts.evaluateAll((fs) => fs.map((f) => f.getAttribute('data-column'))), ['requests', 'error_rate', 'latency_ms'])
  assert.deepEqual((await charts.first().locator('.legend span').allInnerTexts()).sort(), [
    'production/cart',
    'production/catalog',
    'production/frontend',
    'production/payments',
  ])
  assert.ok((await page.locator('[data-testid=pxl-status]').innerText()).includes('1 table'))
  // Sort by requests, largest first, then smallest first.
  const reqCol = want.columns.findIndex((c) => c.name === 'requests')
  const counts = want.rows.map((r) => Number(r[reqCol]))
  await page.click('[data-display=http_timeseries] th[data-col=requests]')
  const first = () => tableRows('http_timeseries').first().locator('td').nth(reqCol).innerText()
  assert.equal(await first(), String(Math.max(...counts)))
  await page.click('[data-display=http_timeseries] th[data-col=requests]')
  assert.equal(await first(), String(Math.min(...counts)))
  await shot('live-chart')
})

test('source and destination columns become a service graph with request counts, error rates and latency on its edges', {
  skip,
}, async () => {
  await page.goto(live({ pxl: graph }))
  const svg = page.locator('[data-display=service_graph] [data-testid=pxl-graph-svg]')
  await svg.waitFor()
  assert.deepEqual((await svg.locator('[data-node]').evaluateAll((ns) => ns.map((n) => n.getAttribute('data-node')))).sort(), [
    'cart',
    'catalog',
    'frontend',
    'loadbalancer',
    'payments',
  ])
  assert.deepEqual((await svg.locator('[data-edge]').evaluateAll((es) => es.map((e) => e.getAttribute('data-edge')))).sort(), [
    'cart→payments',
    'frontend→cart',
    'frontend→catalog',
    'loadbalancer→frontend',
  ])
  // Callers left of callees.
  const x = async (n: string) =>
    Number((await svg.locator(`[data-node="${n}"]`).getAttribute('transform'))!.match(/translate\(([\d.]+)/)![1])
  assert.ok(
    (await x('loadbalancer')) < (await x('frontend')) &&
      (await x('frontend')) < (await x('cart')) &&
      (await x('cart')) < (await x('payments')),
  )
  // The edge cart → payments: 12 requests, 3 failed (25%), drawn red.
  const pay = svg.locator('[data-edge="cart→payments"]')
  assert.equal(await pay.getAttribute('stroke'), '#e15759')
  assert.match((await pay.locator('title').textContent()) ?? '', /12 req · 25% err · p99 \d/)
  await shot('live-graph')
  await page.click('[data-testid=theme]')
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark')
  await shot('live-graph-dark')
  await page.click('[data-testid=theme]')
})

test('the bundled library is in the picker: px/service_stats draws its charts, px/service_edge_stats its graph', { skip }, async () => {
  await page.goto(live({ script: 'px/service_stats' }))
  // The vis.json's two calls: a time series (charted) and a summary, each titled by its first widget.
  await tableRows('Service summary').first().waitFor()
  assert.equal(await tableRows('Service summary').count(), calls.length)
  const charts = page.locator('[data-display="Service rate, errors and latency"] [data-testid=pxl-chart] figure')
  assert.deepEqual(await charts.evaluateAll((fs) => fs.map((f) => f.getAttribute('data-column'))), [
    'rps',
    'error_rate',
    'p50_ms',
    'p99_ms',
  ])
  const options = await page.locator('[data-testid=pxl-script] option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))
  for (const n of ['px/http_data', 'px/service_edge_stats', 'px/perf_flamegraph'])
    assert.ok(options.includes(n), `${n} not in the picker: ${options.join(', ')}`)
  await shot('live-library')
  await page.selectOption('[data-testid=pxl-script]', 'px/service_edge_stats')
  const svg = page.locator('[data-display="Service edges"] [data-testid=pxl-graph-svg]')
  await svg.waitFor()
  // Server-side rows: each caller is known by its address, each callee by its service.
  assert.deepEqual((await svg.locator('[data-edge]').evaluateAll((es) => es.map((e) => e.getAttribute('data-edge')))).sort(), [
    '10.0.0.1→production/frontend',
    '10.0.1.10→production/cart',
    '10.0.1.10→production/catalog',
    '10.0.2.20→production/payments',
  ])
  // The URL follows the pick (written as the view settles, so waited for rather than read at once).
  await page.waitForURL(/script=px%2Fservice_edge_stats/)
})

test('an error is shown with its line and column, and marked in the editor', { skip }, async () => {
  const bad = "import px\n\ndf = px.DataFrame('http_events', start_time='-10m')\ndf = df[df.latncy > 1000]\npx.display(df)\n"
  const r = await fetch(`${kiln.url}/api/v1/pxl/run`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ script: bad }),
  })
  assert.equal(r.status, 400)
  const body = (await r.json()) as { code: string; message: string }
  const at = errorLocation(body.message)!
  assert.equal(at.line, 4, body.message)
  await page.goto(live({ pxl: bad }))
  const err = page.locator('[data-testid=pxl-error]')
  await err.waitFor()
  assert.equal(await err.locator('[data-testid=pxl-error-at]').innerText(), `line 4, column ${at.column}`)
  assert.ok((await err.innerText()).includes("'latncy'"))
  assert.ok((await err.innerText()).includes('latency'), 'the nearest valid name')
  assert.equal(await page.locator('.pxl-gutter .err').innerText(), '4')
  assert.equal(
    await page.locator('.pxl-highlight .squiggle').first().innerText(),
    bad
      .split('\n')[3]!
      .slice(at.column - 1)
      .match(/^\w+/)?.[0] ?? '',
  )
  await shot('live-error')
  // A script name the server does not have.
  await page.goto(live({ script: 'px/no_such_script' }))
  await page.locator('[data-testid=pxl-error]:not([hidden])').waitFor()
  assert.match(await page.locator('[data-testid=pxl-error]').innerText(), /KILN_NOT_FOUND\s+no script named px\/no_such_script/)
})

test('the editor completes columns of the table read, and Ctrl+Enter runs the edited script into the URL', { skip }, async () => {
  await page.goto(live({ pxl: "import px\ndf = px.DataFrame('http_events', start_time='-10m')\n" }))
  const editor = page.locator('[data-testid=pxl-editor]')
  await editor.click()
  await page.keyboard.press('Control+End')
  await page.keyboard.type('df = df[df.resp_st')
  const suggest = page.locator('[data-testid=pxl-suggest]')
  await suggest.locator('li').first().waitFor()
  assert.deepEqual(await suggest.locator('li').evaluateAll((ls) => ls.map((l) => l.getAttribute('data-label'))), ['resp_status'])
  await shot('live-completion')
  await page.keyboard.press('Tab')
  // Enter keeps the indentation (one level more after a colon); Shift+Tab takes one level off.
  await page.keyboard.type(' >= 500]\nif True:\nx = 1')
  assert.ok((await editor.inputValue()).endsWith('>= 500]\nif True:\n    x = 1'))
  await page.keyboard.press('Shift+Tab')
  assert.ok((await editor.inputValue()).endsWith('>= 500]\nif True:\nx = 1'))
  for (let k = 0; k < '\nif True:\nx = 1'.length; k++) await page.keyboard.press('Backspace')
  await page.keyboard.type("\npx.display(df.groupby('service').agg(failed=('latency', px.count)), 'failures')")
  assert.ok((await editor.inputValue()).includes('df = df[df.resp_status >= 500]'))
  await page.keyboard.press('Control+Enter')
  await tableRows('failures').first().waitFor()
  await page.waitForFunction(() => new URLSearchParams(location.search).get('pxl')?.includes('failures'))
  assert.match(searchToLive(new URL(page.url()).search).pxl, /resp_status >= 500/)
  const rows = (await tableRows('failures').allInnerTexts()).map((t) => t.split('\t').join(' ')).sort()
  assert.deepEqual(rows, ['production/cart 2', 'production/frontend 3', 'production/payments 3'])
})

test('a script of typed functions asks for its arguments; the URL holds them and a reload runs the same', { skip }, async () => {
  const fn = `import px

def by_service(start_time: str, svc: str = 'cart'):
    df = px.DataFrame('http_events', start_time=start_time)
    df = df[px.contains(df.service, svc)]
    return df.groupby('req_path').agg(requests=('latency', px.count), max_latency=('latency', px.max))
`
  await page.goto(live({ pxl: fn, 'arg.start_time': '-10m' }))
  const svc = page.locator('input[data-arg=svc]')
  await svc.waitFor()
  assert.equal(await svc.inputValue(), 'cart')
  assert.equal(await page.locator('input[data-arg=start_time]').inputValue(), '-10m')
  await tableRows('by_service').first().waitFor()
  assert.match(await tableRows('by_service').first().innerText(), /^\/cart\t40\t/)
  await svc.fill('payments')
  await svc.press('Enter')
  await page.waitForFunction(() => new URLSearchParams(location.search).get('arg.svc') === 'payments')
  await page.locator('[data-display=by_service] td', { hasText: '/pay' }).waitFor()
  const want = await runApi(fn, { start_time: '-10m', svc: 'payments' }, 'by_service')
  const maxCol = want.tables[0]!.columns.findIndex((c) => c.name === 'max_latency')
  const text = formatCell(want.tables[0]!.rows[0]![maxCol], want.tables[0]!.columns[maxCol]!)
  assert.equal(await tableRows('by_service').first().innerText(), `/pay\t12\t${text}`)
  await shot('live-args')
  await page.reload()
  await page.locator('[data-display=by_service] td', { hasText: '/pay' }).waitFor()
  assert.equal(await svc.inputValue(), 'payments')
})

test('auto-refresh runs the script again with new rows', { skip }, async () => {
  const perService =
    "import px\ndf = px.DataFrame('http_events', start_time='-10m')\npx.display(df.groupby('service').agg(n=('latency', px.count)), 'per_service')\n"
  await page.goto(live({ pxl: perService }))
  await tableRows('per_service').first().waitFor()
  assert.equal(await tableRows('per_service').count(), 4)
  await page.selectOption('[data-testid=auto-refresh]', '5s')
  await page.waitForFunction(() => new URLSearchParams(location.search).get('refresh') === '5s')
  await push(events(Date.now(), { service: 'search', n: 5 }))
  await page.locator('[data-display=per_service] td', { hasText: 'search' }).waitFor({ timeout: 15_000 })
  assert.equal(await tableRows('per_service').count(), 5)
  await page.selectOption('[data-testid=auto-refresh]', '')
})

test('dashboards: listed from --dashboards DIR (YAML, JSON, the seed ConfigMap); each panel runs its own script', { skip }, async () => {
  const list = (await (await fetch(`${kiln.url}/api/v1/pxl/dashboards`)).json()) as {
    name: string
    title: string
    panels: { title: string }[]
    error?: string
  }[]
  assert.deepEqual(
    list.map((d) => [d.name, d.title, d.panels.map((p) => p.title)]),
    [
      ['http-overview', 'HTTP Overview', ['Request Rate']],
      ['shop', 'Shop services', ['Service graph', 'Requests per 30 s', 'Slowest endpoints', 'Broken panel']],
      ['zz-bad-yaml', 'zz-bad-yaml', []],
      ['zz-broken', 'zz-broken', []],
    ],
  )
  assert.match(list[2]!.error!, /^zz-bad-yaml\.yml: /)
  assert.equal(list[3]!.error, 'zz-broken.json: panel 1 has no pxl_script')
  await assert.rejects(startKiln(['--dashboards', join(dashDir, 'notes.txt')]), /--dashboards .*notes\.txt: not a directory/)
  // The seed's one-line panel: groups by time_, so a chart of rps over time.
  await page.goto(live({ dashboard: 'http-overview' }))
  await page.locator('[data-testid=dashboard-panel] [data-testid=pxl-chart]').waitFor()
  assert.equal(await page.locator('[data-testid=dashboard-title]').innerText(), 'HTTP Overview')
  // Ours: a graph, a chart, a table and a located error, side by side.
  await page.selectOption('[data-testid=pxl-dashboard]', 'shop')
  await page.waitForFunction(() => new URLSearchParams(location.search).get('dashboard') === 'shop')
  const panel = (k: number) => page.locator(`[data-testid=dashboard-panel][data-panel="${k}"]`)
  await panel(0).locator('[data-testid=pxl-graph]').waitFor()
  await panel(1).locator('[data-testid=pxl-chart]').waitFor()
  await panel(2).locator('[data-testid=pxl-table] tbody tr').first().waitFor()
  assert.equal(await panel(2).locator('[data-testid=pxl-table] tbody tr').count(), (await runApi(slowest)).tables[0]!.rows.length)
  assert.match(await panel(3).locator('.pxl-error').innerText(), /line 2, column \d+[\s\S]*http_event[\s\S]*http_events/)
  await shot('live-dashboard')
  // A panel's script opens in the editor.
  await panel(2).locator('a', { hasText: 'Edit script' }).click()
  await tableRows('slowest_endpoints').first().waitFor()
  assert.match(await page.locator('[data-testid=pxl-editor]').inputValue(), /sort_values\('max_latency'/)
})
