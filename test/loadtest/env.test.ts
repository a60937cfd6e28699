/** k6's K6_* environment variables: options between the script's and the flags, and the run's outputs. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { kilnRun, workdir } from './helpers.ts'

const iterations = (dir: string, file: string): number => JSON.parse(readFileSync(join(dir, file), 'utf8')).metrics.iterations.count

test('K6_* variables override the script and give way to flags; -e K6_… is only __ENV; K6_OUT, K6_SUMMARY_EXPORT, K6_NO_THRESHOLDS', async () => {
  const dir = workdir({
    's.js': `export const options = { vus: 1, iterations: 1, thresholds: { iterations: ['count<1'] } }
export default function () {}`,
  })
  const base = { KILN_RUN_THREADS: '0', K6_NO_THRESHOLDS: 'true' }
  const env = await kilnRun(['run', '-q', '--summary-export', 'a.json', 's.js'], {
    cwd: dir,
    env: { ...base, K6_VUS: '3', K6_ITERATIONS: '6' },
  })
  assert.equal(env.code, 0, env.stderr)
  assert.equal(iterations(dir, 'a.json'), 6, 'K6_ITERATIONS over the script')
  assert.equal(JSON.parse(readFileSync(join(dir, 'a.json'), 'utf8')).metrics.vus_max.value, 3)
  const flag = await kilnRun(['run', '-q', '-i', '4', '--summary-export', 'b.json', 's.js'], {
    cwd: dir,
    env: { ...base, K6_ITERATIONS: '6' },
  })
  assert.equal(flag.code, 0, flag.stderr)
  assert.equal(iterations(dir, 'b.json'), 4, 'the flag over K6_ITERATIONS')
  const dashE = await kilnRun(['run', '-q', '-e', 'K6_ITERATIONS=9', '--summary-export', 'c.json', 's.js'], { cwd: dir, env: base })
  assert.equal(iterations(dir, 'c.json'), 1, '-e only sets __ENV')
  assert.equal(dashE.code, 0)
  const outs = await kilnRun(['run', '-q', 's.js'], {
    cwd: dir,
    env: { KILN_RUN_THREADS: '0', K6_OUT: 'json=out.json', K6_SUMMARY_EXPORT: 'd.json' },
  })
  assert.equal(outs.code, 99, 'thresholds count without K6_NO_THRESHOLDS')
  assert.ok(
    existsSync(join(dir, 'out.json')) && readFileSync(join(dir, 'out.json'), 'utf8').includes('"metric":"iterations"'),
    'K6_OUT=json=…',
  )
  assert.equal(iterations(dir, 'd.json'), 1, 'K6_SUMMARY_EXPORT')
  for (const [k, v] of [
    ['K6_VUS', 'many'],
    ['K6_NO_THRESHOLDS', 'maybe'],
    ['K6_STAGES', '10s'],
  ] as const) {
    const bad = await kilnRun(['run', '-q', 's.js'], { cwd: dir, env: { [k]: v } })
    assert.equal(bad.code, 104, `${k}=${v}: ${bad.stderr}`)
    assert.match(bad.stderr, new RegExp(k))
  }
})
