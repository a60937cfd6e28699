import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { kiln } from './cli.ts'
import { work } from './recordings.ts'

const artifacts = join(import.meta.dirname, '..', '..', 'test-artifacts')
const noBrowser = existsSync('/usr/bin/chromium') ? false : 'Debian chromium is not installed (apt-get install chromium)'
let browser: Browser
let page: Page

before(async () => {
  if (noBrowser) return
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
})
after(async () => browser?.close())

const open = async (folded: string, args: string[] = []): Promise<Page> => {
  const r = kiln(['flamegraph', ...args], folded)
  assert.equal(r.status, 0, r.stderr)
  const file = join(work, `fg-${Math.random().toString(36).slice(2)}.svg`)
  writeFileSync(file, r.stdout, 'latin1')
  page = await browser.newPage({ viewport: { width: 1200, height: 260 } })
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(String(e)))
  await page.goto(`file://${file}`)
  assert.deepEqual(errors, [])
  return page
}

const rectOf = (p: Page, name: string) =>
  p.evaluate((n) => {
    const g = document.querySelector(`#frames > g[data-name="${n}"]`)!
    const r = g.querySelector('rect')!
    return {
      x: +r.getAttribute('x')!,
      w: +r.getAttribute('width')!,
      cls: g.getAttribute('class') ?? '',
      fill: r.getAttribute('fill')!,
      text: g.querySelector('text')!.textContent,
    }
  }, name)

const FOLDED = 'app;main;alpha;work 60\napp;main;beta;spin 30\napp;idle 10\n'

test('in Chromium: click zooms into a frame, Reset Zoom restores', { skip: noBrowser }, async () => {
  const p = await open(FOLDED, ['--title', 'Kiln flame graph'])
  mkdirSync(artifacts, { recursive: true })
  await p.screenshot({ path: join(artifacts, 'flamegraph.png') })
  assert.ok(Math.abs((await rectOf(p, 'beta')).w - 354) < 0.1)
  await p.click('#frames > g[data-name="beta"] rect')
  const beta = await rectOf(p, 'beta')
  assert.equal(beta.w, 1180, 'the clicked frame fills the width')
  assert.equal((await rectOf(p, 'spin')).w, 1180, 'its children scale with it')
  assert.match((await rectOf(p, 'alpha')).cls, /hide/, 'frames beside it are hidden')
  assert.match((await rectOf(p, 'main')).cls, /parent/, 'its ancestors span the width, faded')
  assert.equal(await p.isVisible('#unzoom'), true)
  await p.screenshot({ path: join(artifacts, 'flamegraph-zoomed.png') })
  await p.click('#unzoom')
  assert.ok(Math.abs((await rectOf(p, 'beta')).w - 354) < 0.1)
  assert.equal((await rectOf(p, 'alpha')).cls, '')
  assert.equal(await p.isVisible('#unzoom'), false)
  await p.close()
})

test('in Chromium: Ctrl-F searches by regular expression and shows the matched share', { skip: noBrowser }, async () => {
  const p = await open(FOLDED)
  let answer = '^(alpha|work)$'
  p.on('dialog', (d) => void d.accept(answer))
  await p.mouse.move(600, 100)
  await p.keyboard.press('Control+f')
  await p.waitForSelector('#matched:not(.hide)')
  // alpha and work nest: 60% once, not 120%.
  assert.equal(await p.textContent('#matched'), 'Matched: 60.0%')
  assert.equal((await rectOf(p, 'work')).fill, 'rgb(230,0,230)')
  assert.notEqual((await rectOf(p, 'idle')).fill, 'rgb(230,0,230)')
  await p.screenshot({ path: join(artifacts, 'flamegraph-search.png') })
  // Search again (the button resets first), case-insensitively.
  await p.click('#search')
  await p.click('#ignorecase')
  answer = 'IDLE|SPIN'
  await p.click('#search')
  await p.waitForFunction(() => document.getElementById('matched')!.textContent === 'Matched: 40.0%')
  await p.keyboard.press('Escape')
  assert.equal(await p.isVisible('#matched'), false)
  await p.close()
})

test('in Chromium: the URL keeps zoom and search, and opening it restores them', { skip: noBrowser }, async () => {
  const p = await open(FOLDED)
  await p.click('#frames > g[data-name="beta"] rect')
  p.on('dialog', (d) => void d.accept('spin'))
  await p.keyboard.press('F3')
  await p.waitForSelector('#matched:not(.hide)')
  const url = new URL(p.url())
  assert.equal(url.searchParams.get('s'), 'spin')
  assert.ok(url.searchParams.get('x') !== null && url.searchParams.get('y') !== null, url.href)
  const again = await browser.newPage({ viewport: { width: 1200, height: 260 } })
  await again.goto(url.href)
  assert.equal((await rectOf(again, 'beta')).w, 1180)
  assert.equal(await again.textContent('#matched'), 'Matched: 30.0%')
  await again.close()
  await p.close()
})
