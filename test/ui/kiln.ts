import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser } from 'playwright-core'

export const root = fileURLToPath(new URL('../..', import.meta.url))

/** Builds the UI into ui/dist with Vite, as `npm start` does; throws with Vite's output on failure. */
export function buildUi(): void {
  const r = spawnSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', 'ui', '--logLevel', 'warn'], { cwd: root, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`vite build failed:\n${r.stdout}${r.stderr}`)
}

export interface Kiln {
  url: string
  stop(): Promise<void>
}

/** Starts a real `kiln server` on a free loopback port with a fresh data directory (no retention: test data has fixed old times). */
export async function startKiln(): Promise<Kiln> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-ui-'))
  const child: ChildProcess = spawn(process.execPath, ['bin/kiln.js', 'server', '--port', '0', '--host', '127.0.0.1', '--data-dir', dir, '--retention', '0', '--no-self-profile'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kiln server did not start in 60 s:\n${log}`)), 60_000)
    const on = (b: Buffer) => {
      log += b
      const m = /listening on (http:\/\/\S+)/.exec(log)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    }
    child.stdout!.on('data', on)
    child.stderr!.on('data', on)
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`kiln server exited with ${code}:\n${log}`))
    })
  })
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${url}/ready`).catch(() => null)
    if (r?.ok) break
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    url,
    async stop() {
      child.removeAllListeners('exit')
      const done = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await done
      clearTimeout(t)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Debian's Chromium, headless, driven by playwright-core. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
}

/** Sends folded stacks to /ingest (Pyroscope's HTTP ingest) for one time window. */
export async function ingestFolded(url: string, name: string, folded: string, fromS: number, untilS: number): Promise<void> {
  const r = await fetch(`${url}/ingest?name=${encodeURIComponent(name)}&format=folded&from=${fromS}&until=${untilS}`, { method: 'POST', body: folded })
  if (!r.ok) throw new Error(`ingest ${name}: ${r.status} ${await r.text()}`)
}
