/** Shared by the benchmarks: realistic pprof bodies and a Kiln server process. */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { decodePprof, encodePprof } from '../src/formats/pprof.ts'

export const root = new URL('..', import.meta.url).pathname
export const fixtureDir = join(root, '..', 'shared', 'fixtures', 'pyroscope', 'pprof')

/** The SDK-sent pprof fixtures, re-timed to now and gzipped as SDKs send them. */
export function realisticBodies(): { name: string; body: Uint8Array; samples: number }[] {
  const files = ['cpu.pb.gz', 'heap.pb.gz', 'nodejs-wall.pb.gz', 'nodejs-heap.pb.gz', 'profile_java', 'profile_python', 'cpu-js.pb.gz', 'req_5.pprof']
  return files.map((f) => {
    const p = decodePprof(readFileSync(join(fixtureDir, f)))
    p.timeMs = Date.now()
    return { name: f, body: encodePprof(p, { gzip: true }), samples: p.samples.length * p.sampleTypes.length }
  })
}

export const fmt = (n: number, d = 1) => n.toLocaleString('en-US', { maximumFractionDigits: d })
