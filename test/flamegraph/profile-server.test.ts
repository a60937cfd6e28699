import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { call, CPU, q, startKiln } from '../server/helpers.ts'
import { cProgram, perfUnavailable } from './recordings.ts'

const bin = join(import.meta.dirname, '..', '..', 'bin', 'kiln.js')
const unavailable = perfUnavailable()

test('kiln profile --server into a real kiln server: the pushed CPU profile is queryable', { skip: unavailable ?? false }, async () => {
  const kiln = await startKiln()
  try {
    const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const c = spawn(
        process.execPath,
        [bin, 'profile', '--server', kiln.url, '--name', 'spin.cpu{env=e2e}', '--frequency', '499', '--', cProgram(), '60'],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      )
      let stderr = ''
      c.stderr.on('data', (d) => (stderr += d))
      c.on('close', (status) => resolve({ status, stderr }))
    })
    assert.equal(r.status, 0, r.stderr)
    const samples = Number(/pushed (\d+) samples/.exec(r.stderr)![1])
    const top = await call(`${kiln.url}/api/v1/top?${q({ type: CPU, query: '{service_name="spin", env="e2e"}', from: 'now-1h' })}`)
    assert.equal(top.status, 200, top.text)
    const t = top.json as { rows: { name: string; self: number; total: number }[]; total: number }
    // Each sample is 1/499 s of CPU, in nanoseconds.
    assert.ok(Math.abs(t.total - (samples * 1e9) / 499) < 1, `${t.total} vs ${samples} samples`)
    const alpha = t.rows.find((x) => x.name === 'spin_alpha')
    assert.ok(alpha && alpha.total > 0, JSON.stringify(t.rows.slice(0, 5)))
  } finally {
    await kiln.dispose()
  }
})
