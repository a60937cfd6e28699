import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { topTable, type CallTree } from '../../src/model/tree.ts'
import { toFlame, levelCount } from '../../ui/src/lib/flame.ts'
import { layout, fullViewport, widestNamed, search } from '../../ui/src/lib/layout.ts'
import { formatPercent, formatChange, timeText } from '../../ui/src/lib/format.ts'
import { shareChange } from '../../ui/src/lib/color.ts'
import { sandwich } from '../../ui/src/lib/sandwich.ts'
import { formatPoints } from '../../ui/src/lib/top.ts'
import { searchToState } from '../../ui/src/lib/viewstate.ts'
import { treeOf } from './helpers.ts'
import { artifacts, noChromium, uiSuite, ingestFolded } from './kiln.ts'

// Fixed data at fixed times, and a fixed clock in the page, so that screenshots are the same on every run.
const T0 = Date.UTC(2026, 0, 1, 10, 0, 0) / 1000
const baseline = {
  prod: 'main;http.Serve;handler.Checkout;db.Query 300\nmain;http.Serve;handler.Checkout;json.Marshal 100\nmain;http.Serve;handler.Home;template.Render 150\nmain;runtime.gcBgMarkWorker 50\n',
  staging: 'main;http.Serve;handler.Home;template.Render 100\nmain;runtime.gcBgMarkWorker 20\n',
}
const comparison = {
  prod: 'main;http.Serve;handler.Checkout;db.Query 600\nmain;http.Serve;handler.Checkout;db.Query;net.Read 100\nmain;http.Serve;handler.Checkout;json.Marshal 100\nmain;http.Serve;handler.Home;template.Render 150\nmain;runtime.gcBgMarkWorker 50\n',
  staging: 'main;http.Serve;handler.Home;template.Render 90\nmain;runtime.gcBgMarkWorker 30\n',
}
const all = (o: Record<string, string>) => Object.values(o).join('')
const TYPE = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds'
const ms = (s: number) => String(s * 1000)
const range = `from=${ms(T0 - 300)}&until=${ms(T0 + 2700)}`
const base = `/?service=shop&type=${encodeURIComponent(TYPE)}&${range}`

const skip = noChromium
if (skip) console.log(`# skipping the web UI end-to-end test: ${skip}`)

const ui = uiSuite({
  seed: async (at) => {
    for (const [env, folded] of Object.entries(baseline)) await ingestFolded(at, `shop.cpu{env=${env},region=eu}`, folded, T0, T0 + 600)
    for (const [env, folded] of Object.entries(comparison))
      await ingestFolded(at, `shop.cpu{env=${env},region=eu}`, folded, T0 + 1800, T0 + 2400)
  },
  clock: T0 + 3600,
})

const open = async (query: string) => {
  await ui.page.goto(ui.kiln.url + base + query)
  await ui.page.waitForLoadState('networkidle')
}
const apiFlame = async () => {
  const r = await fetch(
    `${ui.kiln.url}/api/v1/flamegraph?type=${encodeURIComponent(TYPE)}&query=${encodeURIComponent('{service_name="shop"}')}&${range}`,
  )
  return toFlame((await r.json()).flamegraph)
}

test('top table shows the hottest function with its self share', { skip }, async () => {
  await open('')
  const expected = topTable(treeOf(all(baseline) + all(comparison)))
  const total = expected.reduce((s, r) => s + r.self, 0)
  const first = ui.page.locator('[data-testid=top-table] tbody tr').first()
  await first.waitFor()
  const cells = await first.locator('td').allInnerTexts()
  assert.equal(cells[0]!.replace('⇅', '').trim(), expected[0]!.name)
  assert.equal(cells[2], formatPercent(expected[0]!.self / total))
  assert.equal(await ui.page.locator('[data-testid=errors] .error').count(), 0)
  await ui.shot('both')
})

