import { test } from 'node:test'
import assert from 'node:assert/strict'
import { packageOf, frameColor, diffColor, shareChange, rgbOf } from '../../ui/src/lib/color.ts'
import { formatValue, formatPercent, formatChange, profileTypeLabel, timeText } from '../../ui/src/lib/format.ts'
import { sandwich } from '../../ui/src/lib/sandwich.ts'
import { topRows, sortRows, filterRows, rowWindow, changeText, formatPoints } from '../../ui/src/lib/top.ts'
import { toSvg, labelFor, fillBatches, fillOf } from '../../ui/src/lib/paint.ts'
import { nameParts, displayName, fitName, middleCut } from '../../ui/src/lib/names.ts'
import { layout, fullViewport, widestNamed } from '../../ui/src/lib/layout.ts'
import {
  stateToSearch,
  searchToState,
  defaultState,
  effectiveQuery,
  withMatcher,
  userLabels,
  diffSides,
  resolveTime,
} from '../../ui/src/lib/viewstate.ts'
import { toFlame, nodeCount } from '../../ui/src/lib/flame.ts'
import { completionAt, applyCompletion, rankSuggestions } from '../../ui/src/lib/complete.ts'
import { defaultType, typeGroups } from '../../ui/src/lib/types.ts'
import { exportName, exportTitle } from '../../ui/src/lib/exportname.ts'
import { fillSeries, valueColor, seriesPath } from '../../ui/src/lib/series.ts'
import { parseTime } from '../../src/model/time.ts'
import { parseSelector } from '../../src/model/selector.ts'
import { toRunSummary, readRunSummary } from '../../src/model/run-summary.ts'
import type { KilnError } from '../../src/model/errors.ts'
import {
  runWindow,
  runFigures,
  counterRate,
  perSecond,
  compareRuns,
  formatRunChange,
  flameLink,
  diffLink,
  formatMetric,
  type RunDetail,
} from '../../ui/src/lib/runs.ts'
import { flameOf, diffOf, drawRects } from './helpers.ts'

test('functions of one package share a colour; other packages differ', () => {
  assert.equal(packageOf('github.com/acme/api/store.(*DB).Query'), 'github.com/acme/api/store')
  assert.equal(packageOf('com.acme.Server.handle'), 'com.acme.Server')
  assert.equal(packageOf('std::vec::Vec::push'), 'std::vec::Vec')
  assert.equal(packageOf('app/handlers.py:get'), 'app/handlers')
  assert.equal(packageOf('main.work'), 'main')
  assert.equal(packageOf('malloc'), 'malloc')
  assert.equal(frameColor('main.work', 'light'), frameColor('main.parse', 'light'))
  assert.notEqual(frameColor('main.work', 'light'), frameColor('runtime.mallocgc', 'light'))
  assert.notEqual(frameColor('main.work', 'light'), frameColor('main.work', 'dark'), 'each theme has its own shade')
})

test('diff colour follows the change in share of total: red for more, green for less, grey for same', () => {
  // Baseline: f is 10 of 100 (10%); comparison: 40 of 200 (20%): its share doubled.
  assert.equal(shareChange(10, 40, 100, 200), 1)
  assert.equal(shareChange(10, 10, 100, 200), -0.5)
  assert.equal(shareChange(10, 20, 100, 200), 0, 'same share although the value doubled')
  assert.equal(shareChange(0, 5, 100, 200), Infinity)
  assert.equal(shareChange(5, 0, 100, 200), -1)
  const [r1, g1, b1] = rgbOf(diffColor(1, 'light'))
  assert.ok(r1 > 200 && g1 < 80 && b1 < 80, 'full red at +100%')
  const [r2, g2] = rgbOf(diffColor(-0.5, 'light'))
  assert.ok(g2 > r2, 'greener for less')
  const [r3, g3, b3] = rgbOf(diffColor(0, 'dark'))
  assert.ok(r3 === g3 && g3 < b3 + 10, 'neutral grey when unchanged')
  const half = rgbOf(diffColor(0.5, 'light'))
  assert.ok(half[0] > r3 && half[1] < rgbOf(diffColor(0, 'light'))[1] && half[1] > g1, 'half way in between at +50%')
})

