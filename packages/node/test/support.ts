/** Runs a small app that uses @kiln/node as its own process, as an application would. */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const root = new URL('../../..', import.meta.url).pathname
export const sdk = new URL('../src/index.ts', import.meta.url).pathname

/** A CPU-bound function whose name the tests look for in profiles. */
export const hotSource = `function kilnSdkHot(ms) { const end = Date.now() + ms; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); return x }`

/** Writes `source` (an ES module; `SDK` is replaced by the SDK's path) and runs it with tsx. */
export async function runApp(
  source: string,
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<{ code: number | null; out: string; err: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-node-sdk-'))
  const file = join(dir, 'app.mts')
  writeFileSync(file, source.replaceAll('SDK', JSON.stringify(sdk)))
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    const code = await new Promise<number | null>((r) => child.on('exit', r))
    clearTimeout(timer)
    return { code, out, err }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
