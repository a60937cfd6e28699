// Issue 15 §3: honest states — an empty store says what is coming and how to send data (with this
// server's own address), a fresh server shows its own profile within seconds, a range without
// data keeps the pickers and says where the data is, and an unreadable `from` marks the field.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { root, buildUi, startKiln, launchChromium, ingestFolded } from './kiln.ts'

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0) / 1000
const artifacts = join(root, 'test-artifacts', 'ui')
const skip = existsSync('/usr/bin/chromium') ? false : 'no /usr/bin/chromium: apt-get install -y chromium'
let browser: Browser
let page: Page

before(async () => {
  if (skip) return
  buildUi()
  mkdirSync(artifacts, { recursive: true })
  browser = await launchChromium()
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 }, colorScheme: 'light', deviceScaleFactor: 1 })
  page = await ctx.newPage()
})

after(async () => {
  await browser?.close()
})

const shot = (name: string) => page.screenshot({ path: join(artifacts, `${name}.png`) })

test('an empty store says it is collecting, shows a command for this server, and picks up what the command sends', { skip }, async () => {
  const kiln = await startKiln()
  try {
    await page.goto(kiln.url + '/')
    await page.locator('[data-testid=empty]').waitFor()
    assert.match(await page.locator('[data-testid=collecting]').innerText(), /Collecting/)
    const cmd = await page.locator('[data-testid=empty] pre').innerText()
    assert.ok(cmd.includes(`'${kiln.url}/ingest?`), `the command names this server (${kiln.url}): ${cmd}`)
    assert.ok(!cmd.includes('localhost:4040'))
    await shot('empty-store')
    // The command works as shown, and the page finds its profile by itself.
    execSync(cmd, { stdio: 'ignore' })
    await page.locator('[data-testid=service]').waitFor({ timeout: 10_000 })
    assert.equal(await page.locator('[data-testid=service]').inputValue(), 'myapp')
  } finally {
    await kiln.dispose()
  }
})

test('a fresh server shows its own profile within a few seconds', { skip }, async () => {
  const t0 = Date.now()
  const kiln = await startKiln([], { selfProfile: true })
  // From the moment it listens (starting the process and its engine is not what this measures).
  const t = Date.now()
  try {
    await page.goto(kiln.url + '/')
    await page.locator('[data-testid=service]').waitFor({ timeout: 15_000 })
    const s = (Date.now() - t) / 1000
    assert.equal(await page.locator('[data-testid=service]').inputValue(), 'kiln')
    await page.locator('[data-testid=flame-canvas]').first().waitFor()
    // 3 s to the first profile, then the page's next look (every 2 s), on a shared machine.
    assert.ok(s < 10, `the server's own profile showed ${s.toFixed(1)} s after it listened (${((t - t0) / 1000).toFixed(1)} s to start)`)
    await page.waitForFunction(() => !document.querySelector('canvas[data-pending]'))
    await shot('fresh-server-self-profile')
  } finally {
    await kiln.dispose()
  }
})

test('a range without data keeps the pickers and says where the data is; a bad `from` marks the field', { skip }, async () => {
  const kiln = await startKiln()
  try {
    await ingestFolded(kiln.url, 'shop.cpu', 'main;work 100\n', T0, T0 + 600)
    await ingestFolded(kiln.url, 'shop.alloc_space', 'main;alloc 100\n', T0, T0 + 600)
    // Another service's newer data: the latest data of shop is still 10:00.
    await ingestFolded(kiln.url, 'other.cpu', 'main;work 100\n', T0 + 3000, T0 + 3060)
    const away = `from=${(T0 - 86400 * 30) * 1000}&until=${(T0 - 86400 * 29) * 1000}`
    await page.goto(`${kiln.url}/?service=shop&${away}`)
    await page.locator('[data-testid=no-data]').waitFor()
    assert.equal(
      await page.locator('[data-testid=no-data-text]').innerText(),
      'No data between 2025-12-02T10:00Z and 2025-12-03T10:00Z; latest data at 2026-01-01T10:00Z.',
    )
    // The pickers stay, with the service and its types.
    assert.equal(await page.locator('[data-testid=service]').inputValue(), 'shop')
    assert.ok((await page.locator('[data-testid=profile-type] option').count()) >= 2)
    assert.equal(await page.locator('[data-testid=from]').inputValue(), '2025-12-02T10:00Z')
    assert.equal(await page.locator('[data-testid=empty]').count(), 0, 'not "Kiln has no profiles"')
    await shot('no-data-in-range')
    await page.click('[data-testid=go-latest]')
    await page.locator('[data-testid=flame-canvas]').first().waitFor()

    // An unreadable `from`: the navigation stays, the field is marked, the last hour is shown.
    await page.goto(`${kiln.url}/?service=shop&from=yesterday-ish&until=now`)
    await page.locator('[data-testid=range-error]').waitFor()
    assert.equal(await page.locator('[data-testid=from]').getAttribute('aria-invalid'), 'true')
    assert.equal(await page.locator('[data-testid=from]').inputValue(), 'yesterday-ish', 'what was typed stays to be corrected')
    assert.ok(await page.locator('[data-testid=service]').isVisible())
    assert.ok(await page.locator('[data-testid=page-runs]').isVisible())
    await shot('bad-from')
  } finally {
    await kiln.dispose()
  }
})