test('values are formatted in the profile unit', () => {
  assert.equal(formatValue(1_500_000_000, 'nanoseconds'), '1.5 s')
  assert.equal(formatValue(12_340_000, 'nanoseconds'), '12.3 ms')
  assert.equal(formatValue(999, 'nanoseconds'), '999 ns')
  assert.equal(formatValue(90, 'seconds'), '1.5 min')
  assert.equal(formatValue(0, 'nanoseconds'), '0 s')
  assert.equal(formatValue(512, 'bytes'), '512 B')
  assert.equal(formatValue(1536, 'bytes'), '1.5 KiB')
  assert.equal(formatValue(5 * 1024 ** 2, 'bytes'), '5 MiB')
  assert.equal(formatValue(3.25 * 1024 ** 3, 'bytes'), '3.25 GiB')
  assert.equal(formatValue(42, 'count'), '42')
  assert.equal(formatValue(12_345, 'count'), '12.3k')
  assert.equal(formatValue(2_500_000, 'samples'), '2.5M')
  assert.equal(formatPercent(0.1234), '12.3%')
  assert.equal(formatPercent(1), '100%')
  assert.equal(formatPercent(0.0042), '0.42%')
  assert.equal(formatPercent(0.00001), '<0.01%')
  assert.equal(formatChange(0.5), '+50%')
  assert.equal(formatChange(-0.25), '-25%')
  assert.equal(formatChange(Infinity), 'new')
  assert.equal(formatChange(-1), 'gone')
  assert.equal(profileTypeLabel('process_cpu:cpu:nanoseconds:cpu:nanoseconds'), 'process_cpu · cpu (nanoseconds)')
})

test('sandwich: callers inverted above the function, callees merged below, recursion once', () => {
  const f = flameOf('main;a;work;x 3\nmain;b;work;y 2\nmain;b;work 1\nmain;work;work;x 4\nidle 5\n')
  const { callers, callees } = sandwich(f, 'work')
  const icicle = (g: typeof f) => drawRects(g, layout(g, fullViewport(g, 20, { rowHeight: 1, minWidth: 1 })), 20, 1)
  // work's total: 3 + 3 + 4 (the recursive call under main;work counts once) = 10 → 2 px per unit.
  assert.equal(callers.rootTotal, 10)
  assert.equal(callers.names[callers.name[0]!], 'work', 'no synthetic "total" above the function')
  assert.notEqual(
    fillOf(callers, { node: 0, count: 1, level: 0, x: 0, y: 0, w: 20 }, { theme: 'light' }),
    fillOf(f, { node: 0, count: 1, level: 0, x: 0, y: 0, w: 20 }, { theme: 'light' }),
    'the root is coloured as a function, not as "total"',
  )
  assert.equal(
    icicle(callers),
    [
      '[work//////////////]', //
      '[a///][b///][main//]',
      '[main][main]',
    ].join('\n'),
  )
  assert.equal(
    icicle(callees),
    [
      '[work//////////////]', //
      '[work//][x///][y/]',
      '[x/////]',
    ].join('\n'),
  )
})

test('top table from the flame graph; a diff carries both sides and the change; sort and filter', () => {
  const rows = topRows(flameOf('main;parse 2\nmain;run;exec 8\nmain;run 2\n'))
  assert.deepEqual(rows[0], { name: 'exec', self: 8, total: 8 })
  assert.deepEqual(
    rows.find((r) => r.name === 'main'),
    { name: 'main', self: 0, total: 12 },
  )
  assert.deepEqual(
    sortRows(rows, 'total', 'desc').map((r) => r.name),
    ['main', 'run', 'exec', 'parse'],
  )
  assert.deepEqual(
    sortRows(rows, 'name', 'asc').map((r) => r.name),
    ['exec', 'main', 'parse', 'run'],
  )
  assert.deepEqual(
    filterRows(rows, 'R').map((r) => r.name),
    ['run', 'parse'],
    'keeps the order it is given',
  )
  const d = topRows(diffOf('main;a 5\nmain;b 5\n', 'main;a 15\nmain;b 5\nmain;c 20\n'))
  const a = d.find((r) => r.name === 'a')!
  assert.deepEqual(a.left, { self: 5, total: 5 })
  assert.deepEqual(a.right, { self: 15, total: 15 })
  assert.equal(a.change, 15 / 40 / 0.5 - 1)
  assert.equal(d.find((r) => r.name === 'c')!.change, Infinity)
  assert.equal(d.find((r) => r.name === 'b')!.change, 5 / 40 / 0.5 - 1)
  assert.deepEqual(
    sortRows(d, 'rtotal', 'desc')
      .map((r) => r.name)
      .slice(0, 2),
    ['main', 'c'],
  )
  assert.deepEqual(sortRows(d, 'ltotal', 'asc').map((r) => r.name)[0], 'c', 'absent on the left: 0')
})

test("the diff table compares what the diff flame graph colours: each function's share of total", () => {
  // a's self share falls (50% → 10%) while its total share stays 100%: the frame is grey, so is the row.
  const g = diffOf('main;a 5\nmain;a;k 5\n', 'main;a 2\nmain;a;k 18\n')
  const rows = topRows(g)
  const d = g.diff!
  for (const name of ['main', 'a', 'k']) {
    const i = widestNamed(g, name)
    assert.equal(rows.find((r) => r.name === name)!.change, shareChange(d.lTotal[i]!, d.rTotal[i]!, d.leftTicks, d.rightTicks), name)
    assert.equal(
      fillOf(g, { node: i, count: 1, level: 0, x: 0, y: 0, w: 9 }, { theme: 'light' }),
      diffColor(rows.find((r) => r.name === name)!.change!, 'light'),
    )
  }
  assert.equal(rows.find((r) => r.name === 'a')!.change, 0)
  assert.deepEqual(rows.find((r) => r.name === 'a')!.left, { self: 5, total: 10 })
})

