/**
 * engine/engine.ts holdTierUp/tierUp and runner.ts fewIterations: `kiln run` holds V8's tier-up
 * of the engine back until it knows the run; a smoke test's few iterations keep the first
 * module, anything longer gets a second copy that V8 tiers up (its own file: the hold must come
 * before this process compiles the engine).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { compiledEngine, engineModule, holdTierUp, newEngine, tierUp } from '../../src/loadtest/engine/engine.ts'
import { consolidate } from '../../src/loadtest/run/options.ts'
import { FEW_ITERATIONS, fewIterations } from '../../src/loadtest/run/runner.ts'

test('runs of at most ten iterations in all are few; anything else is not', () => {
  const few = (o: Record<string, unknown>) => fewIterations(consolidate([o]).scenarios)
  assert.equal(FEW_ITERATIONS, 10)
  assert.equal(few({}), true, "k6's default: one iteration of one VU")
  assert.equal(few({ vus: 5 }), true, 'vus alone: one iteration each')
  assert.equal(few({ iterations: 10 }), true)
  assert.equal(few({ iterations: 11 }), false)
  assert.equal(few({ duration: '1s' }), false, 'a duration may hold any number of iterations')
  assert.equal(few({ scenarios: { a: { executor: 'per-vu-iterations', vus: 3, iterations: 3 } } }), true)
  assert.equal(few({ scenarios: { a: { executor: 'per-vu-iterations', vus: 3, iterations: 4 } } }), false, '12 in all')
  assert.equal(
    few({
      scenarios: {
        a: { executor: 'shared-iterations', vus: 1, iterations: 5 },
        b: { executor: 'shared-iterations', vus: 1, iterations: 6 },
      },
    }),
    false,
    'scenarios add up',
  )
  assert.equal(few({ scenarios: { a: { executor: 'constant-arrival-rate', rate: 1, duration: '1s', preAllocatedVUs: 1 } } }), false)
})

test('after tierUp the engine is a second module, and VMs made on it run', async () => {
  holdTierUp()
  const first = await engineModule()
  const eval42 = async () => {
    const ctx = (await newEngine()).newRuntime().newContext()
    const r = ctx.evalCode('6 * 7')
    return ctx.getNumber(ctx.unwrapResult(r))
  }
  assert.equal(await eval42(), 42)
  await tierUp()
  const second = compiledEngine()
  assert.ok(second instanceof WebAssembly.Module)
  assert.notEqual(second, first, 'a new copy, not the held one')
  assert.deepEqual(WebAssembly.Module.exports(second).length, WebAssembly.Module.exports(first).length)
  assert.equal(await eval42(), 42)
  await tierUp()
  assert.equal(compiledEngine(), second, 'once only')
})
