/** Unhandled promise rejections: logged as k6 logs them ("Uncaught (in promise) …"), failing that iteration only. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { kilnRun, workdir } from './helpers.ts'

test('a rejection nobody handles is an error of its iteration; handled ones (catch, await, later in the same job, Promise.all) are not', async () => {
  const dir = workdir({
    'script.js': `
import { Counter } from 'k6/metrics'
const done = new Counter('done')
export const options = { iterations: 8, vus: 1 }
async function boom(what) { throw new Error(what) }
const tick = () => new Promise((r) => setTimeout(r, 1))
export default async function () {
  switch (__ITER) {
    case 0: Promise.reject(new Error('plain reject')); break
    case 1: new Promise(() => { throw new TypeError('thrown in an executor') }); break
    case 2: boom('async function').then(() => {}); break // then() derives a promise that rejects unhandled
    case 3: { const p = Promise.reject('handled later'); await tick(); p.catch(() => {}); break } // too late, as in k6
    case 4: { const p = Promise.reject(new Error('x')); p.catch(() => {}); break }
    case 5: try { await Promise.reject(new Error('y')) } catch (e) {} break
    case 6: try { await Promise.all([tick(), boom('in all')]) } catch (e) {} break
    case 7: { const p = Promise.reject(new Error('z')); await Promise.resolve(); p.then(null, () => {}); break } // same job batch: handled
  }
  done.add(1)
}`,
  })
  const r = await kilnRun(['run', '--summary-export', 'summary.json', 'script.js'], { cwd: dir, timeoutMs: 60_000 })
  assert.equal(r.code, 0, r.stderr)
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('ERRO['))
  assert.deepEqual(
    errors.map((l) => l.replace(/^ERRO\[\d+\] /, '')),
    [
      'Uncaught (in promise) Error: plain reject',
      'Uncaught (in promise) TypeError: thrown in an executor',
      'Uncaught (in promise) Error: async function',
      'Uncaught (in promise) handled later  executor=shared-iterations scenario=default source=stacktrace',
    ],
    r.stderr,
  )
  assert.match(r.stderr, /Uncaught \(in promise\) Error: plain reject\n\s+at default \(.*script\.js:9:/)
  // An iteration stops where its rejection is found: after its synchronous code (0–2), but while
  // iteration 3 still waits for its timer, so that one never counts `done`.
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'))
  assert.equal(summary.metrics.iterations.count, 8)
  assert.equal(summary.metrics.done.count, 7)
})

test('an unhandled rejection in the init code is a script error (exit 107); instanceof Promise still holds for async functions', async () => {
  const dir = workdir({
    'bad.js': `Promise.reject(new RangeError('at init'))
export default function () {}`,
    // A synchronous default function: no job is left, yet the rejection is seen.
    'sync.js': `export const options = { iterations: 1 }
export default function () { Promise.reject(new Error('from sync code')) }`,
    'ok.js': `export const options = { iterations: 1 }
export default function () {
  const a = (async () => 1)()
  console.log('RESULT ' + JSON.stringify([a instanceof Promise, Promise.resolve(1) instanceof Promise, Promise.name, typeof Promise.allSettled]))
}`,
  })
  const bad = await kilnRun(['run', '-q', 'bad.js'], { cwd: dir })
  assert.equal(bad.code, 107, bad.stderr)
  assert.match(bad.stderr, /Uncaught \(in promise\) RangeError: at init/)
  const sync = await kilnRun(['run', '-q', 'sync.js'], { cwd: dir })
  assert.equal(sync.code, 0, sync.stderr)
  assert.match(sync.stderr, /ERRO\[\d+\] Uncaught \(in promise\) Error: from sync code/)
  const ok = await kilnRun(['run', '-q', 'ok.js'], { cwd: dir })
  assert.equal(ok.code, 0, ok.stderr)
  assert.match(ok.stderr, /RESULT \[true,true,"Promise","function"\]/)
})
