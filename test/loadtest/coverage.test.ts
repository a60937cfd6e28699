/** The API coverage report (src/loadtest/API-COVERAGE.md) matches what Kiln's VUs really export. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { kilnRun, workdir } from './helpers.ts'
import { K6_MODULES, typedExports, typedMembers, coverageReport } from '../../src/loadtest/coverage.ts'

const reportPath = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'loadtest', 'API-COVERAGE.md')

test('every name Kiln exports exists in @types/k6, and the committed coverage report is current', async () => {
  // Ask a real VU what each module exports, all modules in one run: a module Kiln lacks fails the
  // import with its name, and the run goes again without it (one run per module took ~29 s in CI).
  const kiln: Record<string, string[]> = {}
  const left = [...K6_MODULES]
  for (;;) {
    const dir = workdir({
      'probe.js': `${left.map((mod, i) => `import * as m${i} from '${mod}'`).join('\n')}
export const options = { iterations: 1 }
export default function () {}
export function handleSummary() { return { stdout: JSON.stringify([${left.map((_, i) => `Object.keys(m${i}).sort()`).join(', ')}]) } }`,
    })
    const r = await kilnRun(['run', '-q', 'probe.js'], { cwd: dir })
    if (r.code === 0) {
      const keys = JSON.parse(r.stdout) as string[][]
      left.forEach((mod, i) => (kiln[mod] = keys[i]!))
      break
    }
    const unknown = /unknown module '([^']+)'/.exec(r.stderr)?.[1]
    assert.ok(unknown && left.includes(unknown), r.stderr)
    left.splice(left.indexOf(unknown), 1)
  }
  for (const [mod, names] of Object.entries(kiln)) {
    const typed = new Set(typedExports(mod))
    // Every native module also has a default export (the module object), as in k6's module system.
    // hexEncode (k6/crypto) and networkProfiles (k6/browser) are in k6's source but not in @types/k6 2.3.0.
    const untyped = (n: string) => (mod === 'k6/crypto' && n === 'hexEncode') || (mod === 'k6/browser' && n === 'networkProfiles')
    const invented = names.filter((n) => !typed.has(n) && n !== 'default' && !untyped(n))
    assert.deepEqual(invented, [], `${mod} exports names k6 does not have`)
  }
  assert.ok((kiln['k6/http'] ?? []).includes('get'))
  // The methods of the objects scripts get: a Selection, an Element, a CookieJar, a gRPC Client and Stream, a ReadableStream and its reader, k6/browser's.
  const probe = workdir({
    'probe.js': `import http from 'k6/http'
import { parseHTML } from 'k6/html'
import grpc from 'k6/net/grpc'
import { ReadableStream } from 'k6/experimental/streams'
import kb from 'k6/browser'
export const options = { iterations: 1 }
export default function () {}
const methods = (o) => { const s = new Set(); for (let p = Object.getPrototypeOf(o); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) Object.getOwnPropertyNames(p).forEach((n) => n !== 'constructor' && s.add(n)); return [...s].sort() }
export function handleSummary() {
  const doc = parseHTML('<p>x</p>')
  return { stdout: JSON.stringify({ Selection: methods(doc), Element: methods(doc.find('p').get(0)), CookieJar: methods(http.cookieJar()), 'grpc Client': methods(new grpc.Client()), 'grpc Stream': methods(Object.create(grpc.Stream.prototype)), ReadableStream: methods(new ReadableStream()), ReadableStreamDefaultReader: methods(new ReadableStream().getReader()), ...Object.fromEntries(Object.entries(kb.__kilnClasses).map(([n, C]) => [n, methods(Object.create(C.prototype))])) }) }
}`,
  })
  const r = await kilnRun(['run', '-q', 'probe.js'], { cwd: probe })
  assert.equal(r.code, 0, r.stderr)
  const members = JSON.parse(r.stdout) as Record<string, string[]>
  assert.ok(typedMembers('k6/html', /^Selection$/).includes('serializeObject'), 'the @types class parser finds methods')
  const report = coverageReport(kiln, members)
  if (process.env.KILN_UPDATE_COVERAGE) writeFileSync(reportPath, report)
  assert.ok(existsSync(reportPath), 'run with KILN_UPDATE_COVERAGE=1 to create the report')
  assert.equal(
    readFileSync(reportPath, 'utf8'),
    report,
    'stale: regenerate with KILN_UPDATE_COVERAGE=1 node scripts/test.js loadtest/coverage',
  )
})
