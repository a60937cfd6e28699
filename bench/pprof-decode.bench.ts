/**
 * pprof decode throughput: Kiln's decodePprof (gunzip + parse + stacks resolved into a Profile)
 * against pprof-format's Profile.decode (gunzip + parse into objects, stacks left as ids) on the
 * same gzipped bodies, interleaved in one process. Method: bench/README.md.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { Profile as PprofFormat } from 'pprof-format'
import { decodePprof } from '../src/formats/pprof.ts'
import { gzip, isGzip } from '../src/formats/gzip.ts'
import { interleavedRates } from './support.ts'

// The repository's pprof fixtures (scripts/fixtures/make-pprof.sh).
const dir = join(import.meta.dirname, '../test/fixtures/pprof')
const bodies = readdirSync(dir)
  .filter((f) => !f.endsWith('.json') && f !== 'invalid_utf8.pb.gz')
  .sort()
  .map((f) => {
    const b = new Uint8Array(readFileSync(join(dir, f)))
    return isGzip(b) ? b : gzip(b) // as SDKs send them
  })
const gzBytes = bodies.reduce((s, b) => s + b.length, 0)
const rawBytes = bodies.reduce((s, b) => s + gunzipSync(b).length, 0)
const samples = bodies.reduce((s, b) => s + PprofFormat.decode(gunzipSync(b)).sample.length, 0)

const contenders: Record<string, () => number> = {
  kiln: () => bodies.reduce((n, b) => n + decodePprof(b).samples.length, 0),
  'pprof-format': () => bodies.reduce((n, b) => n + PprofFormat.decode(gunzipSync(b)).sample.length, 0),
  'gunzip only': () => bodies.reduce((n, b) => n + gunzipSync(b).length, 0),
}
const rates = interleavedRates(contenders, 20)
console.log(
  `${bodies.length} bodies: ${(gzBytes / 1024).toFixed(0)} KiB gzipped, ${(rawBytes / 1024).toFixed(0)} KiB raw, ${samples} samples`,
)
const rate = (name: string) => rates[name]!
for (const name of Object.keys(contenders)) {
  const r = rate(name)
  console.log(
    `${name.padEnd(13)} ${((r * rawBytes) / 1e6).toFixed(1).padStart(7)} MB/s raw  ${((r * gzBytes) / 1e6).toFixed(1).padStart(6)} MB/s gzipped  ${((r * samples) / 1e6).toFixed(2).padStart(6)} M samples/s`,
  )
}
console.log(`ratio kiln / pprof-format: ${(rate('kiln') / rate('pprof-format')).toFixed(2)} (higher is better for Kiln)`)
