#!/usr/bin/env node
// Generates the RPC message and service types from proto/ (Pyroscope's published API, written out
// in Kiln's own files) into src/server/rpc/gen/ with buf + protoc-gen-es. The output is not
// committed (a schema says it once; a copy would drift): the build and `npm run typecheck` run
// this first, and it does nothing when every output is newer than proto/ and this script.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const root = join(import.meta.dirname, '..')
const protoDir = join(root, 'proto')
const out = join(root, 'src', 'server', 'rpc', 'gen')
const require = createRequire(import.meta.url)

function files(dir, suffix, acc = []) {
  if (!existsSync(dir)) return acc
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) files(path, suffix, acc)
    else if (name.endsWith(suffix)) acc.push(path)
  }
  return acc
}

const inputs = [...files(protoDir, '.proto'), import.meta.filename]
const outputs = files(out, '_pb.ts')
const newestInput = Math.max(...inputs.map((f) => statSync(f).mtimeMs))
const expected = inputs.length - 1
if (outputs.length === expected && Math.min(...outputs.map((f) => statSync(f).mtimeMs)) >= newestInput) process.exit(0)

const buf = join(dirname(require.resolve('@bufbuild/buf/package.json')), 'bin', 'buf')
const plugin = join(dirname(require.resolve('@bufbuild/protoc-gen-es/package.json')), 'bin', 'protoc-gen-es')
// target=ts with .ts import specifiers: the sources import each other that way and tsc rewrites
// them to .js in dist/ (rewriteRelativeImportExtensions).
const template = {
  version: 'v2',
  clean: true,
  plugins: [{ local: [process.execPath, plugin], out, opt: ['target=ts', 'import_extension=ts'] }],
}
const r = spawnSync(process.execPath, [buf, 'generate', protoDir, '--template', JSON.stringify(template)], { cwd: root, stdio: 'inherit' })
if (r.status !== 0) {
  console.error(`gen-proto: buf generate failed (exit ${r.status ?? r.signal}); run \`npm install\` if @bufbuild/buf is missing`)
  process.exit(1)
}