test('a diff flame graph draws both sides on one layout', () => {
  const f = diffOf('main;a 5\nmain;b 5\n', 'main;a 5\nmain;b 5\n')
  assert.equal(f.rootTotal, 20)
  assert.equal(f.total[widestNamed(f, 'a')], 10)
  assert.equal(f.diff!.lTotal[widestNamed(f, 'a')], 5)
})

test('the SVG export draws every block with a title and escapes names', () => {
  const f = flameOf('main;<lambda>&co 3\nmain;b 1\n')
  const vp = fullViewport(f, 400)
  const svg = toSvg(f, layout(f, vp), { width: 400, height: 54, rowHeight: 18 }, { theme: 'light' })
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="400" height="54"/)
  assert.equal(svg.match(/<rect /g)!.length, 1 + 4)
  assert.ok(svg.includes('<title>&lt;lambda&gt;&amp;co</title>'))
  assert.ok(!svg.includes('<lambda>'))
})

test('the URL holds the whole view and reads back the same; junk falls back to defaults', () => {
  const s = {
    ...defaultState,
    service: 'api',
    type: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds',
    query: '{env="prod"}',
    from: '1700000000000',
    view: 'diff' as const,
    search: 'a|b',
    zoom: 'main;run',
  }
  const q = stateToSearch(s)
  assert.ok(!q.includes('orientation'), 'defaults are left out')
  assert.deepEqual(searchToState(q), s)
  assert.equal(stateToSearch(defaultState), '')
  const junk = searchToState('?view=nope&orientation=sideways&bogus=1&search=%E2%9C%93')
  assert.equal(junk.view, 'both')
  assert.equal(junk.orientation, 'icicle')
  assert.equal(junk.search, '✓')
  assert.equal(effectiveQuery('api', '{env="prod"}'), '{service_name="api", env="prod"}')
  assert.equal(effectiveQuery('', '{}'), '{}')
  assert.equal(effectiveQuery('api', ''), '{service_name="api"}')
})

test('fuzz: random level arrays decode into a consistent flame graph or nothing, never a crash or hang', () => {
  let seed = 7
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  for (let k = 0; k < 500; k++) {
    const levels: number[][] = []
    for (let d = rnd(6); d >= 0; d--) levels.push(Array.from({ length: rnd(5) * 4 + rnd(2) }, () => rnd(20) - 2))
    const f = toFlame({ names: ['total', 'a', 'b'], levels, total: 10, maxSelf: 1 })
    for (let i = 0; i < nodeCount(f); i++) assert.ok(f.parent[i]! < i, 'parents come before children')
    const rects = layout(f, fullViewport(f, 100))
    assert.ok(rects.length <= nodeCount(f))
    for (let x = 0; x < 100; x += 7) for (let y = 0; y < 120; y += 9) void searchFrame(f, x, y)
  }
  function searchFrame(f: ReturnType<typeof toFlame>, x: number, y: number) {
    return layout(f, { ...fullViewport(f, 100), x0: x, x1: x + y + 1 })
  }
})

test('selector completion knows whether the caret is on a label name or a value', () => {
  assert.deepEqual(completionAt('{', 1), { kind: 'name', prefix: '', start: 1, end: 1 })
  assert.deepEqual(completionAt('{env="prod", reg', 16), { kind: 'name', prefix: 'reg', start: 13, end: 16 })
  assert.deepEqual(completionAt('{env="pr', 8), { kind: 'value', name: 'env', prefix: 'pr', start: 6, end: 8 })
  assert.deepEqual(completionAt('{env=~"a|b"}', 10), { kind: 'value', name: 'env', prefix: 'a|b', start: 7, end: 10 })
  assert.equal(completionAt('{env="a b', 8)?.kind, 'value')
  assert.equal(completionAt('{env="x", y="a,b', 15)?.kind, 'value', 'a comma inside quotes is a value')
  let r = applyCompletion('{reg', completionAt('{reg', 4)!, 'region')
  assert.deepEqual(r, { text: '{region="', caret: 9 })
  r = applyCompletion(r.text, completionAt(r.text, r.caret)!, 'eu-"west"')
  assert.equal(r.text, '{region="eu-\\"west\\""}')
  assert.doesNotThrow(() => parseSelector(r.text))
  assert.deepEqual(applyCompletion('{a="x", b="y"}', completionAt('{a="x", b="y"}', 5)!, 'zz'), { text: '{a="zz", b="y"}', caret: 7 })
})

