/**
 * engine/engine.ts: a worker thread given the main thread's compiled engine (as run/pool.ts hands
 * it over in workerData) runs its VMs on that module, not on one it compiled itself, so the
 * threads share V8's optimised code for it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Worker } from 'node:worker_threads'
import { compiledEngine, engineModule } from '../../src/loadtest/engine/engine.ts'

test('a worker given the compiled engine evaluates JS on that very module', async () => {
  const m = await engineModule()
  assert.equal(compiledEngine(), m)
  const engine = new URL('../../src/loadtest/engine/engine.ts', import.meta.url).href
  const code = `const { parentPort, workerData } = require('node:worker_threads')
;(async () => {
  const { register } = await import('tsx/esm/api')
  register()
  const e = await import(${JSON.stringify(engine)})
  e.useEngineModule(workerData.m)
  const mod = await e.newEngine()
  const ctx = mod.newRuntime().newContext()
  const r = ctx.evalCode('6 * 7')
  parentPort.postMessage({ value: ctx.getNumber(r.value), same: e.compiledEngine() === workerData.m })
})().catch((err) => parentPort.postMessage({ error: String(err && err.stack || err) }))`
  const w = new Worker(code, { eval: true, workerData: { m } })
  try {
    const out = await new Promise<{ value?: number; same?: boolean; error?: string }>((resolve, reject) => {
      w.once('message', resolve)
      w.once('error', reject)
    })
    assert.equal(out.error, undefined)
    assert.equal(out.value, 42)
    assert.equal(out.same, true)
  } finally {
    await w.terminate()
  }
})
