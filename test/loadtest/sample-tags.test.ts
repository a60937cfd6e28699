/**
 * check(), metric.add() and group() without the script's tags send their samples through a host
 * call that makes the tag set once per group and check name (modules/k6/host.ts `sample` and
 * `check`), not through JSON. Their tags must be exactly those of the same calls given empty
 * tags (the JSON path), follow the group, and follow the VU's tags when they change each
 * iteration (the vu and iter system tags).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { kilnRun, workdir } from './helpers.ts'

test('samples without tags carry what the same samples with empty tags carry: group, check name, scenario and system tags', async () => {
  const dir = workdir({
    'script.js': `import { check, group } from 'k6'
import { Trend } from 'k6/metrics'
const fast = new Trend('fast_path')
const slow = new Trend('json_path')
export const options = {
  scenarios: { s: { executor: 'per-vu-iterations', vus: 1, iterations: 2, tags: { team: 'a' } } },
  systemTags: ['scenario', 'group', 'check', 'vu', 'iter'],
}
export default function () {
  check(1, { plain: () => true })
  check(1, { plain: () => true }, {})
  fast.add(1)
  slow.add(1, {})
  group('g', () => {
    check(0, { inner: (x) => x === 1 })
    check(0, { inner: (x) => x === 1 }, {})
    fast.add(2)
    slow.add(2, {})
  })
}`,
  })
  const r = await kilnRun(['run', '-q', '--no-summary', '-o', 'json=out.json', 'script.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  const points = readFileSync(join(dir, 'out.json'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"type":"Point"'))
    .map((l) => JSON.parse(l) as { metric: string; data: { value: number; tags: Record<string, string> } })
  const of = (metric: string) => points.filter((p) => p.metric === metric)
  const vt = (p: (typeof points)[number]) => ({ value: p.data.value, tags: p.data.tags })
  // In each iteration: plain, plain (empty tags), inner, inner (empty tags).
  const checks = of('checks')
  assert.equal(checks.length, 8)
  for (let i = 0; i < 8; i += 2) assert.deepEqual(vt(checks[i]!), vt(checks[i + 1]!), `check sample ${i}`)
  assert.deepEqual(checks[0]!.data.tags, { team: 'a', scenario: 's', vu: '1', iter: '0', group: '', check: 'plain' })
  assert.deepEqual(checks[2]!.data.tags, { team: 'a', scenario: 's', vu: '1', iter: '0', group: '::g', check: 'inner' })
  assert.equal(checks[2]!.data.value, 0)
  assert.equal(checks[4]!.data.tags.iter, '1', 'the next iteration has its own iter tag')
  const fast = of('fast_path')
  const slow = of('json_path')
  assert.deepEqual(fast.map(vt), slow.map(vt))
  assert.deepEqual(
    fast.map((p) => [p.data.tags.group, p.data.tags.iter]),
    [
      ['', '0'],
      ['::g', '0'],
      ['', '1'],
      ['::g', '1'],
    ],
  )
  const groups = of('group_duration')
  assert.deepEqual(
    groups.map((p) => p.data.tags),
    [0, 1].map((i) => ({ team: 'a', scenario: 's', vu: '1', iter: String(i), group: '::g' })),
  )
})
