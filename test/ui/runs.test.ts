/** The load-test runs page in Chromium, on runs stored by a real `kiln run -o kiln=URL --profile SEL` against a loopback target. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { startServer, kilnRun, workdir } from '../loadtest/helpers.ts'
import { root, buildUi, startKiln, launchChromium } from './kiln.ts'
import { compareRuns, formatRunChange, formatMetric, type RunDetail } from '../../ui/src/lib/runs.ts'
import { searchToState } from '../../ui/src/lib/viewstate.ts'

const artifacts = join(root, 'test-artifacts', 'ui')
const skip = existsSync('/usr/bin/chromium') ? false : 'no /usr/bin/chromium: apt-get install -y chromium'

let kiln: Awaited<ReturnType<typeof startKiln>>
let target: Awaited<ReturnType<typeof startServer>>
let browser: Browser
let page: Page
const ids: string[] = []
/** What `kiln run`'s summary printed for data_received, per run. */
const printed: string[] = []
/** And for the rates of http_reqs and data_received. */
const printedRates: { reqs: string; data: string }[] = []

before(async () => {
  if (skip) return
  buildUi()
  mkdirSync(artifacts, { recursive: true })
  ;[kiln, target] = await Promise.all([startKiln(), startServer()])
  const dir = workdir({
    'shop.js': `import http from 'k6/http'
import { check } from 'k6'
export const options = { thresholds: { http_req_failed: ['rate<0.5'], http_req_duration: ['max<0'] } }
export default function () { check(http.get(__ENV.URL), { ok: (r) => r.status === 200 }) }
`,
  })
  for (const n of ['6', '10']) {
    // The target's profile, sent as its SDK would just before each run (inside the run's window however long the runs take).
    const ingest = await fetch(`${kiln.url}/ingest?name=target.cpu&from=now`, {
      method: 'POST',
      body: 'main;http.serve;handler 7\nmain;gc 3\n',
    })
    assert.equal(ingest.status, 200)
    const r = await kilnRun(
      [
        'run',
        '-q',
        '-u',
        '2',
        '-i',
        n,
        '-e',
        `URL=${target.url}/`,
        '--tag',
        `build=b${n}`,
        '-o',
        `kiln=${kiln.url}`,
        '--profile',
        '{service_name="target"}',
        join(dir, 'shop.js'),
      ],
      { timeoutMs: 180_000 },
    )
    assert.equal(r.code, 99, `max<0 is crossed: ${r.stderr}`)
    ids.push(/runs\/get\?run=([\w-]+)/.exec(r.stderr)![1]!)
    printed.push(/data_received\.*:\s+(\d[\d.]* \w?B)/.exec(r.stdout)?.[1] ?? `no data_received in:\n${r.stdout}`)
    printedRates.push({
      reqs: /http_reqs\.*:\s+\d+\s+([\d.]+\/s)/.exec(r.stdout)?.[1] ?? `no http_reqs in:\n${r.stdout}`,
      data: /data_received\.*:\s+\d[\d.]* \w?B\s+(\d[\d.]* \w?B\/s)/.exec(r.stdout)?.[1] ?? `no data_received in:\n${r.stdout}`,
    })
  }
  browser = await launchChromium()
  page = await (await browser.newContext({ viewport: { width: 1280, height: 720 }, colorScheme: 'light', deviceScaleFactor: 1 })).newPage()
})

after(async () => {
  await browser?.close()
  await kiln?.dispose()
  await target?.close()
})

const shot = (name: string) => page.screenshot({ path: join(artifacts, `${name}.png`) })
const detail = async (id: string) => (await (await fetch(`${kiln.url}/api/v1/runs/get?run=${id}`)).json()) as RunDetail

test('the runs list shows each run with its requests, VUs and failed thresholds', { skip }, async () => {
  await page.goto(`${kiln.url}/?page=runs`)
  const rows = page.locator('[data-testid=runs-table] tbody tr')
  await rows.first().waitFor()
  assert.equal(await rows.count(), 2)
  for (const [id, n] of [
    [ids[0]!, '6'],
    [ids[1]!, '10'],
  ] as const) {
    const row = page.locator(`[data-testid=runs-table] tbody tr[data-run="${id}"]`)
    assert.equal(await row.locator('td[data-col=requests]').innerText(), n)
    assert.equal(await row.locator('td[data-col=thresholds]').innerText(), '✗ 1 of 2')
    const d = await detail(id)
    const ms = (v: number) => formatMetric(v, 'http_req_duration', 'trend')
    const dur = d.metrics.http_req_duration!
    assert.equal(
      await row.locator('td[data-col=duration]').innerText(),
      `${ms(dur.avg)} / ${ms(dur.p95!)} / ${ms(dur.max)}`,
      'avg / p95 / max',
    )
    assert.match(await row.innerText(), new RegExp(`shop\\.js[\\s\\S]*build=b${n}`))
  }
  await shot('runs')
})

