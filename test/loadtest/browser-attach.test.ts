/**
 * `k6/browser` on a Chromium the run did not start, in one real `kiln run`: K6_BROWSER_WS_URL
 * (k6's browser attaches instead of launching) and chromium.connectOverCDP, with the page's
 * dialogs (page.on('dialog'), and k6's dismissal without a handler), page.waitForURL,
 * page.on('metric') grouping two URLs under one name tag, and the group tag of browser_* samples,
 * read back from -o json. The attached Chromium must still be running after the run.
 * Skips when no Chromium is installed.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromiumArgs, devtoolsUrl } from '../../src/loadtest/modules/browser/launch.ts'
import { kilnRun, workdir } from './helpers.ts'
import { results } from './browser-helpers.ts'

const CHROMIUM = process.env.K6_BROWSER_EXECUTABLE_PATH || '/usr/bin/chromium'
const skip = existsSync(CHROMIUM) ? '' : `no Chromium at ${CHROMIUM}: apt-get install chromium (or set K6_BROWSER_EXECUTABLE_PATH)`
// Chromium on a loaded 2-core machine: a run takes tens of seconds.
const LONG = 240_000

const DIALOGS = `<!doctype html><html><head><title>Dialogs</title></head><body><p id="out">none</p></body></html>`
const item = (id: number) =>
  `<!doctype html><html><head><title>Item ${id}</title></head><body><a id="next" href="/item?id=${id + 1}">next</a></body></html>`

let server: http.Server
let base = ''
let chromium: ChildProcess | null = null
let userDataDir = ''
let wsUrl = ''
before(async () => {
  server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x')
    res.setHeader('content-type', 'text/html')
    if (u.pathname === '/dialogs') res.end(DIALOGS)
    else if (u.pathname === '/item') res.end(item(Number(u.searchParams.get('id'))))
    else res.end('ok')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  if (skip) return
  // The browser a user would have running: its own process, started here, not by kiln.
  userDataDir = mkdtempSync(join(tmpdir(), 'attach-chromium-'))
  // A process group of its own: Chromium's renderer and utility processes go with it at the end.
  chromium = spawn(CHROMIUM, chromiumArgs(process.env, userDataDir), { stdio: ['ignore', 'ignore', 'pipe'], detached: true })
  wsUrl = await devtoolsUrl(chromium)
})
after(async () => {
  try {
    if (chromium && chromium.exitCode === null) {
      const gone = new Promise((r) => chromium!.once('exit', r))
      process.kill(-chromium.pid!, 'SIGKILL')
      await gone
    }
    // A child still closing its files can leave a directory behind for a moment (ENOTEMPTY).
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 })
  } finally {
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
  }
})

test('attached Chromium (K6_BROWSER_WS_URL, chromium.connectOverCDP): dialogs, waitForURL, page.on(metric) name tags, group tags; the browser outlives the run', async (t) => {
  if (skip) return t.skip(skip)
  const dir = workdir({
    'script.js': `import { browser, chromium } from 'k6/browser'
import { group } from 'k6'
export const options = {
  scenarios: { ui: { executor: 'shared-iterations', options: { browser: { type: 'chromium' } } } },
}
export default async function () {
  const r = { dialogs: [] }
  const page = await browser.newPage()
  try {
    page.on('dialog', async (d) => {
      r.dialogs.push([d.type(), d.message(), d.defaultValue()])
      if (d.type() === 'prompt') await d.accept('Ada')
      else if (d.type() === 'confirm') await d.accept()
      // An alert is left to k6's default: dismissed once the handlers are done.
    })
    page.on('metric', (m) => m.tag({ name: 'item', matches: [{ url: /\\/item\\?id=\\d+$/, method: 'GET' }] }))
    await page.goto('${base}/dialogs')
    r.prompt = await page.evaluate(() => prompt('Your name?', 'nobody'))
    r.confirm = await page.evaluate(() => confirm('Sure?'))
    r.alert = await page.evaluate(() => alert('Hello') === undefined)
    const bare = await browser.newPage()
    r.unhandled = await bare.evaluate(() => confirm('Nobody listens?'))
    await bare.close()

    let shop
    group('shop', () => {
      shop = page.goto('${base}/item?id=1')
    })
    await shop
    await Promise.all([page.waitForURL(/id=2$/), page.locator('#next').click()])
    r.waited = page.url()
    // Already there: waitForURL answers at once (k6 checks the current URL first).
    await page.waitForURL('${base}/item?id=2', { timeout: 5000 })
    r.predicate = await page.waitForURL((u) => true).then(() => 'resolved', (e) => e.message)
  } finally {
    await page.close()
  }

  r.badEndpoint = await chromium.connectOverCDP('http://127.0.0.1:9/').then(() => 'connected', (e) => e.message)
  const remote = await chromium.connectOverCDP(__ENV.WS)
  const ctx = await remote.newContext()
  const [other] = await Promise.all([ctx.waitForEvent('page', { predicate: (p) => p.url() === 'about:blank' }), ctx.newPage()])
  await other.goto('${base}/item?id=7')
  r.remoteTitle = await other.title()
  r.samePage = other === ctx.pages()[0]
  r.remoteConnected = remote.isConnected()
  await remote.close()
  r.afterClose = remote.isConnected()
  console.log('RESULT ' + JSON.stringify(r))
}`,
  })
  const r = await kilnRun(['run', '-q', '-e', `WS=${wsUrl}`, '-o', 'json=out.json', 'script.js'], {
    cwd: dir,
    // A launch would fail on this path: the pages below come from the attached browser.
    env: { K6_BROWSER_WS_URL: wsUrl, K6_BROWSER_EXECUTABLE_PATH: '/nonexistent/chrome' },
    timeoutMs: LONG,
  })
  assert.equal(r.code, 0, r.stderr)
  const [x] = results(r.stderr)
  assert.ok(x, r.stderr)
  assert.deepEqual(x.dialogs, [
    ['prompt', 'Your name?', 'nobody'],
    ['confirm', 'Sure?', ''],
    ['alert', 'Hello', ''],
  ])
  assert.equal(x.prompt, 'Ada', "the prompt's text reached the page")
  assert.equal(x.confirm, true, 'the confirm was accepted')
  assert.equal(x.alert, true, 'the alert left open by the handler was dismissed')
  assert.equal(x.unhandled, false, 'a page without a dialog handler dismisses it (k6)')
  assert.equal(x.waited, `${base}/item?id=2`)
  assert.match(x.predicate, /string or a RegExp/)
  assert.match(x.badEndpoint, /not a WebSocket endpoint/)
  assert.equal(x.remoteTitle, 'Item 7')
  assert.equal(x.samePage, true, "browserContext.waitForEvent('page') gave the new page")
  assert.equal(x.remoteConnected, true)
  assert.equal(x.afterClose, false)

  // Both item pages under one name (and url) tag, each with the group of the call that loaded it.
  const samples = readFileSync(join(dir, 'out.json'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((s) => s.type === 'Point' && s.metric === 'browser_http_req_duration' && s.data.tags.resource_type === 'document')
  const tags = samples.map((s) => s.data.tags)
  const items = tags.filter((tg) => tg.name === 'item')
  assert.deepEqual(items.map((tg) => [tg.url, tg.group]).sort(), [
    ['item', ''],
    ['item', '::shop'],
  ])
  // The connectOverCDP page had no metric handler: its URL stays.
  assert.ok(
    tags.some((tg) => tg.url === `${base}/item?id=7` && tg.name === tg.url),
    JSON.stringify(tags),
  )

  // The run let go of the browser it attached to: still running, still answering CDP.
  assert.equal(chromium!.exitCode, null, 'the attached Chromium is still running')
  const port = new URL(wsUrl).port
  const version = await fetch(`http://127.0.0.1:${port}/json/version`).then(
    (res) => res.json() as Promise<{ webSocketDebuggerUrl: string }>,
  )
  assert.equal(version.webSocketDebuggerUrl, wsUrl)
})