test('clicking a frame zooms into it; hover shows its share; the URL keeps the zoom', { skip }, async () => {
  const f = await apiFlame()
  const canvas = ui.page.locator('[data-testid=flame-canvas]').first()
  const box = (await canvas.boundingBox())!
  const target = widestNamed(f, 'db.Query')
  const rect = layout(f, fullViewport(f, box.width, { rowHeight: 18 })).find((r) => r.node === target && r.count === 1)!
  await ui.page.mouse.click(box.x + rect.x + rect.w / 2, box.y + rect.y + 9)
  await ui.page.waitForFunction(() => location.search.includes('zoom='))
  assert.equal(searchToState(new URL(ui.page.url()).search).zoom, 'main;http.Serve;handler.Checkout;db.Query')
  // Zoomed, db.Query spans the whole width of its row.
  await ui.page.mouse.move(box.x + 5, box.y + rect.y + 9)
  const tip = ui.page.locator('[data-testid=tooltip]')
  await tip.waitFor()
  const text = await tip.innerText()
  assert.match(text, /db\.Query/)
  assert.ok(text.includes(formatPercent(f.total[target]! / f.rootTotal)), text)
  await ui.shot('zoomed-hover')
  // On the right part of the graph the tooltip sits left of the pointer, inside the ui.page.
  const px = box.x + box.width - 5
  await ui.page.mouse.move(px, box.y + rect.y + 9)
  await ui.page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=tooltip]')!.style.transform.includes('calc'))
  const tb = (await tip.boundingBox())!
  assert.ok(tb.x + tb.width <= px && tb.x >= 0, JSON.stringify(tb))
  await ui.page.goBack()
  await ui.page.waitForFunction(() => !location.search.includes('zoom='))
  await ui.page.goForward()
  await ui.page.waitForFunction(() => location.search.includes('zoom='))
  await ui.page.keyboard.press('Escape')
  await ui.page.waitForFunction(() => !location.search.includes('zoom='))
})

test('the painting worker and the page fallback draw the same pixels', { skip }, async () => {
  await open('&view=flame')
  await ui.page.mouse.move(0, 0)
  await ui.page.waitForFunction(() => !document.querySelector('canvas[data-pending]'))
  const worker = await ui.page.locator('[data-testid=flame-canvas]').screenshot()
  const fallbacks = {
    // No OffscreenCanvas: the page paints the graph itself.
    'no OffscreenCanvas': 'delete HTMLCanvasElement.prototype.transferControlToOffscreen',
    // A worker that fails to load after the canvas went to it: the page paints on a fresh canvas.
    'a worker that fails to load':
      "{ const W = Worker; window.Worker = class extends W { constructor(u, o) { super(new URL('/no-such-worker.js', location.href), o) } } }",
  }
  for (const [name, script] of Object.entries(fallbacks)) {
    const ctx = await ui.browser.newContext({ viewport: { width: 1280, height: 720 }, colorScheme: 'light', deviceScaleFactor: 1 })
    try {
      const p = await ctx.newPage()
      await p.clock.setFixedTime(new Date((T0 + 3600) * 1000))
      await p.addInitScript({ content: script })
      await p.goto(ui.kiln.url + base + '&view=flame')
      // Painted on the page: the page's canvas reads back the grey "total" row at its top left
      // (a canvas given to a worker throws on getContext).
      await p.waitForFunction(() => {
        try {
          const c = document.querySelector('[data-testid=flame-canvas]') as HTMLCanvasElement | null
          const px = c && c.width > 10 ? c.getContext('2d', { alpha: false })!.getImageData(5, 5, 1, 1).data : null
          return px !== null && px[0] !== 255
        } catch {
          return false
        }
      })
      await p.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
      const onPage = await p.locator('[data-testid=flame-canvas]').screenshot()
      assert.ok(worker.equals(onPage), `${name}: identical screenshots of the canvas`)
    } finally {
      await ctx.close()
    }
  }
})

test('regex search highlights matches and shows their share', { skip }, async () => {
  const f = await apiFlame()
  await ui.page.fill('[data-testid=search]', 'json|template')
  await ui.page.press('[data-testid=search]', 'Enter')
  const info = ui.page.locator('[data-testid=match-info]')
  await info.waitFor()
  const m = search(f, /json|template/i)
  assert.equal(await info.innerText(), `${m.count} frames match · ${formatPercent(m.share)} of total`)
  await ui.shot('search')
})

test('with a small node budget the flame graph merges frames into "other" but the table stays exact', { skip }, async () => {
  await open('&maxNodes=4')
  const expected = topTable(treeOf(all(baseline) + all(comparison)))
  const total = expected.reduce((s, r) => s + r.self, 0)
  const row = ui.page.locator('[data-testid=top-table] tbody tr', { hasText: 'template.Render' })
  await row.waitFor()
  assert.equal(
    (await row.locator('td').allInnerTexts())[2],
    formatPercent(expected.find((r) => r.name === 'template.Render')!.self / total),
  )
  assert.equal(await ui.page.locator('[data-testid=top-table] tbody tr', { hasText: 'other' }).count(), 0)
})