test("a run's page: per-second charts, thresholds, metrics, and the target's flame graph for exactly its window", { skip }, async () => {
  await page.locator(`[data-testid=runs-table] tbody tr[data-run="${ids[1]}"] td.name`).click()
  await page.locator('[data-testid=run-script]').waitFor()
  await page.waitForFunction(() => location.search.includes('run='))
  assert.equal(searchToState(new URL(page.url()).search).run, ids[1])
  assert.deepEqual(
    (await page.locator('[data-testid=thresholds] li').allInnerTexts()).sort(),
    ['✓ http_req_failed: rate<0.5', '✗ http_req_duration: max<0'].sort(),
  )
  assert.ok((await page.locator('[data-testid=chart-http_req_duration] .legend').innerText()).includes('p95'))
  for (const m of ['http_reqs', 'http_req_duration', 'vus', 'checks'])
    assert.ok((await page.locator(`[data-testid=chart-${m}] svg path`).count()) > 0, `a line for ${m}`)
  const reqs = page.locator('[data-testid=run-metrics] tbody tr', { hasText: /^http_reqs/ })
  assert.equal((await reqs.locator('td').allInnerTexts())[2], '10')
  // Data as the CLI's summary printed it (SI bytes, issue 15 §5).
  const data = page.locator('[data-testid=run-metrics] tbody tr', { hasText: /^data_received/ })
  assert.equal((await data.locator('td').allInnerTexts())[3], printed[1])
  // Rates over the summary's duration, not over the run record's (which starts with kiln run itself).
  assert.equal((await data.locator('td').allInnerTexts())[4], printedRates[1]!.data)
  assert.equal((await reqs.locator('td').allInnerTexts())[4], printedRates[1]!.reqs)
  assert.equal(await page.locator('[data-testid=run-requests]').innerText(), `10 (${printedRates[1]!.reqs})`)
  await shot('run')
  await page.click('[data-testid=theme]')
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark')
  await shot('run-dark')
  await page.click('[data-testid=theme]')

  const d = await detail(ids[1]!)
  await page.click('[data-testid=run-flamegraph]')
  await page.waitForFunction(() => !location.search.includes('page=runs'))
  const s = searchToState(new URL(page.url()).search)
  assert.deepEqual([s.service, s.from, s.until], ['target', String(d.profile!.from), String(d.profile!.until)])
  assert.ok(d.profile!.from < d.run.started && d.run.ended === d.profile!.until)
  const handler = page.locator('[data-testid=top-table] tbody tr', { hasText: 'handler' })
  await handler.waitFor()
  assert.equal((await handler.locator('td').allInnerTexts())[2], '70%')
  await page.goBack()
  await page.locator('[data-testid=run-script]').waitFor()
})

test('two runs compare metric by metric', { skip }, async () => {
  await page.goto(`${kiln.url}/?page=runs`)
  await page.locator('[data-testid=runs-table] tbody tr').first().waitFor()
  assert.ok(await page.locator('[data-testid=compare-runs]').isDisabled())
  for (const id of ids) await page.check(`input[data-run="${id}"]`)
  await page.click('[data-testid=compare-runs]')
  await page.locator('[data-testid=compare-table]').waitFor()
  await page.waitForFunction(() => location.search.includes('compare='))
  assert.equal(searchToState(new URL(page.url()).search).compare, ids.join(','))
  const want = compareRuns(await detail(ids[0]!), await detail(ids[1]!))
  for (const [m, stat] of [
    ['http_reqs', 'per second'],
    ['http_req_duration', 'avg'],
    ['http_req_duration', 'p95'],
    ['iterations', 'per second'],
  ]) {
    const cells = await page.locator(`[data-testid=compare-table] tr[data-metric=${m}][data-stat="${stat}"] td`).allInnerTexts()
    assert.equal(cells[4], formatRunChange(want.find((r) => r.metric === m && r.stat === stat)!.change), `${m} ${stat}`)
  }
  await shot('runs-compare')
  // The target's diff flame graph: run A's window as the baseline, run B's as the comparison.
  const [da, db] = [await detail(ids[0]!), await detail(ids[1]!)]
  await page.click('[data-testid=runs-diff]')
  await page.waitForFunction(() => location.search.includes('view=diff'))
  const s = searchToState(new URL(page.url()).search)
  assert.deepEqual(
    [s.service, s.lfrom, s.luntil, s.rfrom, s.runtil],
    ['target', String(da.profile!.from), String(da.profile!.until), String(db.profile!.from), String(db.profile!.until)],
  )
  await page.locator('[data-testid=top-table] tbody tr', { hasText: 'handler' }).waitFor()
})
