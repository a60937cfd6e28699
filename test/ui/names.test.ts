// Issue 15 §1: function names stay readable — the function first, its file after, in the table,
// the flame graph's labels and tooltip, the sandwich and the diff; different functions never
// show the same name.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { toFlame } from '../../ui/src/lib/flame.ts'
import { layout, fullViewport, widestNamed } from '../../ui/src/lib/layout.ts'
import { displayName, nameParts } from '../../ui/src/lib/names.ts'
import { noChromium, uiSuite, ingestFolded } from './kiln.ts'

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

const skip = noChromium
const ui = uiSuite({
  seed: async (at) => {
    await ingestFolded(at, 'names.cpu', folded + '\n', T0, T0 + 600)
    await ingestFolded(at, 'names.cpu', folded.replace(' 400', ' 700') + '\n', T0 - 240, T0 - 60)
  },
  clock: T0 + 3600,
})

test('the table shows each function first and its file after; no two functions look the same', { skip }, async () => {
  await ui.page.goto(ui.kiln.url + url(''))
  await ui.page.locator('[data-testid=top-table] tbody tr').first().waitFor()
  const cells = (await ui.page.locator('[data-testid=top-table] tbody td.name').allInnerTexts()).map((t) => t.replace('⇅', '').trim())
  assert.deepEqual(new Set(cells), new Set(Object.values(names).map(displayName)))
  assert.equal(new Set(cells).size, cells.length, 'distinct functions, distinct rows')
  assert.ok(
    cells.includes('sha app-kiln/app.mjs:5') &&
      cells.includes('symdb.(*PartitionWriter).WriteStacks github.com/grafana/pyroscope/pkg/phlaredb'),
    cells.join('\n'),
  )
  // The function is the part people read first: it is its own element, the file beside it.
  assert.equal(
    await ui.page.locator('[data-testid=top-table] tbody td.name', { hasText: 'labelsKey' }).locator('.fn').innerText(),
    'labelsKey',
  )
  await ui.shot('names-table')
})

test('tooltip, sandwich and diff name the function first, with its file', { skip }, async () => {
  await ui.page.goto(ui.kiln.url + url('&view=flame'))
  const canvas = ui.page.locator('[data-testid=flame-canvas]').first()
  await canvas.waitFor()
  await ui.page.waitForFunction(() => !document.querySelector('canvas[data-pending]'))
  const r = await fetch(
    `${ui.kiln.url}/api/v1/flamegraph?type=${encodeURIComponent(TYPE)}&query=${encodeURIComponent('{service_name="names"}')}&from=${(T0 - 300) * 1000}&until=${(T0 + 900) * 1000}`,
  )
  const f = toFlame((await r.json()).flamegraph)
  const box = (await canvas.boundingBox())!
  const target = widestNamed(f, names.parse)
  const rect = layout(f, fullViewport(f, box.width, { rowHeight: 18 })).find((x) => x.node === target && x.count === 1)!
  await ui.page.mouse.move(box.x + rect.x + 4, box.y + rect.y + 9)
  const tip = ui.page.locator('[data-testid=tooltip]')
  await tip.waitFor()
  assert.equal(await tip.locator('.tip-name').innerText(), 'parseLabels')
  assert.equal(await tip.locator('.tip-file').innerText(), 'src/model/labels.ts:1')
  await ui.shot('names-flame-hover')

  await ui.page.goto(ui.kiln.url + url(`&view=sandwich&fn=${encodeURIComponent(names.key)}`))
  await ui.page.locator('[data-testid=sandwich-fn]').waitFor()
  assert.equal(await ui.page.locator('[data-testid=sandwich-fn]').innerText(), displayName(names.key))
  await ui.shot('names-sandwich')

  await ui.page.goto(
    ui.kiln.url + url(`&view=diff&lfrom=${(T0 - 240) * 1000}&luntil=${(T0 - 60) * 1000}&rfrom=${T0 * 1000}&runtil=${(T0 + 600) * 1000}`),
  )
  await ui.page.locator('[data-testid=top-table] tbody tr').first().waitFor()
  const fns = await ui.page.locator('[data-testid=top-table] tbody td.name .fn').allInnerTexts()
  assert.deepEqual(new Set(fns), new Set(Object.values(names).map((n) => nameParts(n).fn)))
  await ui.shot('names-diff')
})
