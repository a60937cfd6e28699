import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

const bin = join(import.meta.dirname, '..', '..', 'bin', 'kiln.js')

/** Runs the `kiln` CLI as a process (stdin from `input`), stdout/stderr as latin1. */
export function kiln(args: string[], input?: string | Buffer, env?: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    input: typeof input === 'string' ? Buffer.from(input, 'latin1') : input,
    maxBuffer: 1 << 28,
    timeout: 120000,
    env: env ?? process.env,
  })
  return { status: r.status, stdout: r.stdout.toString('latin1'), stderr: r.stderr.toString('latin1') }
}