test('table sorts, filters, and a row click focuses the function in the flame graph', { skip }, async () => {
  await open('')
  await ui.page.click('[data-testid=top-table] th[data-sort=total]')
  const firstName = async () => (await ui.page.locator('[data-testid=top-table] tbody tr td.name .fn').first().innerText()).trim()
  assert.equal(await firstName(), 'main', 'main has the largest total')
  await ui.page.fill('[data-testid=table-filter]', 'marsh')
  assert.equal(await ui.page.locator('[data-testid=top-table] tbody tr').count(), 1)
  await ui.page.locator('[data-testid=top-table] tbody tr').first().click()
  await ui.page.waitForFunction(() => location.search.includes('zoom='))
  const s = searchToState(new URL(ui.page.url()).search)
  assert.equal(s.zoom, 'main;http.Serve;handler.Checkout;json.Marshal')
  assert.equal(s.search, '^json\\.Marshal$')
  await ui.page.fill('[data-testid=table-filter]', '')
})

test('the selector editor completes label names and values from the API', { skip }, async () => {
  await open('')
  const input = ui.page.locator('[data-testid=selector]')
  await input.fill('{re')
  await input.press('End')
  await input.dispatchEvent('input')
  const first = ui.page.locator('.suggest li').first()
  await first.waitFor()
  assert.equal(await first.innerText(), 'region')
  await input.press('Tab')
  assert.equal(await input.inputValue(), '{region="')
  await ui.page.locator('.suggest li', { hasText: 'eu' }).waitFor()
  await input.press('Tab')
  assert.equal(await input.inputValue(), '{region="eu"}')
  await input.press('Enter')
  await ui.page.waitForFunction(() => location.search.includes('region'))
  assert.equal(searchToState(new URL(ui.page.url()).search).query, '{region="eu"}')
})

test('dragging across the timeline selects that time range', { skip }, async () => {
  await open('')
  const box = (await ui.page.locator('[data-testid=timeline]').boundingBox())!
  await ui.page.mouse.move(box.x + box.width * 0.3, box.y + 40)
  await ui.page.mouse.down()
  await ui.page.mouse.move(box.x + box.width * 0.6, box.y + 40, { steps: 5 })
  await ui.page.mouse.up()
  await ui.page.waitForFunction((f) => !location.search.includes(f), ms(T0 - 300))
  const s = searchToState(new URL(ui.page.url()).search)
  const from = Number(s.from)
  const until = Number(s.until)
  assert.ok(from > (T0 - 300) * 1000 && until < (T0 + 2700) * 1000 && from < until, `${s.from} … ${s.until}`)
  await ui.page.goBack()
  await ui.page.waitForFunction((f) => location.search.includes(f), ms(T0 - 300))
})

test('exports: folded stacks and pprof from the API, SVG and PNG of the flame graph', { skip }, async () => {
  await open('')
  const names: string[] = []
  const grab = async (what: string) => {
    await ui.page.click('.menu summary')
    const [dl] = await Promise.all([ui.page.waitForEvent('download'), ui.page.click(what)])
    names.push(dl.suggestedFilename())
    const chunks: Buffer[] = []
    for await (const c of (await dl.createReadStream())!) chunks.push(c as Buffer)
    return Buffer.concat(chunks)
  }
  const folded = (await grab('[data-testid=export-folded]')).toString()
  assert.match(folded, /^main;http\.Serve;handler\.Checkout;db\.Query \d+$/m)
  const pprof = await grab('[data-testid=export-pprof]')
  assert.ok(pprof[0] === 0x1f && pprof[1] === 0x8b, 'gzipped pprof')
  const svg = (await grab('text=SVG flame graph')).toString()
  assert.match(svg, /^<svg xmlns/)
  assert.ok(svg.includes('<title>db.Query'), 'a tooltip per frame')
  // The title says what and when (issue 15 §6).
  assert.ok(
    svg.includes('<title>shop · process_cpu · cpu (nanoseconds) · 2026-01-01T09:55Z → 2026-01-01T10:45Z UTC</title>'),
    svg.slice(0, 400),
  )
  const png = await grab('text=PNG image')
  assert.equal(png.subarray(1, 4).toString(), 'PNG')
  writeFileSync(join(artifacts, 'export.png'), png)
  writeFileSync(join(artifacts, 'export.svg'), svg)
  // File names carry the service, the type and the range.
  const stem = `shop_process_cpu-cpu_${new Date((T0 - 300) * 1000)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/00\.000Z$/, 'Z')}-${new Date((T0 + 2700) * 1000)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/00\.000Z$/, 'Z')}`
  assert.deepEqual(
    names,
    ['folded', 'pb.gz', 'svg', 'png'].map((e) => `${stem}.${e}`),
  )
})

