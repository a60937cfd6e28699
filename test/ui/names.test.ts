// Issue 15 §1: function names stay readable — the function first, its file after, in the table,
// the flame graph's labels and tooltip, the sandwich and the diff; different functions never
// show the same name.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { toFlame } from '../../ui/src/lib/flame.ts'
import { layout, fullViewport, widestNamed } from '../../ui/src/lib/layout.ts'
import { displayName, nameParts } from '../../ui/src/lib/names.ts'
import { root, buildUi, startKiln, launchChromium, ingestFolded } from './kiln.ts'

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0) / 1000
// Names as `@kiln/node` (V8: `fn dir/file:line`) and Go's pprof write them; three functions in
// one file at line 1 (what the issue saw as `labels.ts:1` three times).
const names = {
  main: '(anonymous) app-kiln/app.mjs:1',
  sha: 'sha app-kiln/app.mjs:5',
  parse: 'parseLabels src/model/labels.ts:1',
  key: 'labelsKey src/model/labels.ts:1',
  anon: '(anonymous) src/model/labels.ts:1',
  go: 'github.com/grafana/pyroscope/pkg/phlaredb/symdb.(*PartitionWriter).WriteStacks',
}
const folded = [
  `${names.main};${names.sha} 400`,
  `${names.main};${names.parse} 200`,
  `${names.main};${names.key} 150`,
  `${names.main};${names.anon} 100`,
  `${names.main};${names.parse};${names.go} 30`,
  // Narrow frames: 6 and 4 of 1000.
  `${names.main};${names.sha};${names.key} 6`,
  `${names.main};${names.sha};${names.anon} 4`,
].join('\n')
const TYPE = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds'
const url = (q: string) => `/?service=names&type=${encodeURIComponent(TYPE)}&from=${(T0 - 300) * 1000}&until=${(T0 + 900) * 1000}${q}`
const artifacts = join(root, 'test-artifacts', 'ui')

const skip = existsSync('/usr/bin/chromium') ? false : 'no /usr/bin/chromium: apt-get install -y chromium'
let kiln: Awaited<ReturnType<typeof startKiln>>
let browser: Browser
let page: Page

before(async () => {
  if (skip) return
  buildUi()
  mkdirSync(artifacts, { recursive: true })
  kiln = await startKiln()
  await ingestFolded(kiln.url, 'names.cpu', folded + '\n', T0, T0 + 600)
  await ingestFolded(kiln.url, 'names.cpu', folded.replace(' 400', ' 700') + '\n', T0 - 240, T0 - 60)
  browser = await launchChromium()
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 }, colorScheme: 'light', deviceScaleFactor: 1 })
  page = await ctx.newPage()
  await page.clock.setFixedTime(new Date((T0 + 3600) * 1000))
})

after(async () => {
  await browser?.close()
  await kiln?.dispose()
})

const shot = async (name: string) => {
  await page.waitForFunction(() => !document.querySelector('canvas[data-pending]'))
  await page.screenshot({ path: join(artifacts, `${name}.png`) })
}

test('the table shows each function first and its file after; no two functions look the same', { skip }, async () => {
  await page.goto(kiln.url + url(''))
  await page.locator('[data-testid=top-table] tbody tr').first().waitFor()
  const cells = (await page.locator('[data-testid=top-table] tbody td.name').allInnerTexts()).map((t) => t.replace('⇅', '').trim())
  assert.deepEqual(new Set(cells), new Set(Object.values(names).map(displayName)))
  assert.equal(new Set(cells).size, cells.length, 'distinct functions, distinct rows')
  assert.ok(
    cells.includes('sha app-kiln/app.mjs:5') &&
      cells.includes('symdb.(*PartitionWriter).WriteStacks github.com/grafana/pyroscope/pkg/phlaredb'),
    cells.join('\n'),
  )
  // The function is the part people read first: it is its own element, the file beside it.
  assert.equal(
    await page.locator('[data-testid=top-table] tbody td.name', { hasText: 'labelsKey' }).locator('.fn').innerText(),
    'labelsKey',
  )
  await shot('names-table')
})

test('tooltip, sandwich and diff name the function first, with its file', { skip }, async () => {
  await page.goto(kiln.url + url('&view=flame'))
  const canvas = page.locator('[data-testid=flame-canvas]').first()
  await canvas.waitFor()
  await page.waitForFunction(() => !document.querySelector('canvas[data-pending]'))
  const r = await fetch(
    `${kiln.url}/api/v1/flamegraph?type=${encodeURIComponent(TYPE)}&query=${encodeURIComponent('{service_name="names"}')}&from=${(T0 - 300) * 1000}&until=${(T0 + 900) * 1000}`,
  )
  const f = toFlame((await r.json()).flamegraph)
  const box = (await canvas.boundingBox())!
  const target = widestNamed(f, names.parse)
  const rect = layout(f, fullViewport(f, box.width, { rowHeight: 18 })).find((x) => x.node === target && x.count === 1)!
  await page.mouse.move(box.x + rect.x + 4, box.y + rect.y + 9)
  const tip = page.locator('[data-testid=tooltip]')
  await tip.waitFor()
  assert.equal(await tip.locator('.tip-name').innerText(), 'parseLabels')
  assert.equal(await tip.locator('.tip-file').innerText(), 'src/model/labels.ts:1')
  await shot('names-flame-hover')

  await page.goto(kiln.url + url(`&view=sandwich&fn=${encodeURIComponent(names.key)}`))
  await page.locator('[data-testid=sandwich-fn]').waitFor()
  assert.equal(await page.locator('[data-testid=sandwich-fn]').innerText(), displayName(names.key))
  await shot('names-sandwich')

  await page.goto(
    kiln.url + url(`&view=diff&lfrom=${(T0 - 240) * 1000}&luntil=${(T0 - 60) * 1000}&rfrom=${T0 * 1000}&runtil=${(T0 + 600) * 1000}`),
  )
  await page.locator('[data-testid=top-table] tbody tr').first().waitFor()
  const fns = await page.locator('[data-testid=top-table] tbody td.name .fn').allInnerTexts()
  assert.deepEqual(new Set(fns), new Set(Object.values(names).map((n) => nameParts(n).fn)))
  await shot('names-diff')
})
