import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeFolded, decodeLines, encodeFolded } from '../../src/formats/folded.ts'
import { toFolded, type Profile } from '../../src/model/profile.ts'

const enc = (s: string) => new TextEncoder().encode(s)
const folded = (s: string): Profile => decodeFolded(enc(s))!

test('groups: CRLF, blank lines, spaces in names, merged and sorted', () => {
  const p = folded('main;handle request;parse 3\r\n\r\n  \nmain;idle 2\nmain;handle request;parse 4 \n')
  assert.equal(toFolded(p), 'main;handle request;parse 7\nmain;idle 2\n')
  assert.deepEqual(p.sampleTypes, [{ type: 'samples', unit: 'count' }])
  assert.equal(toFolded(folded('a;b c d 5')), 'a;b c d 5\n', 'the count is after the last space')
  assert.equal(toFolded(folded('a 1.5\n')), 'a 1.5\n')
})

test('empty input and one sample', () => {
  assert.equal(folded('').samples.length, 0)
  assert.equal(folded('\r\n\n').samples.length, 0)
  const one = folded('only 1')
  assert.deepEqual(one.samples, [{ stack: [1], values: [1] }])
  assert.deepEqual(one.functions, ['', 'only'])
})

test('errors name the line', () => {
  const cases: [string, RegExp][] = [
    ['a 1\nb 2\na;b;c\n', /^line 3: expected a count after the stack \(no space before a count\)/],
    ['a 1\r\n\r\nx;y z\r\n', /^line 3: expected a count after the stack \(found "z"\)/],
    ['a -1\n', /^line 1: expected a count after the stack \(found "-1"\)/],
    ['a 1\n 4\n', /^line 2: the stack before the count is empty/],
  ]
  for (const [text, re] of cases) assert.throws(() => decodeFolded(enc(text)), { code: 'KILN_BAD_FOLDED', message: re }, text)
  assert.throws(() => decodeFolded(enc(`a 1\nb ${'9'.repeat(400)}\n`)), {
    code: 'KILN_BAD_PROFILE',
    message: /^line 2: sample value Infinity is not a finite number/,
  })
  assert.throws(() => decodeFolded(Uint8Array.from([0x61, 0x20, 0x31, 0x0a, 0xc3, 0x28, 0x20, 0x31])), {
    code: 'KILN_BAD_FOLDED',
    message: /not valid UTF-8/,
  })
})

test('a stack 100,000 frames deep is KILN_LIMIT with its line', () => {
  const deep = `ok 1\n${new Array(100_000).fill('f').join(';')} 1\n`
  assert.throws(() => decodeFolded(enc(deep)), { code: 'KILN_LIMIT', message: /^line 2: stack is 100000 frames deep; the limit is 4096/ })
})

test('binary is not folded: null, not an error', () => {
  assert.equal(decodeFolded(Uint8Array.from([0x0a, 0x00, 0x12])), null)
  assert.equal(decodeLines(Uint8Array.from([0x01, 0x02])), null)
})

test('lines: one stack per line, each counts 1', () => {
  const p = decodeLines(enc('main;work\r\nmain;work\n\nmain;idle with space\n'))!
  assert.equal(toFolded(p), 'main;idle with space 1\nmain;work 2\n')
})

test('encodeFolded → decodeFolded is stable and sample types are kept', () => {
  const p = decodeFolded(enc('b;c 2\na 1\nb;c 3\n'), { sampleType: { type: 'cpu', unit: 'nanoseconds' } })!
  assert.deepEqual(p.sampleTypes, [{ type: 'cpu', unit: 'nanoseconds' }])
  const once = encodeFolded(p)
  assert.deepEqual(encodeFolded(decodeFolded(once)!), once)
  assert.equal(new TextDecoder().decode(once), 'a 1\nb;c 5\n')
})
