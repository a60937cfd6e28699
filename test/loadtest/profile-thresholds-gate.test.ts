/**
 * docs/load-test-gate.md as CI runs it: the page's service (profiled by @kiln/node), its k6
 * script and the gate against a real Kiln server. The service as written passes; with SLOW=1 its
 * handleSearch does a needless ranking pass, takes most of the CPU, and the gate fails (exit 99).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { kilnRun } from './helpers.ts'
import { startKiln } from '../server/helpers.ts'
import { gateDir, startTarget } from './profile-target.ts'

let kiln: Awaited<ReturnType<typeof startKiln>>
before(async () => {
  kiln = await startKiln()
})
after(async () => {
  await kiln?.stop()
})

async function gate(slow: boolean) {
  const dir = gateDir()
  const target = await startTarget(dir, kiln.url, slow ? { SLOW: '1' } : {})
  try {
    const r = await kilnRun(
      [
        'run',
        '-q',
        '-e',
        `TARGET=${target.url}`,
        '-o',
        `kiln=${kiln.url}`,
        '-o',
        `junit=${join(dir, 'thresholds.xml')}`,
        '-o',
        `markdown=${join(dir, 'summary.md')}`,
        '--summary-export',
        join(dir, 'summary.json'),
        'gate.js',
      ],
      { cwd: dir, timeoutMs: 120_000 },
    )
    return { ...r, dir, read: (f: string) => readFileSync(join(dir, f), 'utf8') }
  } finally {
    await target.stop()
  }
}

test('the documented gate passes the service as written', async (t) => {
  const r = await gate(false)
  assert.equal(r.code, 0, r.stdout + r.stderr)
  const share = JSON.parse(r.read('summary.json')).metrics['profile_share{function:handleSearch}']
  t.diagnostic(`handleSearch's share ${share.value}`)
  assert.ok(share.value > 0 && share.value < 0.1, `handleSearch's share ${share.value}`)
  assert.deepEqual(share.thresholds, { 'value<0.1': false }, 'k6 --summary-export: true means crossed')
  assert.match(r.stdout, /profile_share\{function:handleSearch\}\n {4}✓ 'value<0\.1' value=0\.\d+/)
  assert.match(r.read('thresholds.xml'), /<testsuites name="gate.js" tests="3" failures="0"/)
  assert.match(r.read('summary.md'), /^### ✅ Load test — gate.js: all 3 thresholds passed/)
})

test('the documented gate fails when handleSearch is slowed down', async (t) => {
  const r = await gate(true)
  assert.equal(r.code, 99, r.stdout + r.stderr)
  assert.match(r.stdout, /✗ 'value<0\.1' value=(0\.\d+|1)\n/)
  assert.match(r.stderr, /thresholds on metrics 'profile_share\{function:handleSearch\}' have been crossed/)
  const share = JSON.parse(r.read('summary.json')).metrics['profile_share{function:handleSearch}']
  t.diagnostic(`handleSearch's share ${share.value}`)
  assert.ok(share.value >= 0.1, `handleSearch's share ${share.value}`)
  const xml = r.read('thresholds.xml')
  assert.match(xml, /failures="1"/)
  assert.match(
    xml,
    /<testcase classname="profile_share\{function:handleSearch\}" name="profile_share\{function:handleSearch\}: value&lt;0.1">\n\s*<failure message="value&lt;0.1 crossed: \d+\.\d+%"/,
  )
  assert.match(
    r.read('summary.md'),
    /^### ❌ Load test — gate.js: 1 of 3 thresholds crossed\n\n\| \| Metric \| Threshold \| Value \|\n\|---\|---\|---\|---\|\n\| ❌ \| `profile_share\{function:handleSearch\}` \| `value<0.1` \| \d+\.\d+% \|/,
  )
})
