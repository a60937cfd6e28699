/**
 * `k6/browser` in real `kiln run` processes driving Debian's Chromium, against pages this test
 * serves on 127.0.0.1: k6's examples/browser-style scripts (form fill and submit, locator
 * clicks, evaluate, screenshots, keyboard, mouse, touchscreen, frames, routes, console events,
 * device emulation), the browser_* metrics in --summary-export, one Chromium per run, and the
 * errors k6 gives. Skips when no Chromium is installed.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { kilnRun, workdir } from './helpers.ts'
import { results } from './browser-helpers.ts'

const CHROMIUM = process.env.K6_BROWSER_EXECUTABLE_PATH || '/usr/bin/chromium'
const skip = existsSync(CHROMIUM) ? '' : `no Chromium at ${CHROMIUM}: apt-get install chromium (or set K6_BROWSER_EXECUTABLE_PATH)`
const kiln = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'kiln.js')
// Chromium on a loaded 2-core machine: a run takes tens of seconds.
const LONG = 240_000

/** The user-data dirs of the Chromium processes `kiln run` started (launch.ts names them kiln-chromium-*). */
function browserDirs(): Set<string> {
  const dirs = new Set<string>()
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd = ''
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    } catch {
      continue
    }
    // Chromium's child processes rewrite their command line as one space-separated string.
    const m = /--user-data-dir=(\S*kiln-chromium-[^\s\0]*)/.exec(cmd)
    if (m) dirs.add(m[1]!)
  }
  return dirs
}

const PAGE = `<!doctype html><html><head><title>Kiln shop</title>
<style>#shift { height: 0 } body { margin: 0 }</style></head><body>
<h1 id="greeting">Welcome</h1>
<form action="/login" method="post">
  <input name="login" id="login"><input type="password" name="password" id="password">
  <input type="checkbox" name="agree" id="agree">
  <select name="size" id="size"><option value="s">S</option><option value="l">L</option></select>
  <input type="submit" value="Sign in">
</form>
<button id="counter" style="position:absolute;left:10px;top:200px;width:100px;height:40px" onclick="this.textContent = String(Number(this.dataset.n = (Number(this.dataset.n || 0) + 1)))">0</button>
<div id="touched" ontouchstart="this.textContent = 'touched'">not touched</div>
<ul><li class="item">a</li><li class="item">b</li><li class="item">c</li></ul>
<p id="api">pending</p>
<script>fetch('/api/data').then((r) => r.text()).then((t) => { document.getElementById('api').textContent = t }, (e) => { document.getElementById('api').textContent = 'failed' })</script>
<iframe name="inner" srcdoc="<p id='in'>inside the frame</p>"></iframe>
</body></html>`

let server: http.Server
let base = ''
/** Chromium processes of kiln runs seen while a page was being served. */
const seenDirs = new Set<string>()
let seenMax = 0
before(async () => {
  server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x')
    if (u.pathname === '/') {
      const dirs = browserDirs()
      for (const d of dirs) seenDirs.add(d)
      seenMax = Math.max(seenMax, dirs.size)
      res.setHeader('content-type', 'text/html')
      res.end(PAGE)
    } else if (u.pathname === '/login' && req.method === 'POST') {
      let body = ''
      req.on('data', (c: Buffer) => (body += c.toString()))
      req.on('end', () => {
        const f = new URLSearchParams(body)
        res.setHeader('content-type', 'text/html')
        res.end(
          `<html><head><title>Signed in</title></head><body><h2 id="welcome">Welcome, ${f.get('login')}!</h2><pre id="form">${body}</pre></body></html>`,
        )
      })
    } else if (u.pathname === '/api/data') res.end('from the server')
    else if (u.pathname === '/missing') {
      res.statusCode = 404
      res.end('no')
    } else res.end('ok')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
})
after(() => new Promise<void>((r) => server.close(() => r())))

