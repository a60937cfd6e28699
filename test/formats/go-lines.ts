/**
 * `go tool pprof -lines -top`: the source lines Go's own pprof reads from a profile, one row per
 * function and file:line with its flat and cumulative values — what a user sees of line info.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Runs go tool pprof on the bytes with the given report flags; returns its stdout. */
export function goPprof(bytes: Uint8Array, flags: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-go-lines-'))
  try {
    const file = join(dir, 'profile.pb')
    writeFileSync(file, bytes)
    const r = spawnSync('go', ['tool', 'pprof', '-symbolize=none', ...flags, file], {
      encoding: 'utf8',
      env: { ...process.env, HOME: process.env.HOME ?? dir, GOCACHE: join(dir, 'cache'), PPROF_TMPDIR: dir },
      timeout: 120_000,
    })
    if (r.status !== 0) throw new Error(`go tool pprof ${flags.join(' ')} failed: ${r.stderr}`)
    return r.stdout
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** `-lines -top` of every node, as sorted rows `flat cum name file:line` (the header dropped). */
export function goTopLines(bytes: Uint8Array, sampleIndex?: string): string[] {
  const flags = ['-lines', '-top', '-nodecount=1000000', ...(sampleIndex ? [`-sample_index=${sampleIndex}`] : [])]
  const out = goPprof(bytes, flags).split('\n')
  const head = out.findIndex((l) => /^\s*flat\s+flat%/.test(l))
  return out
    .slice(head + 1)
    .filter((l) => l.trim())
    .map((l) => {
      const [flat, , , cum, , ...rest] = l.trim().split(/\s+/)
      return `${flat} ${cum} ${rest.join(' ')}`
    })
    .sort()
}
