/** `systemTags` / --system-tags / K6_SYSTEM_TAGS: samples keep only the system tags listed (user tags stay). */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { kilnRun, startServer, workdir } from './helpers.ts'

const reqTags = (dir: string): Record<string, string>[] =>
  readFileSync(join(dir, 'out.json'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"metric":"http_reqs"') && l.includes('"type":"Point"'))
    .map((l) => JSON.parse(l).data.tags)

test('systemTags keeps the listed system tags on every sample; the default set, the flag and K6_SYSTEM_TAGS; an unknown tag is exit 104', async () => {
  const srv = await startServer()
  try {
    const dir = workdir({
      'script.js': `import http from 'k6/http'
import { check } from 'k6'
export const options = { iterations: 1, tags: { team: 'core' }, thresholds: { 'http_reqs{status:200}': ['count==0'] } }
export default function () { check(http.get(__ENV.B + '/'), { ok: (r) => r.status === 200 }) }`,
    })
    const run = (...args: string[]) =>
      kilnRun(['run', '-q', '-o', 'json=out.json', '-e', `B=${srv.url}`, ...args, 'script.js'], { cwd: dir })
    // The threshold fails (99) exactly when its submetric sees the request, i.e. when samples keep status.
    const byDefault = await run()
    assert.equal(byDefault.code, 99, byDefault.stderr)
    assert.deepEqual(Object.keys(reqTags(dir)[0]!).sort(), [
      'expected_response',
      'group',
      'method',
      'name',
      'proto',
      'scenario',
      'status',
      'team',
      'url',
    ])

    const flag = await run('--system-tags', 'status,method')
    assert.equal(flag.code, 99, 'the status submetric still sees its tag: ' + flag.stderr)
    assert.deepEqual(reqTags(dir), [{ status: '200', method: 'GET', team: 'core' }])

    const env = await kilnRun(['run', '-q', '-o', 'json=out.json', '-e', `B=${srv.url}`, 'script.js'], {
      cwd: dir,
      env: { K6_SYSTEM_TAGS: 'url' },
    })
    assert.equal(env.code, 0, 'without status the submetric http_reqs{status:200} sees nothing')
    assert.deepEqual(reqTags(dir), [{ url: `${srv.url}/`, team: 'core' }])

    const bad = await run('--system-tags', 'status,colour')
    assert.equal(bad.code, 104)
    assert.match(bad.stderr, /unknown system tag 'colour'/)
  } finally {
    await srv.close()
  }
})

test('systemTags vu, iter and ip (off by default): every sample of an iteration carries vu and iter, HTTP samples the remote ip', async () => {
  const srv = await startServer()
  try {
    const dir = workdir({
      'script.js': `import http from 'k6/http'
export const options = { vus: 2, iterations: 4, systemTags: ['vu', 'iter', 'ip', 'status'] }
export default function () { http.get(__ENV.B + '/') }`,
    })
    const r = await kilnRun(['run', '-q', '-o', 'json=out.json', '-e', `B=${srv.url}`, 'script.js'], { cwd: dir })
    assert.equal(r.code, 0, r.stderr)
    const tags = reqTags(dir)
    assert.equal(tags.length, 4)
    for (const t of tags) assert.deepEqual(Object.keys(t).sort(), ['ip', 'iter', 'status', 'vu'])
    assert.deepEqual([...new Set(tags.map((t) => t.ip))], ['127.0.0.1'])
    assert.deepEqual([...new Set(tags.map((t) => t.vu))].sort(), ['1', '2'])
    // Each VU's iterations are numbered from 0 in its tags.
    const pairs = tags.map((t) => `${t.vu}:${t.iter}`)
    assert.equal(new Set(pairs).size, 4, pairs.join(' '))
    assert.ok(
      pairs.every((p) => /^[12]:[0-3]$/.test(p)),
      pairs.join(' '),
    )
    const iters = readFileSync(join(dir, 'out.json'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"metric":"iterations"') && l.includes('"type":"Point"'))
      .map((l) => JSON.parse(l).data.tags)
    assert.equal(iters.length, 4)
    for (const t of iters) assert.ok(t.vu && t.iter !== undefined, JSON.stringify(t))
  } finally {
    await srv.close()
  }
})
