/**
 * The run's one Chromium process for `k6/browser`: started by the runner when a scenario asks for
 * `options.browser.type: 'chromium'`, reached over CDP by every thread's VUs (each connects
 * with playwright-core's connectOverCDP, so no thread carries another's protocol traffic), and
 * stopped when the run ends, is aborted or interrupted, or the process exits. With
 * K6_BROWSER_WS_URL set, as in k6, no Chromium starts: the VUs attach to that running browser
 * (one of its comma-separated URLs) for each iteration, and the run leaves it running.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError } from '../../errors.ts'

/** What a VU needs to use the browser: passed to worker threads with the other VU options. */
export interface BrowserInfo {
  /** The browser's CDP WebSocket URL ('' when it did not start); K6_BROWSER_WS_URL's list when remote. */
  endpoint: string
  /** A browser the run did not start (K6_BROWSER_WS_URL): attached per iteration, never stopped. */
  remote?: boolean
  /** Why it did not start: newPage() rejects with this. */
  error: string
  /** The scenarios whose VUs may use it. */
  scenarios: string[]
}

/** k6's default executable is found on PATH; Debian's Chromium is at this path. */
const DEFAULT_EXECUTABLE = '/usr/bin/chromium'
const START_TIMEOUT_MS = 60_000

/** Names of the scenarios with `options.browser.type` set; a type other than chromium is k6's config error. */
export function browserScenarios(raw: Record<string, unknown>): string[] {
  const out: string[] = []
  const scenarios = raw.scenarios
  if (!scenarios || typeof scenarios !== 'object') return out
  for (const [name, s] of Object.entries(scenarios as Record<string, { options?: { browser?: { type?: unknown } } }>)) {
    const type = s?.options?.browser?.type
    if (type === undefined || type === null || type === '') continue
    if (type !== 'chromium')
      throw new ConfigError(`scenario '${name}': unsupported browser type '${String(type)}': k6/browser supports 'chromium'`)
    out.push(name)
  }
  return out
}

/**
 * Chromium's command line: k6's environment variables (K6_BROWSER_ARGS as comma-separated
 * flags without the dashes, K6_BROWSER_HEADLESS=false for a window) over the flags the brief of
 * this module fixes: headless, no sandbox (root in containers), no GPU, no background traffic
 * that would show up in the browser_* metrics.
 */
export function chromiumArgs(env: NodeJS.ProcessEnv, userDataDir: string): string[] {
  const headless = !/^(false|0)$/i.test(env.K6_BROWSER_HEADLESS ?? '')
  const args = [
    ...(headless ? ['--headless'] : []),
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--no-first-run',
    '--no-default-browser-check',
    '--mute-audio',
    '--hide-scrollbars',
    '--remote-debugging-port=0',
    '--remote-debugging-address=127.0.0.1',
    `--user-data-dir=${userDataDir}`,
  ]
  for (const a of (env.K6_BROWSER_ARGS ?? '').split(',')) {
    const t = a.trim()
    if (t) args.push(t.startsWith('-') ? t : `--${t}`)
  }
  args.push('about:blank')
  return args
}

export class BrowserProcess {
  private readonly onExit = () => this.kill()
  private constructor(
    readonly info: BrowserInfo,
    private readonly child: ChildProcess | null,
    private readonly dir: string,
  ) {
    process.on('exit', this.onExit)
  }

  /**
   * Starts Chromium for `scenarios`. A missing or failing executable does not stop the run: as
   * in k6, each newPage() then fails with the reason (and what to do about it).
   */
  static async start(scenarios: string[], env: NodeJS.ProcessEnv = process.env): Promise<BrowserProcess> {
    const exe = env.K6_BROWSER_EXECUTABLE_PATH || DEFAULT_EXECUTABLE
    const dir = mkdtempSync(join(tmpdir(), 'kiln-chromium-'))
    // In its own process group (a Ctrl-C goes to kiln only, which closes it), under a watcher.
    const child = spawn('sh', ['-c', WATCHER, exe, ...chromiumArgs(env, dir)], { stdio: ['pipe', 'ignore', 'pipe'], detached: true })
    try {
      const endpoint = await devtoolsUrl(child)
      return new BrowserProcess({ endpoint, error: '', scenarios }, child, dir)
    } catch (e) {
      killGroup(child)
      const why = (e as Error).message
      const error =
        `launching browser: cannot start '${exe}': ${why}; install Chromium (apt-get install chromium) ` +
        'or set K6_BROWSER_EXECUTABLE_PATH to a Chromium or Chrome binary'
      return new BrowserProcess({ endpoint: '', error, scenarios }, null, dir)
    }
  }