test('diff view colours by change in share and lists both sides', { skip }, async () => {
  await open(`&view=diff&lfrom=${ms(T0)}&luntil=${ms(T0 + 600)}&rfrom=${ms(T0 + 1800)}&runtil=${ms(T0 + 2400)}`)
  const row = ui.page.locator('[data-testid=top-table] tbody tr', { hasText: 'db.Query' })
  await row.waitFor()
  const l = treeOf(all(baseline))
  const r = treeOf(all(comparison))
  const side = (t: CallTree, n: string) => topTable(t).find((x) => x.name === n)!
  const cells = await row.locator('td').allInnerTexts()
  const [ql, qr] = [side(l, 'db.Query'), side(r, 'db.Query')]
  // Both sides as shares of their own totals, and the change in total share (what the colour shows).
  assert.deepEqual(cells.slice(1), [
    formatPercent(ql.self / l.total[0]!),
    formatPercent(ql.total / l.total[0]!),
    formatPercent(qr.self / r.total[0]!),
    formatPercent(qr.total / r.total[0]!),
    formatPoints(qr.total / r.total[0]! - ql.total / l.total[0]!),
    formatChange(shareChange(ql.total, qr.total, l.total[0]!, r.total[0]!)),
  ])
  await ui.page.click('[data-testid=top-table] th[data-sort=change]')
  const changes = await ui.page.locator('[data-testid=top-table] tbody tr td:last-child').allInnerTexts()
  assert.ok(changes.length > 3)
  assert.equal(await ui.page.locator('[data-testid=errors] .error').count(), 0)
  await ui.shot('diff')
})

test('diff view: dragging on the timeline chooses the baseline, then the comparison range', { skip }, async () => {
  // Start by comparing the comparison with itself: every change ±0%.
  await open(`&view=diff&lfrom=${ms(T0 + 1800)}&luntil=${ms(T0 + 2400)}&rfrom=${ms(T0 + 1800)}&runtil=${ms(T0 + 2400)}`)
  await ui.page.locator('[data-testid=top-table] tbody tr').first().waitFor()
  const box = (await ui.page.locator('[data-testid=timeline]').boundingBox())!
  // The plot spans viewBox x 56…992 of 1000 over the main range T0-300 … T0+2700.
  const px = (t: number) => box.x + (box.width * (56 + ((t - (T0 - 300)) / 3000) * 936)) / 1000
  const drag = async (a: number, b: number) => {
    await ui.page.mouse.move(px(a), box.y + 40)
    await ui.page.mouse.down()
    await ui.page.mouse.move(px(b), box.y + 40, { steps: 4 })
    await ui.page.mouse.up()
  }
  await ui.page.click('[data-testid=brush-baseline]')
  const changed = (key: string) =>
    ui.page.waitForFunction(([k, v]) => new URLSearchParams(location.search).get(k!) !== v, [key, ms(T0 + 1800)])
  await drag(T0 - 150, T0 + 300)
  await changed('lfrom')
  assert.equal(
    await ui.page.locator('[data-testid=brush-comparison]').getAttribute('aria-pressed'),
    'true',
    'the next drag chooses the comparison',
  )
  await drag(T0 + 1650, T0 + 2100)
  await changed('rfrom')
  const s = searchToState(new URL(ui.page.url()).search)
  const near = (v: string, t: number) => Math.abs(Number(v) - t * 1000) < 30_000
  assert.ok(near(s.lfrom, T0 - 150) && near(s.luntil, T0 + 300) && near(s.rfrom, T0 + 1650) && near(s.runtil, T0 + 2100), JSON.stringify(s))
  assert.equal(s.from, ms(T0 - 300), 'the main range stays')
  await ui.page.waitForFunction(
    ([l, r]) =>
      document.querySelector<HTMLInputElement>('[data-testid=lfrom]')?.value === l &&
      document.querySelector<HTMLInputElement>('[data-testid=rfrom]')?.value === r,
    [timeText(s.lfrom), timeText(s.rfrom)],
  )
  // The chosen ranges hold exactly the baseline and the comparison profiles.
  const l = treeOf(all(baseline))
  const r = treeOf(all(comparison))
  const q = (t: CallTree) => topTable(t).find((x) => x.name === 'db.Query')!
  const want = formatChange(shareChange(q(l).total, q(r).total, l.total[0]!, r.total[0]!))
  await ui.page.waitForFunction(
    (w) =>
      [...document.querySelectorAll('[data-testid=top-table] tbody tr')].some(
        (tr) => tr.textContent!.includes('db.Query') && tr.lastElementChild!.textContent === w,
      ),
    want,
  )
  await ui.shot('diff-brushed')
})

