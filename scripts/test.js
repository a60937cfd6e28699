#!/usr/bin/env node
// Runs every test file under test/ and packages/*/test with Node's test runner (TypeScript via tsx).
// `node scripts/test.js PATTERN` runs only the files whose path contains PATTERN.
// It builds first (scripts/build.js, incremental): tests import the sources directly, and the
// `kiln` processes they start (bin/kiln.js) run dist/, which must never be older than src/.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'

function walk(dir, out) {
  let names
  try {
    names = readdirSync(dir)
  } catch {
    return out
  }
  for (const name of names) {
    if (name === 'node_modules' || name === 'fixtures') continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path, out)
    else if (name.endsWith('.test.ts')) out.push(path)
  }
  return out
}

const roots = ['test', ...readdirSafe('packages').map((p) => join('packages', p, 'test'))]
const filter = process.argv[2]
const files = roots
  .flatMap((r) => walk(r, []))
  .filter((f) => !filter || f.includes(filter))
  .sort()
if (files.length === 0) {
  console.error('no test files found')
  process.exit(1)
}
// The web UI is built once here when UI tests run, not by each UI test file (KILN_UI_BUILT tells
// test/ui/kiln.ts it is current).
const withUi = files.some((f) => f.startsWith(join('test', 'ui')))
const buildArgs = [join(import.meta.dirname, 'build.js'), ...(withUi ? ['--ui'] : [])]
const build = spawnSync(process.execPath, buildArgs, { stdio: 'inherit' })
if (build.status !== 0) process.exit(build.status ?? 1)
if (withUi) process.env.KILN_UI_BUILT = '1'
const first = runFiles(files)
if (first.status === 0) process.exit(0)

// A file that failed runs once more, alone, and both outcomes stay in the log: the suite drives real
// servers, kernels and browsers on a shared 2-core machine, where a test can lose a race it is not
// about. A second failure fails CI; a pass is still reported by name below, to be mended.
const failed = first.failures
const failedFiles = [...new Set(failed.map((f) => f.file).filter(Boolean))]
if (failedFiles.length === 0 || failedFiles.length > 3) process.exit(first.status)
console.log(`\n# ${failed.length} test(s) failed in ${failedFiles.length} file(s); running those files once more:`)
for (const f of failed) console.log(`#   ${f.file}: ${f.name}`)
const second = runFiles(failedFiles)
console.log(
  second.status === 0
    ? `# passed on the second run (flaky, to be mended): ${failedFiles.join(', ')}`
    : `# failed again: ${[...new Set(second.failures.map((f) => f.file))].join(', ')}`,
)
process.exit(second.status)

function runFiles(list) {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-test-'))
  const out = join(dir, 'failures.jsonl')
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-concurrency=1',
      '--test-reporter=tap',
      '--test-reporter-destination=stdout',
      `--test-reporter=${join(import.meta.dirname, 'test-failures.mjs')}`,
      `--test-reporter-destination=${out}`,
      ...list,
    ],
    { stdio: 'inherit' },
  )
  let failures = []
  try {
    failures = readFileSync(out, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
  } catch {}
  rmSync(dir, { recursive: true, force: true })
  return { status: r.status ?? 1, failures }
}

function readdirSafe(dir) {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}
