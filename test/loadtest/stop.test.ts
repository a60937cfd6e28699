/**
 * A CPU-bound iteration (`for (;;) {}`) holds its thread, yet the run ends when it should: at the
 * scenario's end + gracefulStop, on the first Ctrl-C (exit 105, with the summary, the summary
 * export and the outputs), and at test.abort() from another VU. Real `kiln run` processes, on the
 * main thread (one VU) and on worker threads.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { workdir } from './helpers.ts'

const kiln = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'kiln.js')

interface Proc {
  pid: number
  /** Resolves when stderr or stdout holds `text` (rejects after `ms`). */
  waitFor(text: string, ms?: number): Promise<void>
  done: Promise<{ code: number | null; stdout: string; stderr: string }>
}

/** `kiln run` as a process; killed after 120 s so a regression fails instead of hanging. */
function start(args: string[], env: Record<string, string> = {}): Proc {
  const p = spawn(process.execPath, [kiln, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const waiters: { text: string; resolve: () => void }[] = []
  const check = () => {
    for (const w of [...waiters]) if (stdout.includes(w.text) || stderr.includes(w.text)) waiters.splice(waiters.indexOf(w), 1), w.resolve()
  }
  p.stdout.on('data', (c: Buffer) => ((stdout += c.toString()), check()))
  p.stderr.on('data', (c: Buffer) => ((stderr += c.toString()), check()))
  const kill = setTimeout(() => p.kill('SIGKILL'), 120_000)
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    p.on('close', (code) => {
      clearTimeout(kill)
      resolve({ code, stdout, stderr })
    }),
  )
  return {
    pid: p.pid!,
    done,
    waitFor: (text, ms = 60_000) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no '${text}' after ${ms} ms:\n${stderr}`)), ms)
        waiters.push({ text, resolve: () => (clearTimeout(t), resolve()) })
        check()
      }),
  }
}

const SPIN = `export default function () { console.log('spinning'); for (;;) {} }\n`

for (const [name, vus, env] of [
  ['one VU on the main thread', 1, {}],
  ['VUs on worker threads', 2, { KILN_RUN_THREADS: '2' }],
] as const) {
  test(`${name}: a CPU-bound iteration stops at the scenario's end + gracefulStop`, async () => {
    const dir = workdir({
      'spin.js': `export const options = { scenarios: { s: { executor: 'constant-vus', vus: ${vus}, duration: '1s', gracefulStop: '1s' } } }\n${SPIN}`,
    })
    const r = await start(['run', '--summary-export', join(dir, 'sum.json'), join(dir, 'spin.js')], env).done
    assert.equal(r.code, 0, r.stderr)
    const sum = JSON.parse(readFileSync(join(dir, 'sum.json'), 'utf8'))
    assert.equal(sum.metrics.iterations, undefined, 'no iteration completed')
    assert.equal(sum.metrics.vus_max.value, vus)
  })

  test(`${name}: the first Ctrl-C stops a CPU-bound iteration; summary, export and outputs written, exit 105`, async () => {
    const dir = workdir({ 'spin.js': `export const options = { vus: ${vus}, duration: '10m' }\n${SPIN}` })
    const p = start(['run', '--summary-export', join(dir, 'sum.json'), '-o', `json=${join(dir, 'out.json')}`, join(dir, 'spin.js')], env)
    // A worker's console lines wait for its event loop, which the loop holds: wait for the progress line.
    await p.waitFor(vus === 1 ? 'spinning' : 'running (00m02')
    process.kill(p.pid, 'SIGINT')
    const r = await p.done
    assert.equal(r.code, 105, r.stderr)
    assert.match(r.stderr, /stopping: running teardown and the summary/)
    assert.match(r.stdout, /vus_max/, 'the summary is printed')
    assert.ok(existsSync(join(dir, 'sum.json')), 'the summary export is written')
    assert.match(readFileSync(join(dir, 'out.json'), 'utf8'), /"metric":"vus_max"/, 'the json output is written')
  })
}

test('Ctrl-C during a CPU-bound setup() (VU 0, the main thread) still ends the run with the summary', async () => {
  const dir = workdir({ 'spin.js': `export function setup() { console.log('spinning'); for (;;) {} }\nexport default function () {}\n` })
  const p = start(['run', '--summary-export', join(dir, 'sum.json'), join(dir, 'spin.js')])
  await p.waitFor('spinning')
  process.kill(p.pid, 'SIGINT')
  const r = await p.done
  assert.equal(r.code, 105, r.stderr)
  assert.ok(existsSync(join(dir, 'sum.json')))
})

test('test.abort() in one VU stops another stuck in a CPU-bound loop (worker threads), exit 108', async () => {
  const dir = workdir({
    'abort.js': `import exec from 'k6/execution'
import { sleep } from 'k6'
export const options = { vus: 2, duration: '10m' }
export default function () {
  if (exec.vu.idInTest === 1) { sleep(0.5); exec.test.abort('enough') }
  for (;;) {}
}
`,
  })
  const r = await start(['run', '--summary-export', join(dir, 'sum.json'), join(dir, 'abort.js')], { KILN_RUN_THREADS: '2' }).done
  assert.equal(r.code, 108, r.stderr)
  assert.match(r.stderr, /test aborted: enough/)
  assert.ok(existsSync(join(dir, 'sum.json')))
})
