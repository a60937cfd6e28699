// Issue 15 §4: pickers and defaults — whole profile type names grouped by profile, a service
// opens on CPU (or wall) before memory, selector completion ranks prefix matches first, and an
// error about the old selector goes once it is edited.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { root, buildUi, startKiln, launchChromium, ingestFolded } from './kiln.ts'

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0) / 1000
const range = `from=${(T0 - 300) * 1000}&until=${(T0 + 900) * 1000}`
const artifacts = join(root, 'test-artifacts', 'ui')
const skip = existsSync('/usr/bin/chromium') ? false : 'no /usr/bin/chromium: apt-get install -y chromium'
let kiln: Awaited<ReturnType<typeof startKiln>>
let browser: Browser
let page: Page

before(async () => {
  if (skip) return
  buildUi()
  mkdirSync(artifacts, { recursive: true })
  kiln = await startKiln()
  // Memory first in the store's order ("alloc…" sorts before "process_cpu"), with labels that
  // contain "ro" in several places.
  for (const name of ['api.alloc_space', 'api.inuse_space', 'api.cpu', 'api.goroutines'])
    await ingestFolded(kiln.url, `${name}{route=/cart,region=eu,pyroscope_spy=gospy}`, 'main;work 100\n', T0, T0 + 600)
  await ingestFolded(kiln.url, 'clock.alloc_space', 'main;alloc 100\n', T0, T0 + 600)
  const wall = await fetch(
    `${kiln.url}/ingest?name=clock.wall&format=folded&from=${T0}&until=${T0 + 600}&units=nanoseconds&aggregationType=sum`,
    { method: 'POST', body: 'main;sleep 100\n' },
  )
  assert.ok(wall.ok, await wall.text())
  browser = await launchChromium()
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 }, colorScheme: 'light', deviceScaleFactor: 1 })
  page = await ctx.newPage()
  await page.clock.setFixedTime(new Date((T0 + 3600) * 1000))
})

after(async () => {
  await browser?.close()
  await kiln?.dispose()
})

const shot = async (name: string) => {
  await page.waitForFunction(() => !document.querySelector('canvas[data-pending]'))
  await page.screenshot({ path: join(artifacts, `${name}.png`) })
}

test('a service opens on its CPU type; the picker shows whole names grouped by profile', { skip }, async () => {
  await page.goto(`${kiln.url}/?service=api&${range}`)
  await page.waitForFunction(() => new URLSearchParams(location.search).get('type'))
  assert.match(new URL(page.url()).searchParams.get('type')!, /^process_cpu:cpu:/)
  const picker = page.locator('[data-testid=profile-type]')
  const groups = await picker.locator('optgroup').evaluateAll((gs) => gs.map((g) => (g as HTMLOptGroupElement).label))
  assert.equal(groups[0], 'process_cpu')
  assert.ok(groups.includes('memory'), groups.join(', '))
  // The chosen name fits the picker whole.
  const fits = await picker.evaluate((el: HTMLSelectElement) => {
    const c = document.createElement('canvas').getContext('2d')!
    c.font = getComputedStyle(el).font
    return { text: el.selectedOptions[0]!.text, need: c.measureText(el.selectedOptions[0]!.text).width + 28, have: el.clientWidth }
  })
  assert.ok(fits.need <= fits.have, JSON.stringify(fits))
  assert.equal(fits.text, 'process_cpu · cpu (nanoseconds)')
  await shot('pickers-type')
})

test('a service without CPU opens on wall time before memory', { skip }, async () => {
  await page.goto(`${kiln.url}/?service=clock&${range}`)
  await page.waitForFunction(() => new URLSearchParams(location.search).get('type'))
  assert.match(new URL(page.url()).searchParams.get('type')!, /^wall:/)
})

test('selector completion ranks prefix matches first; an error goes once the selector is edited', { skip }, async () => {
  await page.goto(`${kiln.url}/?service=api&${range}&query=${encodeURIComponent('{env=')}`)
  const err = page.locator('[data-testid=errors] .error').first()
  await err.waitFor()
  const sel = page.locator('[data-testid=selector]')
  await sel.click()
  await sel.fill('{ro')
  await page.locator('.selector-wrap ul li, .selector-wrap li').first().waitFor()
  const items = await page.locator('.selector-wrap li').allInnerTexts()
  assert.deepEqual(items.slice(0, 2), ['route', 'pyroscope_spy'], items.join(', '))
  assert.equal(await page.locator('[data-testid=errors] .error').count(), 0, 'the error about {env= went with the edit')
  await shot('pickers-complete')
  // A local parse error goes on the next edit too.
  await sel.fill('{env=')
  await sel.press('Enter')
  await page.locator('.selector-wrap .field-error:not([hidden])').waitFor()
  await sel.press('Backspace')
  assert.equal(await page.locator('.selector-wrap .field-error:not([hidden])').count(), 0)
})
