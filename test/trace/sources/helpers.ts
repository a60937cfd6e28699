/** Shared pieces of the host-source tests: children that are killed with the test, waiting with a deadline, collecting emitted rows. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { EmittedRow, TraceSource } from '../../../src/trace/types.ts'

export const root = join(import.meta.dirname, '..', '..', '..')
export const work = mkdtempSync(join(tmpdir(), 'kiln-sources-test-'))
const children: ChildProcess[] = []
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL')
  rmSync(work, { recursive: true, force: true })
})

export const isRoot = process.geteuid?.() === 0

/** Starts a child that is killed when the test process exits; resolves once it printed `ready`. */
export async function startChild(cmd: string, args: string[], timeoutMs = 20_000): Promise<ChildProcess> {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(c)
  // Never what keeps the test process alive: killed at exit.
  c.unref()
  ;(c.stdout as unknown as { unref(): void }).unref()
  let out = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} did not print ready in ${timeoutMs} ms: ${out}`)), timeoutMs)
    c.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('ready')) {
        clearTimeout(timer)
        resolve()
      }
    })
    c.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${cmd} exited (${code}) before it was ready: ${out}`))
    })
  })
  return c
}

/** Polls `check` every 50 ms until it returns a value, or throws with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = check()
    if (v !== undefined && v !== false) return v
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export type Row = Record<string, string | number | boolean>

/** An emitted row (columns, JSON text, or the loader's UTF-8 without its closing brace) with its shared columns, as columns. */
export function rowOf(r: EmittedRow, shared?: string): Row {
  const own = (
    typeof r === 'string' ? JSON.parse(r) : r instanceof Uint8Array ? JSON.parse(`${Buffer.from(r).toString('utf8')}}`) : r
  ) as Row
  return shared ? { ...own, ...(JSON.parse(`{${shared}}`) as Row) } : own
}

/** Starts a source with an emit that collects rows per table. */
export async function collect(source: TraceSource): Promise<Map<string, Row[]>> {
  const got = new Map<string, Row[]>()
  await source.start((table, rows, shared) => {
    const list = got.get(table) ?? []
    for (const r of rows) list.push(rowOf(r, shared))
    got.set(table, list)
  })
  return got
}

/** Runs a command to completion; throws with its output when it fails. */
export function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.error ?? ''}`)
  return r.stdout
}
