/** The `scrape:` section: defaults, named and custom profiles, located errors, and a fuzz run. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseScrapeConfig } from '../../src/collect/scrape-config.ts'
import { KilnError } from '../../src/model/errors.ts'
import { root } from '../server/helpers.ts'

test('targets get Go-style defaults; names, paths and custom profiles resolve', () => {
  const [a, b] = parseScrapeConfig([
    { url: 'http://127.0.0.1:6060/', labels: { service_name: 'x', n: 1 } },
    {
      url: 'http://h:1',
      interval: '10s',
      seconds: 5,
      timeout: 2,
      profiles: ['cpu', 'allocs', '/debug/pprof/x', { path: '/p', metric: 'm', seconds: true, cumulative: ['c'] }],
      tenant: 't',
      headers: { authorization: 'Bearer x' },
    },
  ])
  assert.equal(a!.url, 'http://127.0.0.1:6060')
  assert.deepEqual(a!.labels, { service_name: 'x', n: '1' })
  assert.equal(a!.intervalMs, 15_000)
  assert.equal(a!.seconds, 14)
  assert.deepEqual(
    a!.profiles.map((p) => p.path),
    ['/debug/pprof/profile', '/debug/pprof/heap', '/debug/pprof/goroutine', '/debug/pprof/mutex', '/debug/pprof/block'],
  )
  assert.equal(b!.seconds, 5)
  assert.equal(b!.timeoutMs, 2000)
  assert.equal(b!.tenant, 't')
  assert.deepEqual(b!.headers, { authorization: 'Bearer x' })
  assert.deepEqual(a!.headers, {})
  assert.deepEqual(b!.profiles[3], { path: '/p', metric: 'm', seconds: true, cumulative: ['c'] })
  assert.deepEqual(b!.profiles[1]!.cumulative, ['alloc_objects', 'alloc_space'])
})

test('each mistake is reported with the target and setting at fault', () => {
  const cases: [unknown, RegExp][] = [
    [{ url: 'x' }, /expected a list of targets/],
    [[{ url: 'nope' }], /scrape\[0\]\.url: expected an http:\/\/ URL/],
    [[{ url: 'ftp://h' }], /scrape\[0\]\.url: expected http:\/\/ or https:\/\/, got ftp:/],
    [[{ url: 'http://h', port: 1 }], /scrape\[0\]: unknown setting 'port'/],
    [[{ url: 'http://h', labels: ['a'] }], /scrape\[0\]\.labels: expected a mapping/],
    [[{ url: 'http://h', interval: 'soon' }], /cannot read duration "soon"/],
    [[{ url: 'http://h', interval: -1 }], /scrape\[0\]\.interval: expected a duration/],
    [[{ url: 'http://h', interval: '5s', seconds: 9 }], /scrape\[0\]\.seconds: expected whole seconds from 1 to the interval \(5\)/],
    [[{ url: 'http://h', profiles: [] }], /scrape\[0\]\.profiles: expected a list/],
    [[{ url: 'http://h', profiles: ['cpuu'] }], /scrape\[0\]\.profiles\[0\]: unknown profile "cpuu"/],
    [[{ url: 'http://h', profiles: [{ path: 'x' }] }], /profiles\[0\]: a custom profile needs path/],
    [[{ url: 'http://h', profiles: [{ path: '/x', cumulative: 'a' }] }], /cumulative must be a list/],
    [[{ url: 'http://h', profiles: [3] }], /a profile is a name/],
    [[7], /scrape\[0\]: expected a mapping/],
    [[{ url: 'http://h', headers: 'x' }], /scrape\[0\]\.headers: expected a mapping of header names/],
  ]
  for (const [input, re] of cases)
    assert.throws(
      () => parseScrapeConfig(input),
      (e: unknown) => e instanceof KilnError && re.test(e.message),
      `${JSON.stringify(input)} → ${re}`,
    )
})

test('fuzz: random config values give a target list or a KilnError, never another error', () => {
  let seed = 7
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32
  const atoms = [null, 0, -1, 3, 1.5, '', 'x', '/p', 'cpu', '10s', 'http://h:1', 'https://h/x/', true, [], {}]
  const value = (depth: number): unknown => {
    const r = rnd()
    if (depth > 3 || r < 0.5) return atoms[Math.floor(rnd() * atoms.length)]
    if (r < 0.7) return Array.from({ length: Math.floor(rnd() * 3) }, () => value(depth + 1))
    const keys = ['url', 'labels', 'interval', 'seconds', 'timeout', 'profiles', 'tenant', 'headers', 'path', 'metric', 'cumulative', 'zz']
    return Object.fromEntries(
      Array.from({ length: Math.floor(rnd() * 5) }, () => [keys[Math.floor(rnd() * keys.length)]!, value(depth + 1)]),
    )
  }
  let ok = 0
  for (let i = 0; i < 5000; i++) {
    const v = rnd() < 0.5 ? [{ url: 'http://h:1', ...(value(1) as object) }] : value(0)
    try {
      const targets = parseScrapeConfig(v)
      for (const t of targets) assert.ok(t.intervalMs > 0 && t.seconds >= 1 && t.profiles.length > 0)
      ok++
    } catch (e) {
      assert.ok(e instanceof KilnError, `${JSON.stringify(v)} threw ${(e as Error).stack}`)
    }
  }
  assert.ok(ok > 50, `some random configs are valid (${ok})`)
})

test('kiln server refuses a bad scrape section at start, naming the file and setting', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-scrape-cfg-'))
  try {
    writeFileSync(join(dir, 'kiln.yaml'), 'scrape:\n  - url: http://127.0.0.1:6060\n    profiles: [cpu, heapp]\n')
    const r = spawnSync(
      process.execPath,
      [join(root, 'bin/kiln.js'), 'server', '--port', '0', '--data-dir', join(dir, 'data'), '--config', join(dir, 'kiln.yaml')],
      { encoding: 'utf8', timeout: 60_000 },
    )
    assert.notEqual(r.status, 0)
    assert.match(r.stderr, /kiln: config file .*kiln\.yaml, scrape\[0\]\.profiles\[1\]: unknown profile "heapp"/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
