/** k6/secrets with --secret-source file= and mock=: values reach the script and the wire, never the log. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { kilnRun, startServer, workdir } from './helpers.ts'
import { lookupSecret, parseSecretSource, redactor } from '../../src/loadtest/modules/secrets/secrets.ts'

test('secrets.get and secrets.source(name).get read --secret-source values; logs show ***SECRET_REDACTED***; the request carries the value', async () => {
  const srv = await startServer()
  try {
    const dir = workdir({
      'secrets.txt': 'token=s3cr3t-file-token\nother=second value\n',
      'script.js': `import http from 'k6/http'
import secrets from 'k6/secrets'
import { check } from 'k6'
export const options = { vus: 2, iterations: 4 }
export default async function () {
  const token = await secrets.get('token')
  console.log('token is ' + token)
  http.get(__ENV.BASE + '/auth/' + token)
  const fromMock = await secrets.source('cli').get('api')
  let missing = ''
  try { await secrets.get('nope') } catch (e) { missing = String(e) }
  let unknown = ''
  try { await secrets.source('vault').get('x') } catch (e) { unknown = String(e) }
  check(null, {
    'mock source by name': () => fromMock === 'mock-api-key',
    'missing key rejects': () => /secret 'nope' not found in source 'file'/.test(missing),
    'unknown source rejects': () => /no secret source named 'vault'/.test(unknown),
  })
}`,
    })
    const r = await kilnRun(
      [
        'run',
        '-q',
        '--summary-export',
        's.json',
        '--secret-source',
        'file=default,secrets.txt',
        '--secret-source=mock=name=cli,api=mock-api-key',
        '-e',
        `BASE=${srv.url}`,
        'script.js',
      ],
      // Worker threads named: a run of few iterations would otherwise keep its VUs on the main thread.
      { cwd: dir, env: { KILN_RUN_THREADS: '2' } },
    )
    assert.equal(r.code, 0, r.stderr)
    assert.equal(srv.hits.get('/auth/s3cr3t-file-token'), 4, 'every VU (on worker threads too) sent the value')
    assert.match(r.stderr, /token is \*\*\*SECRET_REDACTED\*\*\*/)
    assert.doesNotMatch(r.stderr, /s3cr3t-file-token|mock-api-key/, 'no value in the log')
    const sum = JSON.parse((await import('node:fs')).readFileSync(`${dir}/s.json`, 'utf8'))
    assert.equal(sum.metrics.checks.fails, 0, r.stderr)
    assert.equal(sum.metrics.checks.passes, 12)

    // Two sources and no default: get() says how to choose.
    const two = workdir({
      'script.js': `import secrets from 'k6/secrets'
export const options = { iterations: 1 }
export default async function () { await secrets.get('a') }`,
    })
    const none = await kilnRun(['run', '-q', '--secret-source=mock=a=1', '--secret-source=mock=name=b,a=2', 'script.js'], { cwd: two })
    assert.match(none.stderr, /no default secret source among 'mock', 'b'/)
  } finally {
    srv.close()
  }
})

test('bad --secret-source values stop the run with exit 104 and say what to write', async () => {
  const dir = workdir({ 's.js': 'export default function () {}', 'bad.txt': 'ok=1\njust a line\n' })
  const cases: [string[], RegExp][] = [
    [['--secret-source', 'vault=x'], /unknown source type 'vault'; use file=PATH/],
    [['--secret-source', 'url=urlTemplate=http://127.0.0.1/{key}'], /the url source is not in Kiln yet/],
    [['--secret-source', 'file=missing.txt'], /cannot read 'missing.txt': ENOENT/],
    [['--secret-source', 'file=bad.txt'], /bad\.txt line 2 has no '='/],
    [['--secret-source', 'mock=novalue'], /unknown setting 'novalue' for a mock source/],
    [['--secret-source', 'mock=a=1', '--secret-source', 'mock=b=2'], /two secret sources are named 'mock'/],
    [
      ['--secret-source', 'mock=default,a=1', '--secret-source', 'mock=name=x,default,b=2'],
      /more than one secret source is marked default/,
    ],
  ]
  for (const [flags, message] of cases) {
    const r = await kilnRun(['run', '-q', ...flags, 's.js'], { cwd: dir })
    assert.equal(r.code, 104, `${flags.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, message)
  }
})

test('secret lookup and redaction: the default source, names, and values inside others', () => {
  const a = parseSecretSource('mock=name=a,default,k=abc,long=abcdef')
  const b = parseSecretSource('mock=name=b,k=xyz')
  assert.deepEqual(lookupSecret([a, b], null, 'k'), { value: 'abc' })
  assert.deepEqual(lookupSecret([a, b], 'b', 'k'), { value: 'xyz' })
  assert.deepEqual(lookupSecret([b], null, 'k'), { value: 'xyz' }, 'a single source is the default')
  assert.match((lookupSecret([], null, 'k') as { error: string }).error, /no secret sources are configured/)
  const redact = redactor([a, b])
  assert.equal(
    redact('abcdef and abc and xyz, not ab'),
    '***SECRET_REDACTED*** and ***SECRET_REDACTED*** and ***SECRET_REDACTED***, not ab',
  )
})
