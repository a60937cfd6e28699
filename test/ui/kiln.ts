import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { startKiln as startServer } from '../server/helpers.ts'
import { chromium, type Browser } from 'playwright-core'

export const root = fileURLToPath(new URL('../..', import.meta.url))

/** Builds the UI into ui/dist with Vite, as `npm start` does; throws with Vite's output on failure. */
export function buildUi(): void {
  const r = spawnSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', 'ui', '--logLevel', 'warn'], {
    cwd: root,
    encoding: 'utf8',
  })
  if (r.status !== 0) throw new Error(`vite build failed:\n${r.stdout}${r.stderr}`)
}

/** A real `kiln server` on a free loopback port with a fresh data directory (the server tests' helper), keeping data of any age: UI test data has fixed old times. */
export const startKiln = (args: string[] = [], opts: { selfProfile?: boolean } = {}) => startServer(['--retention', '0', ...args], opts)

/** Debian's Chromium, headless, driven by playwright-core. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
}

/** Sends folded stacks to /ingest (Pyroscope's HTTP ingest) for one time window. */
export async function ingestFolded(url: string, name: string, folded: string, fromS: number, untilS: number): Promise<void> {
  const r = await fetch(`${url}/ingest?name=${encodeURIComponent(name)}&format=folded&from=${fromS}&until=${untilS}`, {
    method: 'POST',
    body: folded,
  })
  if (!r.ok) throw new Error(`ingest ${name}: ${r.status} ${await r.text()}`)
}
