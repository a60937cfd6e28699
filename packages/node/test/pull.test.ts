/** Pull mode: Go's pprof paths served by @kiln/node, read back with the server's pprof decoder. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startPullServer } from '../src/index.ts'
import { decodePprof } from '../../../src/formats/pprof.ts'
import { toFolded } from '../../../src/model/profile.ts'

function kilnPullTestHot(ms: number): number {
  const end = Date.now() + ms
  let x = 0
  while (Date.now() < end) x += Math.sqrt(x + 1)
  return x
}

test('serves /debug/pprof/profile and /debug/pprof/heap as gzipped pprof; bad requests get a reason', async () => {
  const keep: number[][] = []
  const busy = setInterval(() => {
    kilnPullTestHot(20)
    keep.push(new Array(5000).fill(1))
  }, 25)
  const s = await startPullServer({ port: 0 })
  try {
    const cpuReq = fetch(`${s.url}/debug/pprof/profile?seconds=1`)
    await new Promise((r) => setTimeout(r, 100))
    const second = await fetch(`${s.url}/debug/pprof/profile?seconds=1`)
    assert.equal(second.status, 500, 'one CPU profile at a time, as in Go')
    assert.match(await second.text(), /cpu profiling already in use/)
    const res = await cpuReq
    assert.equal(res.status, 200)
    const bytes = new Uint8Array(await res.arrayBuffer())
    assert.deepEqual([bytes[0], bytes[1]], [0x1f, 0x8b], 'gzipped')
    const cpu = decodePprof(bytes)
    assert.deepEqual(
      cpu.sampleTypes.map((t) => `${t.type}/${t.unit}`),
      ['cpu/nanoseconds', 'wall/nanoseconds'],
    )
    const folded = toFolded(cpu, 0)
    assert.match(folded, /kilnPullTestHot \S*pull\.test\.ts:\d+/, 'the hot function, named with file and line')
    const wall = cpu.samples.reduce((a, x) => a + x.values[1]!, 0)
    assert.ok(wall > 0.5e9 && wall < 2e9, `about one second of wall time: ${wall}`)

    const heap = decodePprof(new Uint8Array(await (await fetch(`${s.url}/debug/pprof/heap`)).arrayBuffer()))
    assert.deepEqual(
      heap.sampleTypes.map((t) => t.type),
      ['inuse_objects', 'inuse_space'],
    )
    assert.ok(
      heap.samples.some((x) => x.values[1]! > 0),
      'in-use bytes',
    )

    for (const [path, status, re] of [
      ['/debug/pprof/profile?seconds=0', 400, /seconds must be between 0 and 60/],
      ['/debug/pprof/profile?seconds=abc', 400, /seconds/],
      ['/debug/pprof/goroutine', 404, /serving \/debug\/pprof\/profile/],
    ] as const) {
      const r = await fetch(`${s.url}${path}`)
      assert.equal(r.status, status, path)
      assert.match(await r.text(), re)
    }
  } finally {
    clearInterval(busy)
    await s.close()
  }
})
