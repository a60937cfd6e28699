#!/usr/bin/env node
// Runs every test file under test/ and packages/*/test with Node's test runner (TypeScript via tsx).
// `node scripts/test.js PATTERN` runs only the files whose path contains PATTERN.
// It builds first (scripts/build.js, incremental): tests import the sources directly, and the
// `kiln` processes they start (bin/kiln.js) run dist/, which must never be older than src/.
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'

function walk(dir, out) {
  let names
  try { names = readdirSync(dir) } catch { return out }
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
const files = roots.flatMap((r) => walk(r, [])).filter((f) => !filter || f.includes(filter)).sort()
if (files.length === 0) { console.error('no test files found'); process.exit(1) }
const build = spawnSync(process.execPath, [join(import.meta.dirname, 'build.js')], { stdio: 'inherit' })
if (build.status !== 0) process.exit(build.status ?? 1)
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit' })
process.exit(r.status ?? 1)

function readdirSafe(dir) { try { return readdirSync(dir) } catch { return [] } }