test('sandwich view shows callers above and callees below', { skip }, async () => {
  await open('&view=sandwich&fn=db.Query')
  await ui.page.locator('[data-testid=sandwich-fn]').waitFor()
  assert.equal(await ui.page.locator('[data-testid=sandwich-fn]').innerText(), 'db.Query')
  const sw = sandwich(await apiFlame(), 'db.Query')
  await ui.page.waitForFunction(() => !document.querySelector('canvas[data-pending]'))
  const h = async (id: string) => (await ui.page.locator(`[data-testid=${id}] .flame-canvas`).boundingBox())!.height
  assert.equal(await h('callers'), levelCount(sw.callers) * 18)
  assert.equal(await h('callees'), levelCount(sw.callees) * 18)
  await ui.shot('sandwich')
})

test('label explorer: share per value; a click filters by it', { skip }, async () => {
  await open('&view=labels&label=env&groupBy=env')
  const bars = ui.page.locator('[data-testid=label-breakdown] .bar-row')
  await bars.first().waitFor()
  assert.deepEqual((await bars.locator('.bar-label').allInnerTexts()).sort(), ['prod', 'staging'])
  await ui.shot('labels')
  await bars.filter({ hasText: 'staging' }).click()
  await ui.page.waitForFunction(() => location.search.includes('staging'))
  const s = searchToState(new URL(ui.page.url()).search)
  assert.equal(s.query, '{env="staging"}')
  assert.equal(s.view, 'both')
})

test('a relative range is resolved again on Refresh and on auto-refresh, and stays relative in the URL', { skip }, async () => {
  const share = (o: Record<string, string>) => {
    const rows = topTable(treeOf(all(o)))
    const total = rows.reduce((n, r) => n + r.self, 0)
    return formatPercent(rows.find((r) => r.name === 'db.Query')!.self / total)
  }
  const dbShare = () => ui.page.locator('[data-testid=top-table] tbody tr', { hasText: 'db.Query' }).locator('td').nth(2)
  const waitShare = (want: string, timeout = 10_000) =>
    ui.page.waitForFunction(
      (w) =>
        [...document.querySelectorAll('[data-testid=top-table] tbody tr')].some(
          (tr) => tr.textContent!.includes('db.Query') && tr.children[2]!.textContent === w,
        ),
      want,
      { timeout },
    )
  try {
    // At T0+700, the last 15 minutes hold the baseline only; at T0+2400, the comparison only.
    await ui.page.clock.setFixedTime(new Date((T0 + 700) * 1000))
    await ui.page.goto(`${ui.kiln.url}/?service=shop&type=${encodeURIComponent(TYPE)}&from=now-15m&view=table`)
    await waitShare(share(baseline))
    await ui.page.clock.setFixedTime(new Date((T0 + 2400) * 1000))
    await ui.page.click('[data-testid=refresh]')
    await waitShare(share(comparison))
    assert.equal(await dbShare().innerText(), share(comparison))
    assert.equal(searchToState(new URL(ui.page.url()).search).from, 'now-15m', 'the link stays relative')
    await ui.page.clock.setFixedTime(new Date((T0 + 700) * 1000))
    await ui.page.selectOption('[data-testid=auto-refresh]', '5s')
    await ui.page.waitForFunction(() => location.search.includes('refresh=5s'))
    // No click: the 5 s timer asks again with the new "now".
    await waitShare(share(baseline), 15_000)
    await ui.page.selectOption('[data-testid=auto-refresh]', '')
  } finally {
    await ui.page.clock.setFixedTime(new Date((T0 + 3600) * 1000))
  }
})

