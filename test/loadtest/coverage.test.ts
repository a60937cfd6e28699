/** The API coverage report (src/loadtest/API-COVERAGE.md) matches what Kiln's VUs really export. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { kilnRun, workdir } from './helpers.ts'
import { K6_MODULES, typedExports, coverageReport } from '../../src/loadtest/coverage.ts'

const reportPath = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'loadtest', 'API-COVERAGE.md')

test('every name Kiln exports exists in @types/k6, and the committed coverage report is current', async () => {
  // Ask a real VU what each module exports: a module Kiln lacks fails to import, so probe one at a time.
  const kiln: Record<string, string[]> = {}
  for (const mod of K6_MODULES) {
    const dir = workdir({
      'probe.js': `import * as m from '${mod}'
export const options = { iterations: 1 }
export default function () {}
export function handleSummary() { return { stdout: JSON.stringify(Object.keys(m).sort()) } }`,
    })
    const r = await kilnRun(['run', '-q', 'probe.js'], { cwd: dir })
    if (r.code === 0) kiln[mod] = JSON.parse(r.stdout) as string[]
    else assert.match(r.stderr, /unknown module/, `${mod}: ${r.stderr}`)
  }
  for (const [mod, names] of Object.entries(kiln)) {
    const typed = new Set(typedExports(mod))
    // Every native module also has a default export (the module object), as in k6's module system.
    // hexEncode is in k6's source (k6/crypto) but not in @types/k6 2.3.0.
    const invented = names.filter((n) => !typed.has(n) && n !== 'default' && !(mod === 'k6/crypto' && n === 'hexEncode'))
    assert.deepEqual(invented, [], `${mod} exports names k6 does not have`)
  }
  assert.ok((kiln['k6/http'] ?? []).includes('get'))
  const report = coverageReport(kiln)
  if (process.env.KILN_UPDATE_COVERAGE) writeFileSync(reportPath, report)
  assert.ok(existsSync(reportPath), 'run with KILN_UPDATE_COVERAGE=1 to create the report')
  assert.equal(readFileSync(reportPath, 'utf8'), report, 'stale: regenerate with KILN_UPDATE_COVERAGE=1 node scripts/test.js loadtest/coverage')
})
