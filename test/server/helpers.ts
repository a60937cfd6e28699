/** Starts a real `kiln server` process for black-box tests and talks to it over HTTP. */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'

export const root = new URL('../..', import.meta.url).pathname
/** pprof files made by the real tools (scripts/fixtures/make-pprof.sh; test/fixtures/README.md). */
export const fixtures = join(root, 'test', 'fixtures')
export const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds'

export interface TestServer {
  url: string
  dataDir: string
  proc: ChildProcess
  stderr: () => string
  /** Stops the process (SIGTERM, or SIGKILL with `kill9`). */
  stop(opts?: { kill9?: boolean }): Promise<void>
  /** Stops and removes the data directory. */
  dispose(): Promise<void>
}

export async function startKiln(
  args: string[] = [],
  opts: { dataDir?: string; env?: Record<string, string>; selfProfile?: boolean } = {},
): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'kiln-test-'))
  const self = opts.selfProfile ? [] : ['--no-self-profile']
  const proc = spawn(
    process.execPath,
    [join(root, 'bin/kiln.js'), 'server', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, ...self, ...args],
    {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let err = ''
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  proc.stdout!.on('data', (d: Buffer) => (err += d.toString()))
  const url = await new Promise<string>((resolve, reject) => {
    // A server that does not start is killed: left running, it keeps the test file's process (and
    // the whole npm test) waiting for ever. 120 s: a whole-suite run at load 21 on the 2 cores had
    // servers that had printed nothing yet after 30 s (test/cli/ingest-by-hand.test.ts); the message
    // says how much CPU the process got, starved (little) or stuck (a lot).
    const timer = setTimeout(() => {
      const cpu = cpuSeconds(proc.pid)
      proc.kill('SIGKILL')
      reject(
        new Error(
          `server did not start in ${START_LIMIT_S} s (${cpu} s of CPU; load ${loadavg()
            .map((l) => l.toFixed(1))
            .join(' ')}):\n${err}`,
        ),
      )
    }, START_LIMIT_S * 1000)
    const check = () => {
      const m = /listening on (http:\/\/\S+)/.exec(err)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!.replace('localhost', '127.0.0.1'))
      }
    }
    proc.stderr!.on('data', check)
    proc.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code}:\n${err}`))
    })
  })
  const stop = async ({ kill9 = false } = {}) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return
    const exited = new Promise((r) => proc.once('exit', r))
    proc.kill(kill9 ? 'SIGKILL' : 'SIGTERM')
    await exited
  }
  return {
    url,
    dataDir,
    proc,
    stderr: () => err,
    stop,
    async dispose() {
      await stop()
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

const START_LIMIT_S = 120

/** User and system CPU time of a process so far, in seconds (one decimal), or '?' once it has gone. */
function cpuSeconds(pid: number | undefined): string {
  try {
    // Fields 14 and 15 of /proc/PID/stat, after the command in parentheses (which may hold spaces).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(f[11]) + Number(f[12])) / 100).toFixed(1)
  } catch {
    return '?'
  }
}

/** fetch that returns status, JSON (when JSON) and text. */
export async function call(url: string, init: RequestInit = {}): Promise<{ status: number; json: any; text: string; headers: Headers }> {
  const r = await fetch(url, init)
  const text = await r.text()
  let json: unknown = undefined
  if ((r.headers.get('content-type') ?? '').includes('json')) json = JSON.parse(text)
  return { status: r.status, json, text, headers: r.headers }
}

export const q = (params: Record<string, string>) => new URLSearchParams(params).toString()
