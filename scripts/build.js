#!/usr/bin/env node
// Compiles Kiln to JavaScript: src/ → dist/ (tsc, incremental: a few seconds when little changed;
// import specifiers written `./x.ts` are rewritten to `./x.js`), @kiln/node → packages/node/dist
// (ES modules with .d.ts, and one CommonJS file bundled by esbuild). `--ui` also builds the web UI
// (vite build ui → ui/dist). Every file under src/ is compiled: no list to keep up to date.
// `npm install` runs this with --ui (prepare); `npm test` runs it first, so the CLI the tests start
// (bin/kiln.js → dist/) is never older than the sources.
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { createRequire } from 'node:module'

const root = join(import.meta.dirname, '..')
const require = createRequire(import.meta.url)
const started = Date.now()

function run(what, cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' })
  if (r.status !== 0) {
    console.error(`build: ${what} failed (exit ${r.status ?? r.signal})`)
    process.exit(1)
  }
}
const tsc = (project) =>
  run(`tsc -p ${project}`, process.execPath, [join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc'), '-p', project])

function walk(dir, out = []) {
  let names = []
  try {
    names = readdirSync(dir)
  } catch {
    return out
  }
  for (const name of names) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path, out)
    else out.push(path)
  }
  return out
}

/**
 * Removes outputs whose source is gone (files move between folders while people work), then
 * folders left empty. tsc's build info is removed with them so it emits the moved files again.
 */
function prune(outDir, srcDir) {
  let removed = 0
  for (const f of walk(outDir)) {
    const rel = relative(outDir, f)
    if (rel === '.tsbuildinfo') continue
    const base = rel.replace(/(\.d\.ts|\.js\.map|\.d\.ts\.map|\.js)$/, '')
    const source = rel.endsWith('.mjs') ? rel : `${base}.ts`
    if (!existsSync(join(srcDir, source))) {
      rmSync(f)
      removed++
    }
  }
  removeEmpty(outDir)
  return removed
}
function removeEmpty(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) {
      removeEmpty(path)
      if (readdirSync(path).length === 0) rmSync(path, { recursive: true })
    }
  }
}

// 1. The kiln package: src/ → dist/, same depth, so paths like ../../ui/dist and ../../pxl
// resolve the same from either. Worker entries (.mjs) are copied beside their worker.js; the
// other non-TypeScript files stay in src/ and are read from there (src/assets.ts).
// The RPC message types are generated from proto/ first (scripts/gen-proto.js; not committed).
run('gen-proto', process.execPath, [join(root, 'scripts', 'gen-proto.js')])
const dist = join(root, 'dist')
if (existsSync(dist) && prune(dist, join(root, 'src')) > 0) rmSync(join(dist, '.tsbuildinfo'), { force: true })
tsc('tsconfig.build.json')
for (const f of walk(join(root, 'src')).filter((f) => f.endsWith('.mjs'))) {
  const to = join(dist, relative(join(root, 'src'), f))
  mkdirSync(dirname(to), { recursive: true })
  copyFileSync(f, to)
}

// 2. @kiln/node: ES modules + declarations by tsc, and dist/index.cjs for require().
const node = join(root, 'packages', 'node')
if (existsSync(join(node, 'dist')) && prune(join(node, 'dist'), join(node, 'src')) > 0)
  rmSync(join(node, 'dist', '.tsbuildinfo'), { force: true })
tsc('packages/node/tsconfig.build.json')
const esbuild = await import('esbuild')
await esbuild.build({
  entryPoints: [join(node, 'src', 'index.ts')],
  outfile: join(node, 'dist', 'index.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
})

// 3. The web UI, when asked (it takes longer and changes less often).
if (process.argv.includes('--ui'))
  run('vite build ui', process.execPath, [
    join(dirname(require.resolve('vite/package.json')), 'bin', 'vite.js'),
    'build',
    'ui',
    '--logLevel',
    'warn',
  ])

console.error(`build: done in ${((Date.now() - started) / 1000).toFixed(1)} s`)