  /** K6_BROWSER_WS_URL's browser: nothing to start or stop. */
  static remote(scenarios: string[], urls: string): BrowserProcess {
    return new BrowserProcess({ endpoint: urls, error: '', scenarios, remote: true }, null, '')
  }

  /** Ends the process (the VUs' contexts are closed by their iterations' ends already). */
  async close(): Promise<void> {
    process.off('exit', this.onExit)
    if (!this.dir) return
    const c = this.child
    if (c && c.exitCode === null && c.signalCode === null) {
      const gone = new Promise((r) => c.once('exit', r))
      // The watcher's stdin ends: it stops Chromium (SIGTERM), and exits when Chromium has.
      c.stdin?.end()
      const t = setTimeout(() => killGroup(c), 5000)
      await gone
      clearTimeout(t)
    }
    if (c) killGroup(c) // Chromium's own children (renderers, utilities) outlive it by a moment otherwise
    removeProfile(this.dir)
  }

  /** At process exit (a second Ctrl-C, process.exit): synchronous, so only the signal. */
  private kill(): void {
    if (this.child) killGroup(this.child)
    if (this.dir) removeProfile(this.dir)
  }
}

/**
 * Removes the run's Chromium profile. A child still closing its cache files can make a directory
 * not empty for a moment (ENOTEMPTY: it ended a Ctrl-C'd run with 'unexpected error' in a CI run),
 * so it retries; a temporary directory left behind is not worth failing the run for.
 */
function removeProfile(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  } catch {
    // Left in the temporary directory.
  }
}

/**
 * Runs Chromium ($0 and its arguments) and stops it when this shell's stdin ends: kiln holds the
 * other end, so Chromium goes with kiln even when kiln is killed (SIGKILL runs no exit handler).
 * The shell exits when Chromium does. (`3<&0`: a background list's stdin is /dev/null in sh.)
 */
const WATCHER = 'exec 3<&0; "$0" "$@" & c=$!; { read _ <&3; kill $c 2>/dev/null; } & wait $c'

function killGroup(c: ChildProcess): void {
  try {
    if (c.pid) process.kill(-c.pid, 'SIGKILL')
  } catch {
    // Already gone.
  }
}

/** Chromium prints 'DevTools listening on ws://…' on stderr once its CDP server is up. */
export function devtoolsUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    const t = setTimeout(() => reject(new Error(`no DevTools URL after ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS)
    const done = (f: () => void) => {
      clearTimeout(t)
      child.stderr?.removeAllListeners('data')
      // Keep draining stderr: a full pipe would block the browser.
      child.stderr?.resume()
      f()
    }
    child.on('error', (e) => done(() => reject(e)))
    child.on('exit', (code, sig) => done(() => reject(new Error(`exited (${sig ?? code}) at start: ${text.trim().slice(-400)}`))))
    child.stderr?.on('data', (d: Buffer) => {
      text += d.toString()
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(text)
      if (m) done(() => resolve(m[1]!))
    })
  })
}

/** The run's browser when a scenario asks for one (null otherwise); throws ConfigError on a bad type. */
export async function startBrowser(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Promise<BrowserProcess | null> {
  const scenarios = browserScenarios(raw)
  if (!scenarios.length) return null
  const ws = env.K6_BROWSER_WS_URL?.trim()
  return ws ? BrowserProcess.remote(scenarios, ws) : BrowserProcess.start(scenarios, env)
}
