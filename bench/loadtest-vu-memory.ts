/**
 * A VU's memory, exactly: `node bin/run-ts.js bench/loadtest-vu-memory.ts [OLD_ROOT]` makes 50 VUs
 * (after a warm-up one) in one thread of a fresh process, from a tree's build (dist/: tsx's
 * transpiled code holds more V8 heap), and prints per VU the Rss of its WASM memory (each VU's 16 MB
 * mapping in /proc/self/smaps: pages touched, whatever V8's heap sizing does) and V8's heapUsed
 * after two full GCs, for a sleeping script with and without k6/http imported; with OLD_ROOT (a
 * built checkout), that tree's first. Unlike the peak RSS of `kiln run -u 1000` against `-u 10`
 * (loadtest.bench.ts), these do not move with the machine's load. Method: bench/README.md.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const VUS = 50
const dir = mkdtempSync(join(tmpdir(), 'kiln-vu-memory-'))
const scripts = {
  'with k6/http': `import http from 'k6/http'\nimport { sleep } from 'k6'\nexport default function () { sleep(0.1) }\n`,
  without: `import { sleep } from 'k6'\nexport default function () { sleep(0.1) }\n`,
}
// Run in a child of each tree: its VU class with a Host that has only what init() reads.
const probe = (root: string, script: string): string => `
import { readFileSync } from 'node:fs'
const { VU } = await import(${JSON.stringify(join(root, 'dist/loadtest/engine/vu.js'))})
const { consolidate } = await import(${JSON.stringify(join(root, 'dist/loadtest/run/options.js'))})
const source = readFileSync(${JSON.stringify(script)}, 'utf8')
const host = {
  options: consolidate([{}]).vu, httpDebug: '', script: { path: ${JSON.stringify(script)}, source }, env: {}, secrets: [],
  registry: { add() {}, size: 0 }, shared: new Map(), emit() {}, defineMetric: () => '', log() {}, readFile: () => '',
  readBytes: () => Buffer.alloc(0), execState: () => ({}), abort() {}, markFailed() {},
}
await new VU(0, host).init()
gc(); gc()
const h0 = process.memoryUsage().heapUsed
const vus = []
for (let i = 1; i <= ${VUS}; i++) { const v = new VU(i, host); await v.init(); vus.push(v) }
gc(); gc()
const heap = (process.memoryUsage().heapUsed - h0) / ${VUS} / 1024
let size = 0
const rss = []
for (const l of readFileSync('/proc/self/smaps', 'utf8').split('\\n')) {
  const s = /^Size:\\s+(\\d+)/.exec(l)
  if (s) size = Number(s[1])
  const r = /^Rss:\\s+(\\d+)/.exec(l)
  if (r && size === 16384) rss.push(Number(r[1]))
}
rss.sort((a, b) => a - b)
console.log(rss[rss.length >> 1] + ' ' + heap.toFixed(1) + ' ' + rss.length)
process.exit(0)
`

const roots = [...process.argv.slice(2).map((r) => resolve(r)), resolve(import.meta.dirname, '..')]
console.log(`per VU, ${VUS} VUs in one thread: WASM memory (Rss of its mapping) + V8 heap`)
for (const root of roots) {
  for (const [what, src] of Object.entries(scripts)) {
    const file = join(dir, `${what.replace(/\W/g, '')}.js`)
    writeFileSync(file, src)
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', probe(root, file)], { encoding: 'utf8', cwd: root })
    const [wasm, heap, n] = r.stdout.trim().split(' ').map(Number) as [number, number, number]
    if (r.status !== 0 || n < VUS) {
      console.log(`  ${root}: ${what}: failed\n${r.stderr.slice(-2000)}`)
      continue
    }
    console.log(
      `  ${root} ${what.padEnd(12)} WASM ${wasm} KB + V8 heap ${heap.toFixed(0)} KB = ${(((wasm + heap) * 1024) / 1e6).toFixed(3)} MB (10^6 bytes, as loadtest.bench.ts)`,
    )
  }
}