test('a label explorer click adds a matcher to the selector', () => {
  assert.equal(withMatcher('{}', 'pod', 'a-1'), '{pod="a-1"}')
  assert.equal(withMatcher('{env="prod"}', 'pod', 'a"1'), '{env="prod", pod="a\\"1"}')
  assert.deepEqual(parseSelector(withMatcher('{env="prod"}', 'pod', 'a"1')).matchers[1], { name: 'pod', op: '=', value: 'a"1' })
})

test('internal labels and the chosen service are not offered for exploring or grouping', () => {
  assert.deepEqual(userLabels(['__name__', 'env', 'region', 'service_name'], 'shop'), ['env', 'region'])
  assert.deepEqual(userLabels(['env', 'service_name'], ''), ['env', 'service_name'])
})

test('timeline series get zeros where the store had no samples; times from drag-to-zoom read as ISO', () => {
  assert.deepEqual(
    fillSeries(
      [
        [20_000, 5],
        [50_000, 7],
      ],
      0,
      60_000,
      10_000,
    ),
    [
      [0, 0],
      [10_000, 0],
      [20_000, 5],
      [30_000, 0],
      [40_000, 0],
      [50_000, 7],
    ],
  )
  assert.deepEqual(fillSeries([[25_000, 1]], 0, 30_000, 0), [[25_000, 1]], 'no step: points as sent')
  assert.equal(timeText('1767261600000'), '2026-01-01T10:00Z')
  assert.equal(timeText('1767261601000'), '2026-01-01T10:00:01Z')
  assert.equal(timeText('now-1h'), 'now-1h')
  assert.equal(parseTime(timeText('1767261600000')), 1767261600000, 'the shown text reads back as the same time')
})

test('a label value keeps its colour wherever it is listed', () => {
  assert.equal(valueColor(['prod', 'staging'], 'staging'), valueColor(['staging', 'prod', 'prod'], 'staging'))
  assert.notEqual(valueColor(['prod', 'staging'], 'prod'), valueColor(['prod', 'staging'], 'staging'))
})

test('fuzz: selector completion and URL state take any text without throwing or hanging', () => {
  let seed = 11
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  const alphabet = '{}=~!",\\ ab_.z'
  for (let k = 0; k < 2000; k++) {
    const text = Array.from({ length: rnd(24) }, () => alphabet[rnd(alphabet.length)]).join('')
    const caret = rnd(text.length + 1)
    const c = completionAt(text, caret)
    if (c) {
      assert.ok(c.start <= caret && caret <= c.end && c.end <= text.length, JSON.stringify({ text, caret, c }))
      const r = applyCompletion(text, c, 'v"1')
      assert.ok(r.caret <= r.text.length)
    }
    const s = searchToState('?' + text)
    assert.ok(s.view.length > 0)
  }
})

test('frame labels put the function first and cut the file side, then the middle, never dropping the function', () => {
  const go = 'github.com/pyroscope-io/pyroscope/pkg/storage/segment.(*Segment).Get'
  const px = (chars: number) => 7 * chars + 6
  assert.equal(
    labelFor(go, 1000, 7),
    'segment.(*Segment).Get github.com/pyroscope-io/pyroscope/pkg/storage',
    'fits: function, then package',
  )
  assert.equal(labelFor(go, px(34), 7), 'segment.(*Segment).Get …/storage')
  assert.equal(labelFor(go, px(24), 7), 'segment.(*Segment).Get …')
  assert.equal(labelFor(go, px(10), 7), 'segme….Get')
  assert.equal(labelFor('java/io/File.createTempFile', px(20), 7), 'File.createTempFile…')
  assert.equal(labelFor('runtime.mallocgc', px(8), 7), 'runt…cgc')
  assert.equal(labelFor('sha app-kiln/app.mjs:5', px(30), 7), 'sha app-kiln/app.mjs:5')
  assert.equal(labelFor('sha app-kiln/app.mjs:5', px(16), 7), 'sha …/app.mjs:5')
  assert.equal(labelFor('sha app-kiln/app.mjs:5', px(9), 7), 'sha …js:5')
  assert.equal(labelFor('a/b', 7 * 2 + 6, 7), '', 'under three characters: no label')
})

test('diff rows: ordered by the size of the change in share; new and gone say their share', () => {
  // Baseline: db 30 of 100; comparison: db 50, cache 10 (new) of 100; xml 0.1 of 100 gone.
  const f = diffOf('main;db 300\nmain;other 699\nmain;xml 1', 'main;db 500\nmain;cache 100\nmain;other 400')
  const rows = sortRows(topRows(f), 'delta', 'desc')
  assert.deepEqual(
    rows.map((r) => r.name),
    ['other', 'db', 'cache', 'xml', 'main'],
  )
  const by = (n: string) => rows.find((r) => r.name === n)!
  const sides = { left: f.diff!.leftTicks, right: f.diff!.rightTicks }
  assert.equal(changeText(by('cache'), sides), 'new, 10%')
  assert.equal(changeText(by('xml'), sides), 'gone, 0.1%')
  assert.equal(changeText(by('db'), sides), '+66.7%')
  assert.equal(formatPoints(by('db').delta!), '+20 pp')
  assert.equal(formatPoints(by('xml').delta!), '-0.1 pp')
  assert.equal(formatPoints(0), '±0 pp')
})

