/**
 * Shared by the format tests: where the real fixtures are, a seeded PRNG, and two decoders that
 * are not Kiln's — `pprof-format` (npm) and Go's `go tool pprof -raw` — to check Kiln against.
 */
import { existsSync, readFileSync, readdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { gunzipSync } from 'node:zlib'
import { Profile as PprofFormat } from 'pprof-format'
import { isKilnError } from '../../src/model/errors.ts'

/** pprof files made here by the real tools (scripts/fixtures/make-pprof.sh; test/fixtures/README.md). */
export const PPROF_DIR = join(import.meta.dirname, '../fixtures/pprof')
/**
 * Pyroscope's SDK-sent fixtures (AGPL-3.0, never copied into the repository), read from a sibling
 * checkout when there is one: extra cross-checks, named `pyroscope/FILE` in `pprofFixtures()`.
 */
export const SHARED_PPROF_DIR = join(import.meta.dirname, '../../../shared/fixtures/pyroscope/pprof')
export const haveShared = existsSync(SHARED_PPROF_DIR)
export const NO_SHARED = `../shared/fixtures is absent (${SHARED_PPROF_DIR}): the cross-checks against Pyroscope's fixtures are skipped; the repository's own fixtures cover the same ground`
export const GOLDEN_DIR = join(import.meta.dirname, '../golden')

/** The pprof fixtures (not the sample_type_config JSON beside some of them), the repository's first. */
export function pprofFixtures(): string[] {
  const own = readdirSync(PPROF_DIR)
    .filter((f) => !f.endsWith('.json'))
    .sort()
  const shared = haveShared
    ? readdirSync(SHARED_PPROF_DIR)
        .filter((f) => !f.endsWith('.json'))
        .sort()
        .map((f) => `pyroscope/${f}`)
    : []
  return [...own, ...shared]
}
export const BROKEN_FIXTURES = new Set(['invalid_utf8.pb.gz', 'pyroscope/invalid_utf8.pb.gz'])
/** Path of a fixture: `NAME` in the repository, `pyroscope/NAME` in ../shared. */
export const fixturePath = (name: string): string =>
  name.startsWith('pyroscope/') ? join(SHARED_PPROF_DIR, name.slice('pyroscope/'.length)) : join(PPROF_DIR, name)
export const readFixture = (name: string): Uint8Array => new Uint8Array(readFileSync(fixturePath(name)))
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

/** Runs `go tool pprof -raw` on the bytes and returns its text. */
function goRaw(bytes: Uint8Array): string {
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
    return r.stdout
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

interface GoRaw extends Independent {
  /** Per sample type, folded stacks with the task's naming rules applied to Go's locations. */
  folded: string[]
}

/**
 * Reads `go tool pprof -raw`: the sample header (types), sample lines (`v1 v2: loc loc …`, leaf
 * first), locations (`id: 0xaddr M=m name file:line s=n(system name)`, inlined callers on the
 * following indented lines) and mappings (`id: start/limit/offset file …`).
 */
export function viaGo(bytes: Uint8Array): GoRaw {
  const lines = goRaw(bytes).split('\n')
  const at = lines.indexOf('Samples:')
  // The header names each sample type as type/unit; the default one is marked [dflt].
  const sampleTypes = lines[at + 1]!.trim()
    .split(/\s+/)
    .map((t) => t.replace(/\[dflt\]$/, ''))
  const samples: [number[], number[]][] = []
  let i = at + 2
  for (; i < lines.length && !/^[A-Z]/.test(lines[i]!); i++) {
    const m = /^\s*(-?\d+(?:\s+-?\d+)*):((?:\s+\d+)*)\s*$/.exec(lines[i]!)
    if (m) samples.push([m[1]!.trim().split(/\s+/).map(Number), m[2]!.trim().split(/\s+/).filter(Boolean).map(Number)])
  }
  const locs = new Map<number, { address: number; mapping: number; names: string[] }>()
  const files = new Map<number, string>()
  let last: { address: number; mapping: number; names: string[] } | undefined
  for (; i < lines.length; i++) {
    const line = lines[i]!
    const loc = /^\s*(\d+): (0x[0-9a-f]+) (?:M=(\d+) )?(?:\[F\] )?(.*)$/.exec(line)
    const map = /^(\d+): 0x[0-9a-f]+\/0x[0-9a-f]+\/0x[0-9a-f]+ (\S*)/.exec(line)
    const lineName = (rest: string): string => {
      const m = /^(.*) \S*:\d+(?::\d+)? s=\d+(?:\((.*)\))?$/.exec(rest)
      return m ? m[1] || m[2] || '' : ''
    }
    if (map) files.set(Number(map[1]), map[2]!)
    else if (loc) {
      last = { address: parseInt(loc[2]!, 16), mapping: Number(loc[3] ?? 0), names: loc[4]!.trim() ? [lineName(loc[4]!)] : [] }
      locs.set(Number(loc[1]), last)
    } else if (last && /^ {13}\S/.test(line)) last.names.push(lineName(line.trim()))
    else last = undefined
  }
  const frames = (id: number): string[] => {
    const l = locs.get(id)!
    const file = files.get(l.mapping) ?? ''
    const fallback = file ? file.split('/').pop()! : l.address ? `0x${l.address.toString(16)}` : '[unknown]'
    return l.names.length ? l.names.map((n) => n || fallback).reverse() : [fallback]
  }
  const totals = sampleTypes.map(() => 0)
  const merged = sampleTypes.map(() => new Map<string, number>())
  for (const [values, ids] of samples) {
    const key = [...ids].reverse().flatMap(frames).join(';')
    values.forEach((v, j) => {
      totals[j]! += v
      if (v) merged[j]!.set(key, (merged[j]!.get(key) ?? 0) + v)
    })
  }
  const folded = merged.map((m) =>
    [...m.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([k, v]) => `${k} ${v}\n`)
      .join(''),
  )
  return { sampleTypes, totals, folded }
}