test('the top table reaches every row by scrolling, rendering only the rows in view', { skip }, async () => {
  const n = 3000
  const lines = Array.from({ length: n }, (_, k) => `main;f${String(k).padStart(4, '0')} ${k + 1}`)
  await ingestFolded(ui.kiln.url, 'wide.cpu', lines.join('\n') + '\n', T0 + 100, T0 + 200)
  await ui.page.goto(`${ui.kiln.url}/?service=wide&type=${encodeURIComponent(TYPE)}&${range}&view=table`)
  const rows = ui.page.locator('[data-testid=top-table] tbody tr')
  await rows.first().waitFor()
  assert.equal((await rows.first().locator('.fn').innerText()).trim(), 'f2999')
  assert.ok((await rows.count()) < 150, `${await rows.count()} rows in the DOM for ${n + 1} functions`)
  await ui.page.locator('[data-testid=table-scroll]').evaluate((el) => (el.scrollTop = el.scrollHeight))
  await ui.page.locator('[data-testid=top-table] tbody tr', { hasText: 'f0000' }).waitFor()
  const names = await ui.page.locator('[data-testid=top-table] tbody tr .fn').allInnerTexts()
  assert.deepEqual(names.slice(-2), ['f0000', 'main'], 'the last rows: the smallest self, then main (self 0)')
  // A refresh asks again and updates the table in place: it stays scrolled where it was.
  await ui.page.click('[data-testid=refresh]')
  await ui.page.waitForLoadState('networkidle')
  assert.ok((await ui.page.locator('[data-testid=table-scroll]').evaluate((el) => el.scrollTop)) > 1000)
  assert.deepEqual((await ui.page.locator('[data-testid=top-table] tbody tr .fn').allInnerTexts()).slice(-1), ['main'])
  // Every row is as tall as the window assumes, so the spacers match the rows they stand for.
  const heights = await rows.evaluateAll((trs) => trs.map((tr) => tr.getBoundingClientRect().height))
  assert.ok(
    heights.every((h) => Math.abs(h - 24) < 0.01),
    JSON.stringify(heights.slice(0, 5)),
  )
  await ui.shot('table-scrolled')
})

test('dark theme, empty store and server errors are shown to people', { skip }, async () => {
  await open('')
  await ui.page.click('[data-testid=theme]')
  await ui.page.waitForFunction(() => document.documentElement.dataset.theme === 'dark')
  await ui.page.waitForLoadState('networkidle')
  await ui.shot('dark')
  await open(`&view=diff&lfrom=${ms(T0)}&luntil=${ms(T0 + 600)}&rfrom=${ms(T0 + 1800)}&runtil=${ms(T0 + 2400)}`)
  await ui.page.locator('[data-testid=top-table] tbody tr').first().waitFor()
  await ui.shot('diff-dark')
  await ui.page.click('[data-testid=theme]')
  // A range without data (the store has some): the pickers stay, the page says where the data is (states.test.ts has more).
  await ui.page.goto(`${ui.kiln.url}/?from=${ms(T0 - 86400 * 30)}&until=${ms(T0 - 86400 * 29)}`)
  await ui.page.locator('[data-testid=no-data]').waitFor()
  assert.match(await ui.page.locator('[data-testid=no-data-text]').innerText(), /^No data between .*; latest data at 2026-01-01T10:30Z\.$/)
  await ui.shot('empty')
  await ui.page.goBack()
  await ui.page.locator('[data-testid=profile-type]').waitFor()
  assert.equal(await ui.page.locator('[data-testid=service]').inputValue(), 'shop', 'the header comes back with the data')
  await open('&query=' + encodeURIComponent('{env='))
  const err = ui.page.locator('[data-testid=errors] .error').first()
  await err.waitFor()
  assert.match(await err.innerText(), /KILN_SELECTOR_SYNTAX/)
  await ui.shot('error')
  await ui.page.click('[data-testid=tab-table]')
  await ui.page.waitForFunction(() => location.search.includes('view=table'))
  await ui.page.locator('[data-testid=errors] .error').first().waitFor()
  assert.equal(await ui.page.locator('[data-testid=errors] .error').count(), 1, 'the lasting error is shown once, not piled up')
})