test('k6 examples/browser-style script: form, locators, evaluate, keyboard, mouse, frames, routes, console, screenshot, devices; browser_* metrics; one Chromium for two threads', async (t) => {
  if (skip) return t.skip(skip)
  const dir = workdir({
    'script.js': `import { browser, devices } from 'k6/browser'
import { check } from 'k6'
import exec from 'k6/execution'
export const options = {
  scenarios: { ui: { executor: 'per-vu-iterations', vus: 2, iterations: 1, options: { browser: { type: 'chromium' } } } },
  thresholds: { checks: ['rate==1'], browser_web_vital_fcp: ['p(95)<60000'] },
}
export default async function () {
  const r = { vu: exec.vu.idInTest }
  const context = await browser.newContext(devices['iPhone X'])
  const page = await context.newPage()
  const logs = []
  page.on('console', (m) => logs.push(m.type() + ':' + m.text()))
  try {
    await page.route(/\\/api\\/data$/, async (route) => {
      r.routed = route.request().url().endsWith('/api/data')
      await route.fulfill({ status: 200, body: 'from the route' })
    })
    const res = await page.goto('${base}/', { waitUntil: 'load' })
    r.status = res.status()
    r.title = await page.title()
    r.url = page.url()
    r.ua = await page.evaluate(() => navigator.userAgent)
    r.width = await page.evaluate(() => screen.width)
    r.sum = await page.evaluate((a) => a.x + a.y, { x: 2, y: 3 })
    r.items = await page.locator('li.item').count()
    r.second = await page.locator('li.item').nth(1).textContent()
    r.visible = await page.locator('#greeting').isVisible()
    await page.locator('#api').waitFor()
    await page.waitForFunction(() => document.getElementById('api').textContent !== 'pending')
    r.api = await page.locator('#api').innerText()
    await page.mouse.click(60, 220)
    await page.locator('#counter').click()
    r.counter = await page.locator('#counter').textContent()
    const box = await page.locator('#touched').boundingBox()
    await page.touchscreen.tap(box.x + box.width - 5, box.y + box.height / 2)
    r.touched = await page.locator('#touched').textContent()
    const frame = page.frames().find((f) => f.name() === 'inner')
    r.frame = await frame.locator('#in').textContent()
    r.frames = page.frames().length
    await page.evaluate(() => console.warn('from the page'))
    const [msg] = await Promise.all([
      page.waitForEvent('console', { predicate: (m) => m.text() === 'second' }),
      page.evaluate(() => { console.log('first'); console.log('second') }),
    ])
    r.waited = msg.text()
    r.content = (await page.content()).includes('<h1 id="greeting">Welcome</h1>')
    r.firstItem = await (await page.waitForSelector('li.item')).textContent()
    await context.addCookies([{ name: 'sid', value: '42', url: '${base}' }])
    r.cookies = (await context.cookies()).map((c) => c.name + '=' + c.value)
    page.on('metric', () => {})
    await page.locator('#login').type('ada')
    await page.fill('#password', 'secret')
    await page.focus('#password')
    await page.keyboard.press('End')
    await page.keyboard.type('!')
    await page.check('#agree')
    await page.selectOption('#size', 'l')
    await page.screenshot({ path: 'shot-' + exec.vu.idInTest + '.png' })
    await Promise.all([page.waitForNavigation(), page.locator('input[type="submit"]').click()])
    r.welcome = await page.locator('#welcome').textContent()
    r.form = await page.locator('#form').textContent()
    check(r, { 'welcome text': (x) => x.welcome === 'Welcome, ada!' })
  } finally {
    await page.close()
  }
  r.logs = logs
  console.log('RESULT ' + JSON.stringify(r))
}`,
  })
  const r = await kilnRun(['run', '--summary-export', 'sum.json', 'script.js'], {
    cwd: dir,
    env: { KILN_RUN_THREADS: '2' },
    timeoutMs: LONG,
  })
  assert.equal(r.code, 0, r.stderr)
  const out = results(r.stderr)
  assert.equal(out.length, 2, r.stderr)
  for (const x of out) {
    assert.equal(x.status, 200)
    assert.equal(x.title, 'Kiln shop')
    assert.equal(x.url, `${base}/`)
    assert.match(x.ua, /iPhone/, 'the device descriptor set the user agent')
    assert.equal(x.width, 375, "iPhone X's viewport")
    assert.equal(x.sum, 5)
    assert.equal(x.items, 3)
    assert.equal(x.second, 'b')
    assert.equal(x.visible, true)
    assert.equal(x.routed, true)
    assert.equal(x.api, 'from the route', 'page.route fulfilled the fetch')
    assert.equal(x.counter, '2', 'one mouse click and one locator click')
    assert.equal(x.touched, 'touched', "the touchscreen's tap fired touchstart")
    assert.equal(x.frame, 'inside the frame')
    assert.equal(x.frames, 2)
    assert.equal(x.welcome, 'Welcome, ada!')
    assert.equal(x.form, 'login=ada&password=secret%21&agree=on&size=l')
    assert.ok(x.logs.includes('warning:from the page'), JSON.stringify(x.logs))
    assert.equal(x.waited, 'second', 'waitForEvent with a predicate skipped the first message')
    assert.equal(x.content, true)
    assert.equal(x.firstItem, 'a')
    assert.deepEqual(x.cookies, ['sid=42'])
    const png = readFileSync(join(dir, `shot-${x.vu}.png`))
    assert.equal(png.subarray(1, 4).toString(), 'PNG')
    assert.ok(statSync(join(dir, `shot-${x.vu}.png`)).size > 1000)
  }
  const sum = JSON.parse(readFileSync(join(dir, 'sum.json'), 'utf8'))
  const m = sum.metrics
  for (const v of ['fcp', 'lcp', 'ttfb', 'cls']) assert.ok(m[`browser_web_vital_${v}`], `browser_web_vital_${v} in ${Object.keys(m)}`)
  assert.ok(m.browser_web_vital_fcp.avg > 0)
  assert.equal(m.browser_web_vital_cls.min >= 0, true)
  // Two page loads, two form posts, and the route's fetch: k6 counts what the browser fetched.
  assert.ok(m.browser_http_req_duration.avg > 0)
  assert.ok(m.browser_data_received.count > PAGE.length, 'both pages were received')
  assert.ok(m.browser_data_sent.count > 0)
  assert.equal(m.browser_http_req_failed.value, 0)
  assert.equal(m.checks.value, 1)
  assert.match(r.stdout, /WEB_VITALS[\s\S]*browser_web_vital_lcp/)
  assert.match(r.stdout, /BROWSER[\s\S]*browser_http_req_duration/)
  // Two VUs on two threads shared one browser, gone with the run.
  assert.equal(seenMax, 1, `Chromium processes at once: ${seenMax}`)
  for (const d of seenDirs) assert.ok(!existsSync(d), `${d} removed at the end`)
  assert.equal(browserDirs().size, 0, 'no Chromium left running')
})

