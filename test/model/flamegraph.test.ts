import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CallTree, topTable } from '../../src/model/tree.ts'
import { flameGraph, diffFlameGraph, decodeLevels, flameGraphToFolded } from '../../src/model/flamegraph.ts'

const treeOf = (folded: string) => {
  const t = new CallTree()
  for (const line of folded.trim().split('\n')) {
    const i = line.lastIndexOf(' ')
    t.add(line.slice(0, i).split(';'), Number(line.slice(i + 1)))
  }
  return t
}

/** Draws decoded levels as ASCII art, one char per unit, to compare layouts by eye. */
function draw(levels: number[][], names: string[]): string {
  return decodeLevels(levels)
    .map((lv) => {
      let row = ''
      for (const n of lv) {
        // Two characters per unit, so that a node of total 2 still shows its name.
        row = row.padEnd(2 * n.x, ' ')
        row += '[' + names[n.name]!.padEnd(2 * n.total - 2, '/').slice(0, 2 * n.total - 2) + ']'
      }
      return row.trimEnd()
    })
    .join('\n')
}

test('levels use Pyroscope encoding: [delta, total, self, name], children by name', () => {
  const fg = flameGraph(treeOf('a;c 2\nb;d 4\na 3\nb 1\n'))
  assert.deepEqual(fg.names, ['total', 'a', 'b', 'c', 'd'])
  assert.deepEqual(fg.levels, [
    [0, 10, 0, 0],
    [0, 5, 3, 1, 0, 5, 1, 2],
    [0, 2, 2, 3, 3, 4, 4, 4],
  ])
  assert.equal(fg.total, 10)
  assert.equal(fg.maxSelf, 4)
  assert.equal(draw(fg.levels, fg.names), ['[total/////////////]', '[a///////][b///////]', '[c/]      [d/////]'].join('\n'))
})

test('levels decode back to the same folded stacks', () => {
  const folded = 'main;parse 2\nmain;parse;lex 7\nmain;run 1\nmain;run;exec;sys 11\nother;x 3\n'
  assert.equal(flameGraphToFolded(flameGraph(treeOf(folded))), folded)
})

test('max_nodes merges the smallest nodes into "other" per parent, keeping totals', () => {
  const fg = flameGraph(treeOf('m;a 50\nm;b 30\nm;c 1\nm;d 1\nm;e 1\n'), 3)
  const nodes = decodeLevels(fg.levels)
  assert.equal(nodes.flat().length - 1, 4, 'root + m, a, b + one "other"')
  const other = nodes[2]!.find((n) => fg.names[n.name] === 'other')!
  assert.equal(other.total, 3)
  assert.equal(nodes[1]![0]!.total, 83)
})

test('top table counts recursion once in total', () => {
  const rows = topTable(treeOf('main;f;f;g 4\nmain;f 1\nmain;g 2\n'))
  const byName = Object.fromEntries(rows.map((r) => [r.name, r]))
  assert.deepEqual(byName.f, { name: 'f', self: 1, total: 5 })
  assert.deepEqual(byName.g, { name: 'g', self: 6, total: 6 })
  assert.deepEqual(byName.main, { name: 'main', self: 0, total: 7 })
  assert.equal(rows[0]!.name, 'g')
})

test('deep stacks do not overflow', () => {
  const t = new CallTree()
  t.add(
    Array.from({ length: 50_000 }, (_, i) => `f${i % 7}`),
    1,
  )
  assert.equal(topTable(t).length, 7)
  assert.equal(flameGraph(t).levels.length, 50_001)
})

test('diff puts both sides on one layout as 7-tuples', () => {
  const d = diffFlameGraph(treeOf('a 2\nb 3\n'), treeOf('b 1\nc 4\n'))
  assert.equal(d.leftTicks, 5)
  assert.equal(d.rightTicks, 5)
  assert.deepEqual(d.names, ['total', 'a', 'b', 'c'])
  assert.deepEqual(d.levels[1], [0, 2, 2, 0, 0, 0, 1, 0, 3, 3, 0, 1, 1, 2, 0, 0, 0, 0, 4, 4, 3])
  const nodes = decodeLevels(d.levels, true)[1]!
  assert.deepEqual(
    nodes.map((n) => [d.names[n.name], n.x, n.total, n.rx, n.rTotal]),
    [
      ['a', 0, 2, 0, 0],
      ['b', 2, 3, 0, 1],
      ['c', 5, 0, 1, 4],
    ],
  )
})

test('wide nodes (children found by a map, not a scan) merge repeated frames and keep flame-chart order', () => {
  // 40 children under one parent, each stack added three times in a shuffled order: past the
  // handful of children found by scanning, the rest go through the per-node map.
  const lines: string[] = []
  for (let round = 0; round < 3; round++) for (let i = 0; i < 40; i++) lines.push(`main;f${(i * 7 + round * 13) % 40};leaf ${i + 1}`)
  const counts = new Map<string, number>()
  for (const l of lines) {
    const [stack, v] = l.split(' ') as [string, string]
    counts.set(stack, (counts.get(stack) ?? 0) + Number(v))
  }
  const expected = [...counts]
    .map(([s, v]) => `${s} ${v}\n`)
    .sort()
    .join('')
  const tree = treeOf(lines.join('\n'))
  assert.equal(tree.size, 1 + 1 + 40 + 40, 'root, main, 40 functions, one leaf under each')
  assert.equal(flameGraphToFolded(flameGraph(tree)), expected)
  // A flame chart keeps time order: a frame merges only with its parent's last child.
  const chart = new CallTree()
  for (const name of ['a', 'b', 'a', 'a', 'c', 'b']) chart.addInOrder(['main', name], 1)
  for (let i = 0; i < 20; i++) chart.addInOrder(['main', `g${i}`], 1)
  chart.add(['main', 'a'], 5) // merges with the latest 'a'
  const main = chart.children[1]!
  assert.deepEqual(
    main.slice(0, 5).map((n) => [chart.names[chart.name[n]!], chart.total[n]]),
    [
      ['a', 1],
      ['b', 1],
      ['a', 7],
      ['c', 1],
      ['b', 1],
    ],
  )
  assert.equal(main.length, 25)
  assert.equal(chart.total[main[2]!], 7)
  const small = new CallTree() // under a handful of children the latest one is found by scanning
  for (const name of ['a', 'b', 'a']) small.addInOrder(['m', name], 1)
  small.add(['m', 'a'], 5)
  assert.deepEqual(
    small.children[1]!.map((n) => small.total[n]),
    [1, 1, 6],
  )
})