test('names split into function and file; whole display names of different functions differ', () => {
  const cases: [string, string, string][] = [
    ['sha app-kiln/app.mjs:5', 'sha', 'app-kiln/app.mjs:5'],
    ['(anonymous) model/labels.ts:1', '(anonymous)', 'model/labels.ts:1'],
    ['work (app.py:12)', 'work', 'app.py:12'],
    ['github.com/a/b/store.(*DB).Get', 'store.(*DB).Get', 'github.com/a/b'],
    ['java/io/File.read', 'File.read', 'java/io'],
    ['runtime.mallocgc', 'runtime.mallocgc', ''],
    ['Object.<anonymous> x', 'Object.<anonymous> x', ''],
    ['(program)', '(program)', ''],
  ]
  for (const [name, fn, file] of cases) assert.deepEqual(nameParts(name), { fn, file }, name)
  // The case: three functions in labels.ts, all shown as `labels.ts:1` before.
  const names = [
    'parseLabels src/model/labels.ts:1',
    'labelsKey src/model/labels.ts:1',
    '(anonymous) src/model/labels.ts:1',
    'a/store.Get',
    'b/store.Get',
  ]
  assert.equal(new Set(names.map(displayName)).size, names.length)
  assert.equal(displayName(names[0]!), 'parseLabels src/model/labels.ts:1')
  assert.equal(middleCut('processTicksAndRejections', 9), 'proc…ions')
  // Any width: a label is the whole display name or carries an ellipsis, and starts with the function's start.
  for (const n of names)
    for (let fit = 3; fit < 40; fit++) {
      const l = fitName(n, fit)
      assert.ok(l.length <= fit, `${n} @${fit}: ${l}`)
      assert.ok(l === displayName(n) || l.includes('…'), `${n} @${fit}: ${l}`)
      assert.ok(l.startsWith(nameParts(n).fn.slice(0, 1)), `${n} @${fit}: ${l}`)
    }
})

test('a diff without sides in the URL compares the range with the same length before it, with the main selector', () => {
  const s = { ...defaultState, query: '{env="prod"}' }
  assert.deepEqual(diffSides(s, { from: 3000, until: 5000 }), {
    lq: '{env="prod"}',
    rq: '{env="prod"}',
    lfrom: '1000',
    luntil: '3000',
    rfrom: '3000',
    runtil: '5000',
  })
  assert.equal(diffSides({ ...s, rquery: '{env="stage"}', lfrom: 'now-2h' }, { from: 0, until: 10 }).rq, '{env="stage"}')
  assert.equal(diffSides({ ...s, rquery: '{env="stage"}', lfrom: 'now-2h' }, { from: 0, until: 10 }).lfrom, 'now-2h')
})

test('blocks are batched by fill and fading, each block exactly once', () => {
  const fills = ['red', 'blue', 'red', 'red', 'blue']
  const b = fillBatches(fills, (k) => k === 3)
  assert.deepEqual(b, [
    { fill: 'red', faded: false, blocks: [0, 2] },
    { fill: 'blue', faded: false, blocks: [1, 4] },
    { fill: 'red', faded: true, blocks: [3] },
  ])
  assert.deepEqual(
    fillBatches([], () => false),
    [],
  )
})

test('relative times are resolved against the given clock for the API; others go as typed', () => {
  const now = Date.UTC(2026, 0, 1, 12)
  assert.equal(resolveTime('now-1h', now), String(now - 3_600_000))
  assert.equal(resolveTime('now', now), String(now))
  assert.equal(resolveTime('2026-01-01T10:00Z', now), '2026-01-01T10:00Z')
  assert.equal(resolveTime('1767261600000', now), '1767261600000')
  assert.equal(resolveTime('now-bogus', now), 'now-bogus', 'unreadable: the server reports it')
  assert.equal(searchToState('?refresh=30s').refresh, '30s')
})

