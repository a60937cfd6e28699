// Issue 15 §7 in Chromium: what the fast flame graph paints. The frames under a block of merged
// narrow frames are painted as one block per level (no gaps), and the tooltip, whose elements are
// made once, names each frame the pointer moves to. The page paints the graph itself here (no
// OffscreenCanvas), so that the test can read the canvas' pixels; the worker paints the same.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { layout, fullViewport, widestNamed, nodeRect } from '../../ui/src/lib/layout.ts'
import { levelCount } from '../../ui/src/lib/flame.ts'
import { rgbOf } from '../../ui/src/lib/color.ts'
import { flameOf } from './helpers.ts'
import { artifacts, noChromium, uiSuite, ingestFolded } from './kiln.ts'

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0) / 1000
const skip = noChromium
// 400 frames of 2 units under `wide` (800 of 1,600 units: ~1.5 px each at ~1,250 px), each with a
// 1-unit child and 1 unit of its own: the children are ~0.8 px apart, and one merged block.
const lines = ['main;big 800']
for (let i = 0; i < 400; i++) lines.push(`main;wide;f${i};g 1`, `main;wide;f${i} 1`)
const folded = lines.join('\n') + '\n'

const ui = uiSuite({
  seed: async (at) => {
    await ingestFolded(at, 'tiny.cpu', folded, T0, T0 + 60)
  },
  init: (page) => page.addInitScript({ content: 'delete HTMLCanvasElement.prototype.transferControlToOffscreen' }),
})

/** The canvas pixel (CSS px = device px at scale 1) at x, y as [r, g, b]. */
const pixel = (x: number, y: number) =>
  ui.page.evaluate(
    ([x, y]) => [
      ...document
        .querySelector<HTMLCanvasElement>('[data-testid=flame-canvas]')!
        .getContext('2d')!
        .getImageData(x!, y!, 1, 1)
        .data.slice(0, 3),
    ],
    [x, y],
  )

test('frames under a merged block are painted as one block per level; the tooltip follows the pointer from frame to frame', {
  skip,
}, async () => {
  await ui.page.goto(`${ui.kiln.url}/?service=tiny&view=flame&from=${(T0 - 60) * 1000}&until=${(T0 + 120) * 1000}`)
  const canvas = ui.page.locator('[data-testid=flame-canvas]')
  await canvas.waitFor()
  await ui.page.waitForFunction(() => !document.querySelector('canvas[data-pending]'))
  const box = (await canvas.boundingBox())!
  const f = flameOf(folded)
  const vp = fullViewport(f, box.width, { rowHeight: 18 })
  const rects = layout(f, vp)
  assert.equal(levelCount(f), 5)
  const merged = rects.filter((r) => r.count > 1)
  assert.deepEqual(
    merged.map((r) => [r.level, r.count]),
    [
      [3, 400],
      [4, 400],
    ],
    'the 400 f frames and the 400 g frames: one block each',
  )
  const grey = rgbOf('rgb(200, 200, 208)')
  for (const r of merged) {
    // Across the whole block (its last px is the gap to the next block), every pixel is the merged fill.
    for (let k = 0; k < 40; k++) {
      const x = Math.floor(r.x + 1 + (k / 40) * (r.w - 3))
      assert.deepEqual(await pixel(x, r.y + 9), grey, `level ${r.level} at x ${x}`)
    }
  }
  await ui.page.screenshot({ path: join(artifacts, 'render-merged.png') })

  // The tooltip names each frame the pointer moves to (its elements are reused, their text is not).
  const tip = ui.page.locator('[data-testid=tooltip]')
  for (const name of ['big', 'wide', 'main']) {
    const r = nodeRect(f, vp, widestNamed(f, name))!
    await ui.page.mouse.move(box.x + r.x + r.w / 2, box.y + r.y + 9)
    await ui.page.waitForFunction((n) => document.querySelector('[data-testid=tooltip] .tip-name')?.textContent === n, name)
    assert.match(await tip.innerText(), new RegExp(`^${name}\\n[\\s\\S]*Total`))
    assert.equal(await tip.locator('.tip-file').isVisible(), false, 'no file line for a bare name')
  }
  await ui.page.screenshot({ path: join(artifacts, 'render-tooltip.png') })
})
