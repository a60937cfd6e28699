/**
 * Seeded fuzzing of the JFR decoder: the Pyroscope recordings with bytes flipped, overwritten,
 * inserted and cut — with the chunk size in the header kept in step, so that a cut reaches the
 * metadata, constant pools and events instead of stopping at the header check — and with their
 * labels snapshot mutated. Each case must end in a list of profiles or a KilnError, never another
 * exception; the timeout turns a hang into a failure. FUZZ_SEED=n reruns with another seed.
 * With a JDK installed, a recording the JDK writes joins them.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeJfr } from '../../src/formats/index.ts'
import { expectProfileOrKilnError, prng } from './support.ts'
import { readFileSync } from 'node:fs'
import { ProtoWriter } from '../../src/formats/proto.ts'
import { gunzipped, hotJfr, noJdk, noSharedJfr, recordHot } from './jfr-support.ts'

const SEED = Number(process.env.FUZZ_SEED ?? 20261122)
const CASES = 300

type Rnd = () => number
const int = (rnd: Rnd, n: number) => Math.floor(rnd() * n)

/** One to three mutations; for a recording (`jfr`), mostly past the header, whose chunk size follows the new length. */
function mutate(src: Uint8Array, rnd: Rnd, jfr: boolean): Uint8Array {
  let b = Uint8Array.from(src)
  // Past the 68-byte header most of the time: the header's own checks are tested elsewhere.
  const skip = jfr ? 68 : 0
  const at = () => (rnd() < 0.9 ? skip + int(rnd, Math.max(1, b.length - skip)) : int(rnd, b.length))
  for (let m = 1 + int(rnd, 3); m > 0; m--) {
    const i = at()
    switch (int(rnd, 6)) {
      case 0:
        b[i] = b[i]! ^ (1 << int(rnd, 8))
        break
      case 1:
        b[i] = [0x00, 0xff, 0x80, 0x7f, 0x01, int(rnd, 256)][int(rnd, 6)]!
        break
      case 2:
        b = b.subarray(0, i)
        break
      case 3: {
        const ins = Uint8Array.from({ length: 1 + int(rnd, 8) }, () => (rnd() < 0.5 ? 0xff : int(rnd, 256)))
        b = Uint8Array.from([...b.subarray(0, i), ...ins, ...b.subarray(i)])
        break
      }
      case 4:
        b = Uint8Array.from([...b.subarray(0, i), ...b.subarray(i + 1 + int(rnd, 32))])
        break
      default:
        for (let k = 0; k < 4 && i + k < b.length; k++) b[i + k] = int(rnd, 256)
    }
  }
  if (jfr && b.length >= 68 && rnd() < 0.8) new DataView(b.buffer, b.byteOffset).setBigInt64(8, BigInt(b.length))
  return b
}

/** LabelsSnapshot { contexts: {1 → [request=/checkout]}, strings: {1: request, 2: /checkout} }. */
function labelsSnapshot(): Uint8Array {
  const w = new ProtoWriter()
  w.message(1, (e) => e.varint(1, 1).message(2, (c) => c.message(1, (l) => l.varint(1, 1).varint(2, 2))))
  w.message(2, (e) => e.varint(1, 1).string(2, 'request'))
  w.message(2, (e) => e.varint(1, 2).string(2, '/checkout'))
  return w.finish()
}

test(`JFR: ${CASES} mutated recordings and labels, every case a profile list or a KilnError`, { timeout: 600_000 }, () => {
  const rnd = prng(SEED)
  // The repository's JDK recording; Pyroscope's async-profiler ones (with their labels) when ../shared is there.
  const recordings: [string, Uint8Array][] = [['hot', new Uint8Array(hotJfr())]]
  if (!noSharedJfr)
    recordings.push(
      ['dump1', new Uint8Array(gunzipped('dump1.jfr.gz'))],
      ['kafka', new Uint8Array(gunzipped('cortex-dev-01__kafka-0__cpu__0.jfr.gz'))],
    )
  else console.log(`# ${noSharedJfr}`)
  // The JDK writes constants in several checkpoint events and many more event types.
  if (!noJdk()) recordings.push(['jdk', new Uint8Array(readFileSync(recordHot()))])
  // A LabelsSnapshot (context 1 → request=/checkout) as Pyroscope's Java agent sends beside the recording.
  const labels = noSharedJfr ? labelsSnapshot() : new Uint8Array(gunzipped('dump1.labels.pb.gz'))
  const outcomes: Record<string, number> = {}
  let samples = 0
  for (let i = 0; i < CASES; i++) {
    const [name, src] = recordings[i % recordings.length]!
    const mutateLabels = i % 5 === 4
    const m = mutateLabels ? src : mutate(src, rnd, true)
    const l = mutateLabels ? mutate(labels, rnd, false) : labels
    const r = expectProfileOrKilnError(`seed ${SEED} case ${i} (${name}${mutateLabels ? ' labels' : ''}, ${m.length} bytes)`, () => {
      for (const p of decodeJfr(m, { labels: l })) samples += p.profile.samples.length
    })
    outcomes[r] = (outcomes[r] ?? 0) + 1
  }
  if (process.env.FUZZ_VERBOSE) console.log(outcomes, samples)
  assert.ok(outcomes.ok! > 0 && outcomes.error! > 0 && samples > 0, JSON.stringify(outcomes))
})