test('the table window covers the rows in view plus overscan, clamped to the rows there are', () => {
  assert.deepEqual(rowWindow({ scrollTop: 0, height: 240, rowHeight: 24, count: 1000, overscan: 5 }), [0, 15])
  assert.deepEqual(rowWindow({ scrollTop: 2400, height: 240, rowHeight: 24, count: 1000, overscan: 5 }), [95, 115])
  assert.deepEqual(rowWindow({ scrollTop: 24_000, height: 240, rowHeight: 24, count: 1000, overscan: 5 }), [995, 1000])
  assert.deepEqual(rowWindow({ scrollTop: 0, height: 240, rowHeight: 24, count: 0, overscan: 5 }), [0, 0])
  assert.deepEqual(rowWindow({ scrollTop: 99_999, height: 240, rowHeight: 24, count: 3, overscan: 5 }), [3, 3])
})

test('runs: figures, per-second series, comparison direction and the flame graph link of a run', () => {
  const p = (metric: string, type: string, t: number, count: number, sum: number, min: number, max: number) => ({
    metric,
    type,
    t,
    count,
    sum,
    min,
    max,
  })
  const points = [
    p('http_reqs', 'counter', 2000, 4, 4, 1, 1),
    p('http_reqs', 'counter', 1000, 2, 2, 1, 1),
    p('http_req_duration', 'trend', 1000, 2, 30, 10, 20),
    p('checks', 'rate', 1000, 4, 3, 0, 1),
  ]
  const m = (type: string, count: number, sum: number, min: number, max: number) => ({
    type,
    count,
    sum,
    min,
    max,
    avg: count ? sum / count : 0,
  })
  const run = (id: string, reqs: number, avgMs: number, durationMs: number): RunDetail => ({
    run: {
      id,
      script: 's.js',
      tags: {},
      profile: '{service_name="api", env="prod"}',
      started: 1000,
      ended: 1000 + durationMs,
      thresholds: [{ metric: 'http_req_duration', source: 'p(95)<100', ok: false }],
    },
    metrics: {
      http_reqs: m('counter', reqs, reqs, 1, 1),
      http_req_duration: m('trend', reqs, reqs * avgMs, 1, 50),
      vus: m('gauge', 3, 6, 1, 3),
      checks: m('rate', 4, 3, 0, 1),
    },
    points,
    profile: {
      query: '{service_name="api", env="prod"}',
      from: 0,
      until: 1000 + durationMs,
      types: ['memory:alloc_space:bytes:space:bytes', 'process_cpu:cpu:nanoseconds:cpu:nanoseconds'],
    },
  })
  const a = run('a', 10, 20, 2000)
  assert.deepEqual(runFigures(a), {
    durationMs: 2000,
    vus: 3,
    requests: 10,
    rps: 5,
    avgMs: 20,
    p95Ms: null,
    maxMs: 50,
    failedChecks: 1,
    failedThresholds: ['http_req_duration: p(95)<100'],
  })
  assert.deepEqual(
    perSecond([...points, { ...points[2]!, t: 2000, p95: 19 }], 'http_req_duration', 'p95'),
    [[2000, 19]],
    'seconds without a p95 are left out',
  )
  assert.deepEqual(
    perSecond(points, 'http_reqs', 'sum'),
    [
      [1000, 2],
      [2000, 4],
    ],
    'in time order',
  )
  assert.deepEqual(perSecond(points, 'http_req_duration', 'avg'), [[1000, 15]])
  assert.deepEqual(perSecond(points, 'checks', 'rate'), [[1000, 0.75]])
  const b = run('b', 30, 10, 2000)
  b.metrics.http_req_duration!.p95 = 40
  const rows = compareRuns(a, b)
  assert.deepEqual(
    rows.map((r) => `${r.metric} ${r.stat}`),
    ['http_reqs per second', 'http_req_duration avg', 'http_req_duration p95', 'checks share', 'vus max'],
  )
  const p95 = rows.find((r) => r.stat === 'p95')!
  assert.deepEqual([p95.a, p95.b, p95.change], [null, 40, null], 'a p95 only one run stored: no change')
  const by = (n: string) => rows.find((r) => r.metric === n)!
  assert.deepEqual(
    [by('http_reqs').a, by('http_reqs').b, by('http_reqs').change, by('http_reqs').better],
    [5, 15, 2, true],
    'counters per second; more throughput is better',
  )
  assert.deepEqual([by('http_req_duration').change, by('http_req_duration').better], [-0.5, true], 'lower latency is better')
  assert.equal(by('vus').better, null, 'VUs are neither')
  assert.equal(formatRunChange(null), '—')
  const s = searchToState(flameLink(a.profile!))
  assert.deepEqual(
    [s.service, s.query, s.type, s.from, s.until],
    ['api', '{env="prod"}', 'process_cpu:cpu:nanoseconds:cpu:nanoseconds', '0', '3000'],
  )
  const other = {
    ...a.profile!,
    query: '{service_name="api", env="canary"}',
    from: 5000,
    until: 9000,
    types: ['process_cpu:cpu:nanoseconds:cpu:nanoseconds'],
  }
  const d = searchToState(diffLink(a.profile, other)!)
  assert.deepEqual(
    [d.view, d.service, d.type, d.lquery, d.lfrom, d.luntil, d.rquery, d.rfrom, d.runtil, d.from, d.until],
    [
      'diff',
      'api',
      'process_cpu:cpu:nanoseconds:cpu:nanoseconds',
      '{env="prod"}',
      '0',
      '3000',
      '{env="canary"}',
      '5000',
      '9000',
      '0',
      '9000',
    ],
  )
  assert.equal(diffLink(a.profile, { ...other, query: '{service_name="web"}' }), null, 'two services: no diff')
  assert.equal(diffLink(a.profile, null), null)
  assert.equal(
    searchToState(diffLink(a.profile, { ...other, types: ['memory:alloc_space:bytes:space:bytes'] })!).type,
    'memory:alloc_space:bytes:space:bytes',
    'a type both runs have',
  )
  assert.equal(diffLink(a.profile, { ...other, types: ['goroutine:goroutine:count::'] }), null, 'no type in common: no diff')
  assert.equal(formatMetric(0.5, 'checks', 'rate'), '50%')
  assert.equal(formatMetric(2048, 'data_received', 'counter'), '2.0 kB')
  assert.equal(formatMetric(1.5, 'http_req_duration', 'trend'), '1.5 ms')
})