test("a scenario without options.browser.type gets k6's error; a missing Chromium says what to do; so does an endpoint nothing listens on; firefox is a config error", async (t) => {
  if (skip) return t.skip(skip)
  const dir = workdir({
    'script.js': `import { browser, chromium } from 'k6/browser'
export const options = {
  scenarios: {
    plain: { executor: 'shared-iterations', exec: 'use' },
    ui: { executor: 'shared-iterations', exec: 'use', options: { browser: { type: 'chromium' } } },
    attach: { executor: 'shared-iterations', exec: 'attach' },
  },
}
export async function attach() {
  const e = await chromium.connectOverCDP('ws://127.0.0.1:9/devtools/browser/none').catch((e) => e)
  console.log('RESULT ' + JSON.stringify(e.message))
}
export async function use() {
  try {
    await browser.newPage()
  } catch (e) {
    console.log('RESULT ' + JSON.stringify(e.message))
  }
}`,
    'firefox.js': `import { browser } from 'k6/browser'
export const options = { scenarios: { ui: { executor: 'shared-iterations', options: { browser: { type: 'firefox' } } } } }
export default async function () {}`,
  })
  const r = await kilnRun(['run', '-q', 'script.js'], {
    cwd: dir,
    env: { K6_BROWSER_EXECUTABLE_PATH: '/nonexistent/chrome' },
    timeoutMs: LONG,
  })
  assert.equal(r.code, 0, r.stderr)
  const msgs = results(r.stderr) as string[]
  assert.equal(msgs.length, 3, r.stderr)
  assert.ok(
    msgs.some((m) => /^connectOverCDP: cannot attach to ws:\/\/127\.0\.0\.1:9\/devtools\/browser\/none: /.test(m)),
    msgs.join('\n'),
  )
  assert.ok(
    msgs.some((m) => /browser not found in registry\. make sure to set browser type option in scenario definition/.test(m)),
    msgs.join('\n'),
  )
  assert.ok(
    msgs.some((m) => /cannot start '\/nonexistent\/chrome'.*K6_BROWSER_EXECUTABLE_PATH/.test(m)),
    msgs.join('\n'),
  )
  const f = await kilnRun(['run', '-q', 'firefox.js'], { cwd: dir, timeoutMs: LONG })
  assert.equal(f.code, 104, f.stderr)
  assert.match(f.stderr, /unsupported browser type 'firefox'/)
})

test('Ctrl-C during a browser iteration: summary, exit 105, and the browser is gone', async (t) => {
  if (skip) return t.skip(skip)
  const dir = workdir({
    'script.js': `import { browser } from 'k6/browser'
export const options = { scenarios: { ui: { executor: 'constant-vus', vus: 1, duration: '10m', options: { browser: { type: 'chromium' } } } } }
export default async function () {
  const page = await browser.newPage()
  await page.goto('${base}/')
  console.log('UA ' + browser.userAgent() + ' | ' + (await page.evaluate(() => navigator.userAgent)))
  console.log('loaded')
  await page.waitForTimeout(600000)
}`,
  })
  const p = spawn(process.execPath, [kiln, 'run', '--summary-export', 'sum.json', 'script.js'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  let stdout = ''
  p.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
  const loaded = new Promise<void>((resolve) =>
    p.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
      if (stderr.includes('loaded')) resolve()
    }),
  )
  const kill = setTimeout(() => p.kill('SIGKILL'), LONG)
  const code = new Promise<number | null>((r) => p.on('close', r))
  try {
    await Promise.race([loaded, code])
    assert.equal(browserDirs().size, 1, stderr)
    // k6 drops 'Headless' from the user agent, the browser's and the pages'.
    assert.match(stderr, /UA Mozilla\/5\.0 [^|]*Chrome\/[\d.]+[^|]* \| Mozilla\/5\.0 .*Chrome\/[\d.]+/)
    assert.doesNotMatch(stderr, /Headless/)
    process.kill(p.pid!, 'SIGINT')
    assert.equal(await code, 105, stderr)
  } finally {
    clearTimeout(kill)
    p.kill('SIGKILL')
  }
  // (Which browser_* samples made it before the interrupt is a race: only the summary itself is asserted.)
  assert.match(stdout, /vus_max/, 'the summary is printed')
  assert.ok(existsSync(join(dir, 'sum.json')))
  assert.equal(browserDirs().size, 0, 'no Chromium left running')
})
