/**
 * After a clean iteration a VU calls the exported function straight through the FFI instead of
 * through the prelude's `__k6call` (engine/vu.ts direct()). What the script sees must not change:
 * `__ITER` and the setup data in every iteration, an exception as the iteration's error line, a
 * returned promise awaited (timers included), a returned value, and test.abort() — each of them
 * after clean iterations, on the main thread and on worker threads.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { kilnRun, workdir } from './helpers.ts'

const script = `import exec from 'k6/execution'
export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 2, iterations: 7 } } }
export function setup() { return { token: 'abc' } }
export default function (data) {
  const i = __ITER
  console.log('ITER ' + __VU + ' ' + i + ' ' + data.token + ' ' + exec.vu.iterationInScenario)
  if (i === 2) throw new Error('boom at ' + __VU + '/' + i)
  if (i === 4)
    return new Promise((resolve) => setTimeout(() => { console.log('ASYNC ' + __VU + ' done'); resolve() }, 20))
  if (i === 5) return { some: 'value' }
}
`

const lines = (stderr: string, word: string) =>
  stderr
    .split('\n')
    .filter((l) => l.includes(` ${word} `))
    .map((l) => l.slice(l.indexOf(` ${word} `) + 1).replace(/\s+source=console$/, ''))

for (const threads of ['0', '2']) {
  test(`every iteration sees its __ITER and the setup data; errors, promises and results as before (KILN_RUN_THREADS=${threads})`, async () => {
    const dir = workdir({ 'script.js': script })
    const r = await kilnRun(['run', '-q', '--no-summary', '--summary-export', 'sum.json', 'script.js'], {
      cwd: dir,
      env: { KILN_RUN_THREADS: threads },
    })
    assert.equal(r.code, 0, r.stderr)
    for (const vu of [1, 2]) {
      const mine = lines(r.stderr, 'ITER').filter((l) => l.startsWith(`ITER ${vu} `))
      assert.deepEqual(
        mine,
        [0, 1, 2, 3, 4, 5, 6].map((i) => `ITER ${vu} ${i} abc ${i}`),
        r.stderr,
      )
      // The error of iteration 2, with the script's location, once.
      assert.equal(r.stderr.split('\n').filter((l) => l.includes(`boom at ${vu}/2`)).length, 1, r.stderr)
      // Iteration 4's promise settled (its timer ran) before iteration 5 began.
      const all = r.stderr.split('\n')
      const asyncAt = all.findIndex((l) => l.includes(`ASYNC ${vu} done`))
      const fifthAt = all.findIndex((l) => l.includes(`ITER ${vu} 5 `))
      assert.ok(asyncAt >= 0 && asyncAt < fifthAt, r.stderr)
    }
    const { readFileSync } = await import('node:fs')
    const sum = JSON.parse(readFileSync(`${dir}/sum.json`, 'utf8'))
    assert.equal(sum.metrics.iterations.count, 14)
  })
}

test('test.abort() in an iteration after clean ones stops the run with its message (exit 108)', async () => {
  const dir = workdir({
    'script.js': `import exec from 'k6/execution'
export const options = { iterations: 5, vus: 1 }
export default function () {
  if (__ITER === 3) exec.test.abort('enough at three')
}
`,
  })
  const r = await kilnRun(['run', '-q', '--no-summary', 'script.js'], { cwd: dir, env: { KILN_RUN_THREADS: '0' } })
  assert.equal(r.code, 108, r.stderr)
  assert.match(r.stderr, /enough at three/)
})
