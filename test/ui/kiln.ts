import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { before, after } from 'node:test'
import { fileURLToPath } from 'node:url'
import { startKiln as startServer } from '../server/helpers.ts'
import { chromium, type Browser, type Page } from 'playwright-core'

export const root = fileURLToPath(new URL('../..', import.meta.url))
/** Where the UI tests keep their screenshots (CI keeps them as artifacts of the run). */
export const artifacts = join(root, 'test-artifacts', 'ui')
/** Why the browser tests skip, or false where Debian's Chromium is installed. */
export const noChromium: string | false = existsSync('/usr/bin/chromium') ? false : 'no /usr/bin/chromium: apt-get install -y chromium'

/** Builds the UI into ui/dist with Vite, as `npm start` does; throws with Vite's output on failure. */
export function buildUi(): void {
  if (process.env.KILN_UI_BUILT === '1') return // scripts/test.js built it once for every UI file
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

type Kiln = Awaited<ReturnType<typeof startKiln>>

/** A UI test file's server and page, set once its before() hook has run. */
export interface UiSuite {
  kiln: Kiln
  browser: Browser
  page: Page
  /** Waits until the worker has painted the latest view, then saves test-artifacts/ui/NAME.png. */
  shot(name: string): Promise<void>
}

/**
 * Registers a test file's before/after hooks: builds the UI, starts a server, lets `seed` send its
 * data, and opens a light 1280×720 page at scale 1 whose clock stands still at `clock` (Unix
 * seconds) when given. Nothing starts where Chromium is missing (the tests skip with `noChromium`).
 */
export function uiSuite(
  o: { seed?: (url: string) => Promise<void>; clock?: number; init?: (page: Page) => Promise<unknown> } = {},
): UiSuite {
  const s = {
    async shot(name: string) {
      await s.page.waitForFunction(() => !document.querySelector('canvas[data-pending]'))
      await s.page.screenshot({ path: join(artifacts, `${name}.png`) })
    },
  } as UiSuite
  before(async () => {
    if (noChromium) return
    buildUi()
    mkdirSync(artifacts, { recursive: true })
    s.kiln = await startKiln()
    await o.seed?.(s.kiln.url)
    s.browser = await launchChromium()
    s.page = await (
      await s.browser.newContext({ viewport: { width: 1280, height: 720 }, colorScheme: 'light', deviceScaleFactor: 1 })
    ).newPage()
    if (o.clock !== undefined) await s.page.clock.setFixedTime(new Date(o.clock * 1000))
    await o.init?.(s.page)
  })
  after(async () => {
    await s.browser?.close()
    await s.kiln?.dispose()
  })
  return s
}
