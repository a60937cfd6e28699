/**
 * A VU's `http.get` iterations, another tree's build against this one's, in one process:
 * `node bin/run-ts.js bench/loadtest-vu-ab.ts OLD_ROOT [ROUNDS]` (OLD_ROOT: a built checkout).
 * Each tree gets 10 VUs (its dist/ VU class, a Host that keeps the samples in its own SampleBatch)
 * running `http.get(url)` against a Node server in its own process; bursts of 200 iterations per
 * VU go old, new, new, old, …, and each burst's CPU per iteration is this process's user + system
 * time over its iterations: the engine, the host side and the transport, without kiln run's
 * threads and scheduling. Interleaving bursts inside one process keeps a shared machine's load
 * about the same for both trees (bench/README.md, "Load testing").
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { helloServer, interleave } from './loadtest-ab.ts'

const [oldRoot, roundsArg = '20'] = process.argv.slice(2)
if (!oldRoot) {
  console.error('usage: bench/loadtest-vu-ab.ts OLD_ROOT [ROUNDS]')
  process.exit(2)
}
const VUS = 10
const PER = 200
const dir = mkdtempSync(join(tmpdir(), 'kiln-vu-ab-'))
const script = join(dir, 'get.js')
writeFileSync(script, `import http from 'k6/http'\nexport default function () { http.get(__ENV.URL) }\n`)

const server = await helloServer()
const url = server.url

interface Vu {
  init(): Promise<void>
  call(name: string, argJson?: string, iter?: number): Promise<{ kind: string; value: string }>
}

async function tree(root: string): Promise<() => Promise<number>> {
  const { VU } = (await import(join(root, 'dist/loadtest/engine/vu.js'))) as { VU: new (id: number, host: unknown) => Vu }
  const { consolidate } = (await import(join(root, 'dist/loadtest/run/options.js'))) as { consolidate(l: object[]): { vu: unknown } }
  const { SampleBatch } = (await import(join(root, 'dist/loadtest/results/samples.js'))) as {
    SampleBatch: new () => { add(m: string, v: number, t: object): void; take(): unknown; size: number }
  }
  const registry = new SampleBatch()
  const { readFileSync } = await import('node:fs')
  const host = {
    options: consolidate([{}]).vu,
    httpDebug: '',
    script: { path: script, source: readFileSync(script, 'utf8') },
    env: { URL: url },
    secrets: [],
    registry,
    shared: new Map(),
    emit: (m: string, v: number, t: object) => registry.add(m, v, t),
    defineMetric: () => '',
    log: () => {},
    readFile: () => '',
    readBytes: () => Buffer.alloc(0),
    execState: () => ({}),
    abort: () => {},
    markFailed: () => {},
  }
  const vus: Vu[] = []
  for (let i = 1; i <= VUS; i++) {
    const v = new VU(i, host)
    await v.init()
    vus.push(v)
  }
  let iter = 0
  return async () => {
    const c0 = process.cpuUsage()
    await Promise.all(
      vus.map(async (v) => {
        for (let i = 0; i < PER; i++) {
          const r = await v.call('default', undefined, iter++)
          if (r.kind !== 'ok') throw new Error(`iteration failed: ${r.value}`)
        }
      }),
    )
    const c = process.cpuUsage(c0)
    if (registry.size >= 4096) registry.take()
    return (c.user + c.system) / (VUS * PER)
  }
}

try {
  const trees = { old: await tree(resolve(oldRoot)), new: await tree(resolve(import.meta.dirname, '..')) }
  // Warm-up: QuickJS's WASM tiered up and both trees' code optimised before anything counts.
  await interleave(trees, { rounds: Number(roundsArg), warmup: 8, what: `http.get iterations: CPU per iteration (bursts of ${VUS * PER})` })
} finally {
  server.proc.kill()
}
process.exit(0)