test('series paths: lines through the points, or steps that hold each value for its second', () => {
  const pts: [number, number][] = [
    [0, 1],
    [1000, 3],
  ]
  const x = (t: number) => t / 100
  const y = (v: number) => 10 - v
  assert.deepEqual(seriesPath(pts, x, y), { d: 'M0.0,9.0L10.0,7.0', x0: 0, x1: 10 })
  assert.deepEqual(seriesPath(pts, x, y, 1000), { d: 'M0.0,9.0L10.0,9.0L10.0,7.0L20.0,7.0', x0: 0, x1: 20 })
  assert.equal(seriesPath([], x, y, 1000).d, '')
})

test('selector suggestions: prefix matches first, then word starts, then any match', () => {
  const names = ['pyroscope_spy', 'service_name', 'route', 'http_route', 'region', 'env']
  assert.deepEqual(rankSuggestions(names, 'ro'), ['route', 'http_route', 'pyroscope_spy'])
  assert.deepEqual(rankSuggestions(names, 'RE'), ['region'])
  assert.deepEqual(rankSuggestions(names, 'route'), ['http_route'], 'the exact text is not suggested')
  assert.equal(rankSuggestions(names, '').length, names.length)
})

test('a service opens on CPU, then wall, then memory; the type picker groups by profile name', () => {
  const t = (id: string) => ({ id })
  const mem = t('memory:alloc_space:bytes:space:bytes')
  const wall = t('wall:wall:nanoseconds:wall:nanoseconds')
  const cpu = t('process_cpu:cpu:nanoseconds:cpu:nanoseconds')
  const goroutine = t('goroutines:goroutine:count::')
  assert.equal(defaultType([mem, goroutine, wall, cpu]), cpu)
  assert.equal(defaultType([mem, goroutine, wall]), wall)
  assert.equal(defaultType([goroutine, mem]), mem)
  assert.equal(defaultType([]), undefined)
  const g = typeGroups([mem, t('memory:inuse_space:bytes:space:bytes'), goroutine, cpu])
  assert.deepEqual(
    g.map((x) => [x.name, x.options.map((o) => o.label)]),
    [
      ['process_cpu', ['cpu (nanoseconds)']],
      ['memory', ['alloc_space (bytes)', 'inuse_space (bytes)']],
      ['goroutines', ['goroutine (count)']],
    ],
  )
})

test('exports are named and titled by service, type and range', () => {
  const at = (iso: string) => Date.parse(iso)
  const w = {
    service: 'shop',
    type: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds',
    from: at('2026-01-01T09:55:00Z'),
    until: at('2026-01-01T10:45:30Z'),
  }
  assert.equal(exportName(w), 'shop_process_cpu-cpu_20260101T0955Z-20260101T104530Z')
  assert.equal(exportTitle(w), 'shop · process_cpu · cpu (nanoseconds) · 2026-01-01T09:55Z → 2026-01-01T10:45:30Z UTC')
  const d = { ...w, baseline: [at('2026-01-01T09:00:00Z'), at('2026-01-01T09:50:00Z')] as [number, number] }
  assert.equal(exportName(d), 'shop_process_cpu-cpu_diff_20260101T0900Z-20260101T0950Z_vs_20260101T0955Z-20260101T104530Z')
  assert.match(exportTitle(d), /baseline 2026-01-01T09:00Z → 2026-01-01T09:50Z vs comparison 2026-01-01T09:55Z → /)
  assert.equal(
    exportName({ ...w, service: '', type: 'memory:alloc space:bytes::' }),
    'all_memory-alloc-space_20260101T0955Z-20260101T104530Z',
  )
  const f = flameOf('a;b 1')
  const svg = toSvg(
    f,
    layout(f, fullViewport(f, 200, { rowHeight: 18 })),
    { width: 200, height: 36, rowHeight: 18, heading: 'shop & co' },
    { theme: 'light' },
  )
  assert.match(svg, /height="60"/)
  assert.ok(svg.includes('<title>shop &amp; co</title>') && svg.includes('<g transform="translate(0,24)">'))
})

