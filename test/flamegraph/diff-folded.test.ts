import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { kiln } from './cli.ts'
import { work } from './recordings.ts'
import { framesOf, frameNamed } from './svg.ts'

const file = (name: string, text: string) => {
  const f = join(work, name)
  writeFileSync(f, text)
  return f
}

test('diff-folded pairs stacks, 0 where missing, repeated stacks summed, byte order', () => {
  const before = file('before.folded', 'm;a 10\nm;b 5\nm;a 2\nbad line\n')
  const after = file('after.folded', 'm;b 7\nm;c 1\n')
  const r = kiln(['diff-folded', before, after])
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout, 'm;a 12 0\nm;b 5 7\nm;c 0 1\n')
})

test("diff-folded -n scales BEFORE to AFTER's total; -s merges stacks differing in hex addresses", () => {
  const before = file('b2.folded', 'm;a 10\nm;b 30\n')
  const after = file('a2.folded', 'm;a 10\nm;b 10\n')
  assert.equal(kiln(['diff-folded', '-n', before, after]).stdout, 'm;a 5 10\nm;b 15 10\n')
  const hb = file('h1.folded', 'm;[lib 0x7f00aa] 3\nm;[lib 0x7f00bb] 4\n')
  const ha = file('h2.folded', 'm;[lib 0x55cc] 1\n')
  assert.equal(kiln(['diff-folded', '-ns', hb, ha]).stdout, 'm;[lib 0x...] 1 1\n')
  assert.equal(kiln(['diff-folded', '-s', hb, ha]).stdout, 'm;[lib 0x...] 7 1\n')
})

test('diff-folded output draws a differential flame graph; stdin for one side; usage errors', () => {
  const before = file('b3.folded', 'm;grew 1\nm;shrank 9\n')
  const after = file('a3.folded', 'm;grew 9\nm;shrank 1\n')
  const d = kiln(['diff-folded', '-', after], 'm;grew 1\nm;shrank 9\n')
  assert.equal(d.stdout, kiln(['diff-folded', before, after]).stdout)
  const frames = framesOf(kiln(['flamegraph'], d.stdout).stdout)
  assert.match(frameNamed(frames, 'grew').title, /^grew \(9 samples, 90.00%; \+80.00%\)$/)
  assert.equal(kiln(['diff-folded', before]).status, 2)
  assert.equal(kiln(['diff-folded', '-', '-']).status, 2)
  const missing = kiln(['diff-folded', before, join(work, 'nope.folded')])
  assert.equal(missing.status, 1)
  assert.match(missing.stderr, /no such file/)
})
