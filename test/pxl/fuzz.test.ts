/**
 * Fuzzing: mutated and random scripts never throw anything but KILN_PXL from the compiler, and the
 * mutants that compile run on the store to rows or a KILN_PXL error, never an internal one.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { compilePxl } from '../../src/pxl/index.ts'
import { KilnError } from '../../src/model/errors.ts'
import { openFixture, type Fixture } from './helpers.ts'
import { httpRequestStats } from './scripts.ts'

let seed = 20260302
const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!

const corpus = [
  httpRequestStats,
  "import px\ndf = px.DataFrame('http_events')\ndf = df[df.ctx['namespace'] == 'production']\ndf = df.groupby(['service', 'endpoint']).agg(\n    latency_p99=('latency_ms', px.quantiles(0.99)),\n    error_rate=('resp_status', lambda x: (x >= 400).mean()),\n    rps=('time_', px.count)\n)\npx.display(df, 'http_summary')\n",
  "import px\ndf = px.DataFrame('conn_stats', start_time='-5m')\ndf.pod = df.ctx['pod']\ndf = df.groupby(['pod', 'upid', 'remote_addr']).agg(lo=('bytes_sent', px.min), hi=('bytes_sent', px.max))\ndf.sent = df.hi - df.lo\ndf.j = 1\nw = df.agg(t=('sent', px.sum))\nw.j = 1\ndf = df.merge(w, how='inner', left_on='j', right_on='j')\npx.display(df.drop(['j_x', 'j_y']))\n",
  "import px\ndef f(start: str, svc: px.Service, n: int = 3):\n    df = px.DataFrame(table='mysql_events', start_time=start)\n    df = df[px.contains(df.ctx['service'], svc) | ~(df.latency_ms < 5)]\n    df.q = px.replace('[0-9]+', df.query_text, '?')\n    return df.sort_values('latency', ascending=False).head(n)\npx.display(f('-1h', 'check'), 'slow')\n",
]
const fragments = [
  '(',
  ')',
  '[',
  ']',
  ':',
  ',',
  '.',
  '=',
  '==',
  "'",
  '"',
  '"""',
  '\n',
  '\n    ',
  'px.',
  'df',
  'lambda x:',
  ' and ',
  ' not ',
  '~',
  '&',
  '|',
  '-',
  '*',
  '/',
  '#',
  '\\',
  ';',
  'def ',
  'return ',
  '0',
  '1e999',
  '99999999999999999999',
  "'time_'",
  'px.count',
  'px.display(df)',
  'df.ctx',
  "['pod']",
  'None',
  'True',
  '.agg(',
  '.groupby(',
  '.merge(',
  '**',
]

function mutate(src: string): string {
  let s = src
  for (let k = rand() < 0.7 ? 1 : 2; k > 0; k--) {
    const at = Math.floor(rand() * (s.length + 1))
    const op = rand()
    if (op < 0.3) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rand() * 8))
    else if (op < 0.7) s = s.slice(0, at) + pick(fragments) + s.slice(at)
    else if (op < 0.85) s = s.slice(0, at)
    else {
      const lines = s.split('\n')
      const i = Math.floor(rand() * lines.length)
      const j = Math.floor(rand() * lines.length)
      ;[lines[i], lines[j]] = [lines[j]!, lines[i]!]
      s = lines.join('\n')
    }
  }
  return s
}

let f: Fixture
before(async () => (f = await openFixture()))
after(async () => f?.close())

test('2,000 mutated scripts and 500 random token strings: KILN_PXL or a compiled script, nothing else', () => {
  let compiled = 0
  const inputs = [
    ...Array.from({ length: 2000 }, () => mutate(pick(corpus))),
    ...Array.from({ length: 500 }, () => Array.from({ length: 5 + Math.floor(rand() * 40) }, () => pick(fragments)).join('')),
  ]
  for (const src of inputs) {
    try {
      compilePxl(src)
      compiled++
    } catch (e) {
      if (!(e instanceof KilnError) || e.code !== 'KILN_PXL') assert.fail(`non-PxL error ${String(e)} for:\n${src}`)
      assert.match(e.message, /^\d+:\d+: |^the script could not be compiled/, src)
    }
  }
  assert.ok(compiled > 50, `only ${compiled} mutants compiled: the corpus mutates too much to test the runner`)
})

test('mutants that compile run to rows or a KILN_PXL error', async () => {
  let ran = 0
  for (let i = 0; i < 6000 && ran < 150; i++) {
    const src = mutate(pick(corpus))
    try {
      compilePxl(src)
    } catch {
      continue
    }
    ran++
    try {
      await f.run(src)
    } catch (e) {
      if (!(e instanceof KilnError) || e.code !== 'KILN_PXL') assert.fail(`run failed with ${String(e)} for:\n${src}`)
    }
  }
  assert.ok(ran >= 50, `only ${ran} mutants compiled`)
})
