/**
 * The target of the profile-threshold tests: docs/load-test-gate.md's service and gate script,
 * taken from the page itself (so the documented example is what CI runs), the service run by
 * Node with `@kiln/node` from packages/node as its own process.
 */
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { root } from '../server/helpers.ts'
import { workdir } from './helpers.ts'

/** The files of the docs page: each code block after a `<!-- file: NAME -->` line. */
export function docFiles(): Record<string, string> {
  const md = readFileSync(join(root, 'docs', 'load-test-gate.md'), 'utf8')
  const files: Record<string, string> = {}
  for (const m of md.matchAll(/<!-- file: (\S+) -->\n```\w*\n([\s\S]*?)```/g)) files[m[1]!] = m[2]!
  if (!files['service.mjs'] || !files['gate.js']) throw new Error('docs/load-test-gate.md lost its service.mjs or gate.js block')
  return files
}

/** A folder with the page's files (and `extra`); the service imports the SDK built in packages/node/dist. */
export function gateDir(extra: Record<string, string> = {}): string {
  const files = docFiles()
  const sdk = join(root, 'packages', 'node', 'dist', 'index.js')
  const dir = workdir({ ...files, ...extra })
  writeFileSync(join(dir, 'service.mjs'), files['service.mjs']!.replace("'@kiln/node'", JSON.stringify(sdk)))
  return dir
}

export interface Target {
  url: string
  stop(): Promise<void>
}

/** Starts the page's service sending to `kilnUrl` (SLOW=1: the slowed handleSearch); resolves once it listens. */
export async function startTarget(dir: string, kilnUrl: string, env: Record<string, string> = {}): Promise<Target> {
  const p = spawn(process.execPath, [join(dir, 'service.mjs')], {
    cwd: dir,
    env: { ...process.env, KILN_URL: kilnUrl, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  p.stdout.on('data', (d: Buffer) => (out += d.toString()))
  p.stderr.on('data', (d: Buffer) => (out += d.toString()))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => (p.kill('SIGKILL'), reject(new Error(`the service did not start in 30 s:\n${out}`))), 30_000)
    p.stdout.on('data', () => {
      const m = /on (http:\/\/\S+)/.exec(out)
      if (m) clearTimeout(timer), resolve(m[1]!)
    })
    p.on('exit', (code) => (clearTimeout(timer), reject(new Error(`the service exited with ${code}:\n${out}`))))
  })
  return {
    url,
    stop: async () => {
      if (p.exitCode !== null || p.signalCode !== null) return
      const exited = new Promise((r) => p.once('exit', r))
      p.kill('SIGTERM')
      const timer = setTimeout(() => p.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** The run id `kiln run -o kiln=URL` names on stderr. */
export function runIdOf(stderr: string): string {
  const m = /runs\/get\?run=([\w-]+)/.exec(stderr)
  if (!m) throw new Error(`no stored run named in:\n${stderr}`)
  return m[1]!
}
