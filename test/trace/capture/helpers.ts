/** A real `kiln server` and `kiln agent --trace-only` for the capture tests, and SQL on the stored rows. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { openClient } from '../../../src/store/client.ts'
import { startKiln } from '../../server/helpers.ts'

export const bin = join(import.meta.dirname, '..', '..', '..', 'bin', 'kiln.js')

/** Why the capture cannot run here, or null when it can. */
export function captureUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'request capture loads eBPF programs: run the tests as root'
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'the kernel has no BTF (/sys/kernel/btf/vmlinux)'
  for (const [cmd, pkg] of [
    ['clang', 'clang'],
    ['bpftool', 'bpftool'],
  ]) {
    if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) return `${cmd} is not installed: apt-get install ${pkg} libbpf-dev`
  }
  return null
}

export interface Agent {
  proc: ChildProcess
  log: () => string
  /** SIGINT, then the exit status and the whole log; SIGKILL after 30 s. */
  stop: (signal?: NodeJS.Signals) => Promise<{ status: number | null; log: string }>
}

/** Starts `kiln agent ARGS` and resolves once it logs that tracing has started. */
export async function startAgent(
  args: string[],
  opts: { env?: Record<string, string>; readyMs?: number; bin?: string } = {},
): Promise<Agent> {
  const proc = spawn(process.execPath, [opts.bin ?? bin, 'agent', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...opts.env },
  })
  process.on('exit', () => proc.kill('SIGKILL'))
  let log = ''
  proc.stderr!.setEncoding('utf8')
  proc.stderr!.on('data', (t: string) => (log += t))
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)))
  // The first start builds the BPF program (~10 s on a loaded 2-core machine); later ones use the cache.
  const ready = await Promise.race([
    waitFor(() => /trace: capturing/.test(log), opts.readyMs ?? 90_000).then(() => true),
    exited.then(() => false),
  ])
  if (!ready) throw new Error(`the agent exited before tracing started:\n${log}`)
  return {
    proc,
    log: () => log,
    async stop(signal = 'SIGINT') {
      if (proc.exitCode === null) proc.kill(signal)
      const t = setTimeout(() => proc.kill('SIGKILL'), 30_000)
      const status = await exited
      clearTimeout(t)
      return { status, log }
    },
  }
}

/** Polls `cond` every 50 ms until it holds; throws after `ms`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what = 'condition'): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(50)
  }
}

/** Runs SQL on a stopped server's data directory with the same embedded engine. */
export async function sql<T = Record<string, unknown>>(dataDir: string, query: string): Promise<T[]> {
  const { client } = await openClient({ dataDir })
  try {
    return (await (await client.query({ query, format: 'JSONEachRow' })).json()) as T[]
  } finally {
    await client.close()
  }
}

export interface Traced {
  /** SQL on the stored rows (the server has stopped). */
  query: <T = Record<string, unknown>>(q: string) => Promise<T[]>
  /** The agent's whole log. */
  log: string
  dispose: () => Promise<void>
}

/**
 * Runs a real `kiln server` and `kiln agent --trace-only`, then `traffic`, then stops the agent
 * (which uploads what it holds) and the server, and opens the store for queries.
 */
export async function traceSession(traffic: () => Promise<void>, agentArgs: string[] = []): Promise<Traced> {
  const kiln = await startKiln()
  try {
    // The socket capture alone: the bpftrace sources (block I/O, slow fs) take seconds to compile on a
    // loaded host and have their own tests (test/trace/sources).
    const agent = await startAgent([
      '--server',
      kiln.url,
      '--trace-only',
      '--upload-interval',
      '1s',
      '--trace-sources',
      'socket',
      ...agentArgs,
    ])
    // The agent stops whatever the traffic did; its own failure is reported first.
    const failed = await traffic().then(
      () => undefined,
      (e: unknown) => e,
    )
    const r = await agent.stop()
    if (r.status !== 0) throw new Error(`the agent exited with ${r.status}:\n${r.log}`)
    if (failed !== undefined) throw failed
    await kiln.stop()
    const log = agent.log()
    return { query: (q) => sql(kiln.dataDir, q), log, dispose: () => kiln.dispose() }
  } catch (e) {
    await kiln.dispose()
    throw e
  }
}