test("a run's charts span its samples; its data reads as k6 printed it", () => {
  const run = { id: 'r', script: 's.js', tags: {}, profile: '', started: 1_000_000, ended: 1_020_500, thresholds: [] }
  const pt = (t: number) => ({ metric: 'http_reqs', type: 'counter', t, count: 1, sum: 1, min: 1, max: 1 })
  const d = { run, metrics: {}, points: [pt(1_009_000), pt(1_015_000), pt(1_012_000)], profile: null } as unknown as RunDetail
  assert.deepEqual(runWindow(d), { from: 1_009_000, until: 1_016_000 }, "not from the run record's start, 9 s before the first sample")
  assert.deepEqual(runWindow({ ...d, points: [] }), { from: 1_000_000, until: 1_020_500 })
  assert.equal(formatMetric(1234, 'data_received', 'counter'), '1.2 kB')
  assert.equal(formatMetric(519_000, 'data_sent', 'counter'), '519 kB')
  assert.equal(formatMetric(8, 'data_sent', 'counter'), '8 B')
})

test("a run's duration and rates are its end-of-test summary's, as kiln run printed them", () => {
  const m = (type: string, count: number, sum: number) => ({ type, count, sum, min: 1, max: 1, avg: sum / count })
  // The record spans kiln run's start to its end (20.5 s); the summary's clock ran 18.25 s.
  const run = { id: 'r', script: 's.js', tags: {}, profile: '', started: 1_000_000, ended: 1_020_500, thresholds: [] }
  const summary = {
    durationMs: 18_250,
    metrics: {
      http_reqs: { type: 'counter', values: { count: 40, rate: 2.191780821917808 } },
      data_received: { type: 'counter', values: { count: 12_345, rate: 676.4383561643835 } },
    },
  }
  const d: RunDetail = {
    run: { ...run, summary },
    metrics: { http_reqs: m('counter', 40, 40), data_received: m('counter', 40, 12_345), vus: m('gauge', 2, 4) },
    points: [],
    profile: null,
  }
  const f = runFigures(d)
  assert.deepEqual([f.durationMs, f.requests, f.rps], [18_250, 40, 2.191780821917808])
  assert.equal(counterRate(d, 'http_reqs'), '2.191781/s')
  assert.equal(counterRate(d, 'data_received'), '676 B/s')
  assert.equal(counterRate(d, 'vus'), null, 'a gauge has no rate')
  // Without a summary (a run still going, or stopped before it printed one): the stored seconds.
  const bare: RunDetail = { ...d, run }
  assert.deepEqual([runFigures(bare).durationMs, runFigures(bare).rps], [20_500, 40 / 20.5])
  assert.equal(counterRate(bare, 'http_reqs'), `${Number((40 / 20.5).toFixed(6))}/s`)
})

test('a run summary from the wire is read field by field; bad ones are 400s naming the field', () => {
  const data = {
    metrics: { http_reqs: { type: 'counter', contains: 'default', values: { count: 3, rate: 1.5 }, thresholds: {} } },
    state: { testRunDurationMs: 2000 },
  }
  const s = toRunSummary(data)
  assert.deepEqual(s, { durationMs: 2000, metrics: { http_reqs: { type: 'counter', values: { count: 3, rate: 1.5 } } } })
  assert.deepEqual(readRunSummary(JSON.parse(JSON.stringify(s))), s)
  // NaN (a trend with no values) crosses JSON as null: left out.
  assert.deepEqual(readRunSummary({ durationMs: 1, metrics: { t: { type: 'trend', values: { avg: null, max: 2 } } } }).metrics.t!.values, {
    max: 2,
  })
  for (const [bad, field] of [
    [null, 'summary is not an object'],
    [{ durationMs: -1, metrics: {} }, 'summary.durationMs'],
    [{ durationMs: 1, metrics: [] }, 'summary.metrics is not'],
    [{ durationMs: 1, metrics: { x: { type: 'counter' } } }, 'summary.metrics["x"] has no type or values'],
    [{ durationMs: 1, metrics: { x: { type: 'counter', values: { count: '3' } } } }, 'summary.metrics["x"].values.count is not a number'],
  ] as const) {
    assert.throws(
      () => readRunSummary(bad),
      (e: KilnError) => e.code === 'KILN_BAD_REQUEST' && e.message.startsWith(field),
      JSON.stringify(bad),
    )
  }
})
