import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Session } from 'node:inspector/promises'
import { decodeCpuProfile, decodeHeapProfile, type CpuProfile, type HeapProfileNode } from '../../src/formats/v8profile.ts'
import { toFolded, totals } from '../../src/model/profile.ts'

const frame = (functionName: string, lineNumber = 0) => ({ functionName, url: 'file:///app/src/main.js', lineNumber })

test('a V8 CPU profile: samples weigh the time to the next sample; idle time is not CPU', () => {
  const p: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 4] },
      { id: 2, callFrame: frame('main', 1), children: [3] },
      { id: 3, callFrame: frame('work', 9) },
      { id: 4, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
    ],
    startTime: 1_000_000,
    endTime: 1_000_400,
    samples: [3, 3, 4, 2],
    timeDeltas: [0, 100, 100, 100, 100],
  }
  const prof = decodeCpuProfile(p)
  assert.equal(toFolded(prof), 'main src/main.js:2 100000\nmain src/main.js:2;work src/main.js:10 200000\n')
  assert.equal(prof.timeMs, 1000)
  assert.equal(prof.durationNanos, 400_000)
})

test('a V8 sampling heap profile becomes inuse_space bytes', () => {
  const head: HeapProfileNode = {
    callFrame: frame('(root)'),
    selfSize: 0,
    children: [{ callFrame: frame('alloc', 4), selfSize: 4096, children: [{ callFrame: frame('inner', 5), selfSize: 100, children: [] }] }],
  }
  const prof = decodeHeapProfile(head, 5)
  assert.deepEqual(prof.sampleTypes, [{ type: 'inuse_space', unit: 'bytes' }])
  assert.deepEqual(totals(prof), [4196])
})

test('profiles from this process through node:inspector decode', async () => {
  const s = new Session()
  s.connect()
  await s.post('Profiler.enable')
  await s.post('Profiler.start')
  const end = Date.now() + 200
  let x = 0
  while (Date.now() < end) x += Math.sqrt(x + 1)
  const { profile } = (await s.post('Profiler.stop')) as unknown as { profile: CpuProfile }
  s.disconnect()
  const prof = decodeCpuProfile(profile)
  assert.ok(totals(prof)[0]! > 50e6, `at least 50 ms of CPU in 200 ms of busy loop (x=${x > 0})`)
})
