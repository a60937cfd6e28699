/** k6/experimental/fs and k6/experimental/csv: files opened in the init context, CSV as k6 reads it. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { kilnRun, rng, workdir } from './helpers.ts'
import { csvOptions, csvRows, parseCsvRecords } from '../../src/loadtest/modules/fs/csv.ts'

test('CSV records: quotes, doubled quotes, delimiters and line breaks inside quotes, CRLF, a BOM, no final newline', () => {
  assert.deepEqual(parseCsvRecords('\ufeffa,b\r\n"x,1","say ""hi"""\n"two\nlines",\nlast,row'), [
    ['a', 'b'],
    ['x,1', 'say "hi"'],
    ['two\nlines', ''],
    ['last', 'row'],
  ])
  assert.deepEqual(parseCsvRecords('a;b;c\n', ';'), [['a', 'b', 'c']])
  assert.throws(() => parseCsvRecords('a\n"open,\n', ','), /quoted field opened on line 2 is never closed/)
  assert.throws(() => parseCsvRecords('a', '"'), /delimiter must be one character/)
})

test("CSV rows under k6's options: skipFirstLine, fromLine/toLine, asObjects; bad options are named", () => {
  const text = 'name,age\nada,36\nbob,41\ncy,29\n'
  const rows = (o: Record<string, unknown>) => csvRows(text, csvOptions(o))
  assert.deepEqual(rows({}), [
    ['name', 'age'],
    ['ada', '36'],
    ['bob', '41'],
    ['cy', '29'],
  ])
  assert.deepEqual(rows({ skipFirstLine: true }), [
    ['ada', '36'],
    ['bob', '41'],
    ['cy', '29'],
  ])
  assert.deepEqual(rows({ fromLine: 2, toLine: 3 }), [
    ['bob', '41'],
    ['cy', '29'],
  ])
  assert.deepEqual(rows({ asObjects: true }), [
    { name: 'ada', age: '36' },
    { name: 'bob', age: '41' },
    { name: 'cy', age: '29' },
  ])
  assert.throws(() => csvOptions({ fromLine: -1 }), /fromLine must be a whole number/)
})

test('CSV fuzz: written records parse back the same; mutated text parses or throws an Error, never anything else', () => {
  const rand = rng(7)
  const alphabet = ['a', 'b', ',', '"', '\n', '\r', ' ', 'é', ';']
  const pick = (n: number) => Math.floor(rand() * n)
  for (let k = 0; k < 2000; k++) {
    const records = Array.from({ length: 1 + pick(4) }, () =>
      Array.from({ length: 1 + pick(4) }, () => Array.from({ length: pick(6) }, () => alphabet[pick(alphabet.length)]).join('')),
    )
    // A record of one empty field is an empty line, which writers do not produce for data.
    const kept = records.filter((r) => !(r.length === 1 && r[0] === ''))
    const text = kept.map((r) => r.map((f) => `"${f.replace(/"/g, '""')}"`).join(',')).join(k % 2 ? '\r\n' : '\n')
    assert.deepEqual(parseCsvRecords(text), kept, JSON.stringify(text))
    const chars = [...text]
    for (let m = 0; m < 3; m++) chars.splice(pick(chars.length + 1), pick(2), alphabet[pick(alphabet.length)]!)
    try {
      const out = parseCsvRecords(chars.join(''))
      assert.ok(out.every((r) => r.every((f) => typeof f === 'string')))
    } catch (e) {
      assert.ok(e instanceof Error && /^csv: /.test(e.message), String(e))
    }
  }
})

test('a k6 script reads a file with fs.open/read/seek/stat and CSV with csv.parse and csv.Parser, in every VU', async () => {
  const dir = workdir({
    'data.csv': 'user,pass\nada,a1\nbob,b2\ncy,c3\n',
    'script.js': `import { open, SeekMode } from 'k6/experimental/fs'
import csv from 'k6/experimental/csv'
import { check } from 'k6'
// per-vu-iterations: shared iterations need not split 2-2-2 between the VUs.
export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 3, iterations: 2 } } }
const file = await open('data.csv')
const all = await csv.parse(file, { asObjects: true })
const parser = new csv.Parser(file, { skipFirstLine: true })
export default async function () {
  const info = await file.stat()
  await file.seek(0, SeekMode.Start)
  const head = new Uint8Array(4)
  const n = await file.read(head)
  await file.seek(-3, SeekMode.End)
  const tail = new Uint8Array(10)
  const m = await file.read(tail)
  const eof = await file.read(tail)
  const row = await parser.next()
  let frozen = false
  try { all[0].user = 'x' } catch (e) { frozen = true }
  let readOnlyInVu = ''
  try { await open('data.csv') } catch (e) { readOnlyInVu = String(e) }
  console.log('ROW ' + __VU + ' ' + JSON.stringify(row))
  check(null, {
    stat: () => info.name === 'data.csv' && info.size === 30,
    read: () => n === 4 && String.fromCharCode(...head) === 'user',
    'read to the end, then null': () => m === 3 && String.fromCharCode(tail[0], tail[1]) === 'c3' && eof === null,
    'parse as objects': () => all.length === 3 && all[1].user === 'bob' && all[2].pass === 'c3' && frozen,
    'fs.open only in the init context': () => /init context/.test(readOnlyInVu),
  })
}`,
  })
  const r = await kilnRun(['run', '-q', '--summary-export', 's.json', 'script.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  const sum = JSON.parse(readFileSync(join(dir, 's.json'), 'utf8'))
  assert.equal(sum.metrics.checks.fails, 0, r.stderr)
  assert.equal(sum.metrics.checks.passes, 30)
  // Each VU has its own Parser: its first two iterations read ada then bob.
  const rows = [...r.stderr.matchAll(/ROW (\d) (\{.*?\})\s/g)].map((m) => [m[1], JSON.parse(m[2]!)] as const)
  assert.equal(rows.length, 6, r.stderr)
  for (const vu of ['1', '2', '3']) {
    assert.deepEqual(
      rows.filter(([v]) => v === vu).map(([, x]) => x.value),
      [
        ['ada', 'a1'],
        ['bob', 'b2'],
      ],
      `VU ${vu}`,
    )
  }
})
