/**
 * Shared by the format tests: where the real fixtures are, a seeded PRNG, and two decoders that
 * are not Kiln's — `pprof-format` (npm) and Go's `go tool pprof -raw` — to check Kiln against.
 */
import { readFileSync, readdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { gunzipSync } from 'node:zlib'
import { Profile as PprofFormat } from 'pprof-format'
import { isKilnError } from '../../src/model/errors.ts'

export const PPROF_DIR = join(import.meta.dirname, '../../../shared/fixtures/pyroscope/pprof')
export const GOLDEN_DIR = join(import.meta.dirname, '../golden')

/** The pprof fixtures (not the sample_type_config JSON beside some of them). */
export function pprofFixtures(): string[] {
  return readdirSync(PPROF_DIR).filter((f) => !f.endsWith('.json')).sort()
}
export const BROKEN_FIXTURES = new Set(['invalid_utf8.pb.gz'])
export const readFixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(PPROF_DIR, name)))
export const ungzip = (b: Uint8Array): Uint8Array => (b[0] === 0x1f && b[1] === 0x8b ? new Uint8Array(gunzipSync(b)) : b)

/** mulberry32: small, seeded, good enough to pick mutations reproducibly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Runs fn; passes when it returns or throws a KilnError, fails with the case's name otherwise. */
export function expectProfileOrKilnError(what: string, fn: () => unknown): 'ok' | 'error' {
  try {
    fn()
    return 'ok'
  } catch (e) {
    if (isKilnError(e)) return 'error'
    throw new Error(`${what}: threw ${(e as Error)?.name}: ${(e as Error)?.message}`, { cause: e })
  }
}

export interface Independent {
  sampleTypes: string[]
  totals: number[]
}

/** Sample types and per-type totals as pprof-format reads them. */
export function viaPprofFormat(bytes: Uint8Array): Independent & { p: PprofFormat } {
  const p = PprofFormat.decode(ungzip(bytes))
  const S = p.stringTable.strings
  const sampleTypes = p.sampleType.map((t) => `${S[Number(t.type)]}/${S[Number(t.unit)]}`)
  const totals = sampleTypes.map((_, i) => p.sample.reduce((sum, s) => sum + Number(s.value[i] ?? 0), 0))
  return { sampleTypes, totals, p }
}

/**
 * Folded stacks of one sample type built from pprof-format's objects, with the naming rules of
 * the task written out again here (function name, system name, mapping basename, address).
 */
export function foldedViaPprofFormat(bytes: Uint8Array, typeIndex: number): string {
  const { p } = viaPprofFormat(bytes)
  const S = p.stringTable.strings
  const fns = new Map(p.function.map((f) => [Number(f.id), S[Number(f.name)] || S[Number(f.systemName)] || '']))
  const maps = new Map(p.mapping.map((m) => [Number(m.id), S[Number(m.filename)] ?? '']))
  const locs = new Map(
    p.location.map((l) => {
      const fallback = (): string => {
        const file = maps.get(Number(l.mappingId)) ?? ''
        if (file) return file.split('/').pop()!
        return Number(l.address) ? `0x${Number(l.address).toString(16)}` : '[unknown]'
      }
      const names = l.line.length ? l.line.map((ln) => fns.get(Number(ln.functionId)) || fallback()) : [fallback()]
      return [Number(l.id), names.reverse()]
    }),
  )
  const out = new Map<string, number>()
  for (const s of p.sample) {
    const v = Number(s.value[typeIndex] ?? 0)
    if (!v) continue
    const stack = [...s.locationId].reverse().flatMap((id) => locs.get(Number(id))!)
    const k = stack.join(';')
    out.set(k, (out.get(k) ?? 0) + v)
  }
  return [...out.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([k, v]) => `${k} ${v}\n`)
    .join('')
}

let goChecked: boolean | undefined
/** Whether `go tool pprof` can run here (Debian golang-go; CI installs it). */
export function haveGo(): boolean {
  if (goChecked === undefined) goChecked = spawnSync('go', ['version'], { encoding: 'utf8' }).status === 0
  return goChecked
}

/** Sample types and per-type totals as `go tool pprof -raw` prints them. */
export function viaGo(bytes: Uint8Array): Independent {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-go-pprof-'))
  try {
    const file = join(dir, 'profile.pb')
    writeFileSync(file, bytes)
    const r = spawnSync('go', ['tool', 'pprof', '-raw', '-symbolize=none', file], {
      encoding: 'utf8',
      env: { ...process.env, HOME: process.env.HOME ?? dir, GOCACHE: join(dir, 'cache'), PPROF_TMPDIR: dir },
      timeout: 120_000,
    })
    if (r.status !== 0) throw new Error(`go tool pprof failed: ${r.stderr}`)
    const lines = r.stdout.split('\n')
    const at = lines.indexOf('Samples:')
    // The header names each sample type as type/unit; the default one is marked [dflt].
    const sampleTypes = lines[at + 1]!.trim().split(/\s+/).map((t) => t.replace(/\[dflt\]$/, ''))
    const totals = sampleTypes.map(() => 0)
    for (let i = at + 2; i < lines.length && !/^[A-Z]/.test(lines[i]!); i++) {
      const m = /^\s*(-?\d+(?:\s+-?\d+)*):/.exec(lines[i]!)
      if (!m) continue
      m[1]!.trim().split(/\s+/).forEach((v, j) => (totals[j]! += Number(v)))
    }
    return { sampleTypes, totals }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

