import { test } from 'node:test'
import assert from 'node:assert/strict'
import { layout, fullViewport, zoomTo, hitTest, search, widestNamed, graphHeight, nodeRect } from '../../ui/src/lib/layout.ts'
import { pathOf, nodeByPath } from '../../ui/src/lib/flame.ts'
import { flameOf, drawRects } from './helpers.ts'

// 20 units over 20 px: one character per unit in the drawings.
const f = flameOf('main;parse;lex 4\nmain;parse 2\nmain;run;exec 8\nmain;run 2\nidle 4\n')

const icicle = [
  '[total/////////////]', //
  '[id][main//////////]',
  '    [pars][run/////]',
  '    [le]  [exec//]',
]

test('levels become rectangles: icicle puts the root on top, children by name, left to right', () => {
  const vp = fullViewport(f, 20, { rowHeight: 1, minWidth: 1 })
  assert.equal(drawRects(f, layout(f, vp), 20, 1), icicle.join('\n'))
  assert.equal(graphHeight(f, vp), 4)
})

test('flame orientation puts the root at the bottom', () => {
  const vp = fullViewport(f, 20, { rowHeight: 1, minWidth: 1, orientation: 'flame' })
  assert.equal(drawRects(f, layout(f, vp), 20, 1), [...icicle].reverse().join('\n'))
})

test('zooming to a frame spreads its span over the width; ancestors span it, others vanish', () => {
  const run = widestNamed(f, 'run')
  assert.deepEqual(pathOf(f, run), ['main', 'run'])
  const vp = zoomTo(f, fullViewport(f, 20, { rowHeight: 1, minWidth: 1 }), run)
  assert.equal(
    drawRects(f, layout(f, vp), 20, 1),
    [
      '[total/////////////]', //
      '[main//////////////]',
      '[run///////////////]',
      '[exec//////////]',
    ].join('\n'),
  )
})

test('frames under minWidth px merge with narrow neighbours into one block', () => {
  // 100 one-unit leaves under "wide" (100) next to "big" (100): at 20 px each leaf is 0.1 px.
  const lines = ['big 100']
  for (let i = 0; i < 100; i++) lines.push(`wide;f${String(i).padStart(3, '0')} 1`)
  const g = flameOf(lines.join('\n'))
  const rects = layout(g, fullViewport(g, 20, { rowHeight: 1, minWidth: 2 }))
  assert.equal(drawRects(g, rects, 20, 1), ['[total/////////////]', '[big/////][wide////]', '          [~~~~~~~~]'].join('\n'))
  const merged = rects.find((r) => r.count > 1)!
  assert.equal(merged.count, 100)
  assert.equal(rects.length, 4, 'four blocks drawn for 103 frames')
})

test('the frames under a merged block become one block per level, counted, without gaps', () => {
  // Five 2 px frames under "wide" (under minWidth 3: merged); each has a 1 px child and 1 px of its own.
  const lines = ['big 10']
  for (let i = 0; i < 5; i++) lines.push(`wide;f${i};g 1`, `wide;f${i} 1`)
  const g = flameOf(lines.join('\n'))
  const rects = layout(g, fullViewport(g, 20, { rowHeight: 1, minWidth: 3 }))
  assert.equal(
    drawRects(g, rects, 20, 1),
    ['[total/////////////]', '[big/////][wide////]', '          [~~~~~~~~]', '          [~~~~~~~]'].join('\n'),
  )
  assert.deepEqual(
    rects.filter((r) => r.count > 1).map((r) => [r.level, r.count]),
    [
      [2, 5],
      [3, 5],
    ],
  )
  // Zoomed to one of them, the same frames are drawn one by one.
  const zoomed = layout(g, zoomTo(g, fullViewport(g, 20, { rowHeight: 1, minWidth: 3 }), widestNamed(g, 'f0')))
  assert.equal(
    drawRects(g, zoomed, 20, 1),
    ['[total/////////////]', '[wide//////////////]', '[f0////////////////]', '[g///////]'].join('\n'),
  )
})

test('a pixel maps to the frame under it in both orientations, and to nothing outside', () => {
  const ice = fullViewport(f, 20, { rowHeight: 10, minWidth: 1 })
  const name = (i: number) => (i < 0 ? null : f.names[f.name[i]!])
  assert.equal(name(hitTest(f, ice, 0, 5)), 'total')
  assert.equal(name(hitTest(f, ice, 2, 15)), 'idle')
  assert.equal(name(hitTest(f, ice, 4, 15)), 'main', 'the left edge belongs to the frame that starts there')
  assert.equal(name(hitTest(f, ice, 9, 25)), 'parse')
  assert.equal(name(hitTest(f, ice, 10, 25)), 'run')
  assert.equal(name(hitTest(f, ice, 9, 35)), null, 'gap between lex and exec')
  assert.equal(name(hitTest(f, ice, 12, 39)), 'exec')
  assert.equal(hitTest(f, ice, 12, 41), -1, 'below the deepest level')
  assert.equal(hitTest(f, ice, 25, 5), -1, 'right of the graph')
  const fl = { ...ice, orientation: 'flame' as const }
  assert.equal(name(hitTest(f, fl, 12, 5)), 'exec')
  assert.equal(name(hitTest(f, fl, 12, 35)), 'total')
  const zoomed = zoomTo(f, ice, widestNamed(f, 'run'))
  assert.equal(name(hitTest(f, zoomed, 19, 35)), null, 'exec ends at 16 of 20 px once zoomed')
  assert.equal(name(hitTest(f, zoomed, 15, 35)), 'exec')
})

test('regex search marks matching frames and counts nested matches once in the share', () => {
  const m = search(f, /^(main|run)$/)
  assert.equal(m.count, 2)
  assert.equal(m.value, 16, 'run is inside main')
  assert.equal(m.share, 16 / 20)
  assert.equal(search(f, /e/).count, 4, 'idle, parse, lex, exec (the root never matches)')
  assert.equal(search(f, /nothing/).share, 0)
})

test('a zoom path (stack of names) finds its frame again, or -1 once the frame is gone', () => {
  for (let i = 0; i < f.level.length; i++) assert.equal(nodeByPath(f, pathOf(f, i)), i)
  assert.equal(nodeByPath(f, ['main', 'nope']), -1)
  assert.equal(nodeByPath(f, ['main', 'run', 'exec', 'deeper']), -1)
})

test('a frame drawn on its own has the rectangle the layout gives it; a merged or hidden one has none', () => {
  const vp = fullViewport(f, 20, { rowHeight: 10, minWidth: 1 })
  for (const r of layout(f, vp)) {
    if (r.count !== 1) continue
    const n = nodeRect(f, vp, r.node)!
    assert.deepEqual([n.x, n.y, n.w], [r.x, r.y, r.w], f.names[f.name[r.node]!])
  }
  const zoomed = zoomTo(f, vp, widestNamed(f, 'run'))
  assert.equal(nodeRect(f, zoomed, widestNamed(f, 'idle')), null, 'outside the zoomed span')
  assert.equal(nodeRect(f, { ...vp, minWidth: 5 }, widestNamed(f, 'lex')), null, 'narrower than minWidth: merged')
})
