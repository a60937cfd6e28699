// Issue 15 §4: pickers and defaults — whole profile type names grouped by profile, a service
// opens on CPU (or wall) before memory, selector completion ranks prefix matches first, and an
// error about the old selector goes once it is edited.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { noChromium, uiSuite, ingestFolded } from './kiln.ts'

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0) / 1000
const range = `from=${(T0 - 300) * 1000}&until=${(T0 + 900) * 1000}`
const skip = noChromium
const ui = uiSuite({
  seed: async (at) => {
    // Memory first in the store's order ("alloc…" sorts before "process_cpu"), with labels that
    // contain "ro" in several places.
    for (const name of ['api.alloc_space', 'api.inuse_space', 'api.cpu', 'api.goroutines'])
      await ingestFolded(at, `${name}{route=/cart,region=eu,pyroscope_spy=gospy}`, 'main;work 100\n', T0, T0 + 600)
    await ingestFolded(at, 'clock.alloc_space', 'main;alloc 100\n', T0, T0 + 600)
    const wall = await fetch(
      `${at}/ingest?name=clock.wall&format=folded&from=${T0}&until=${T0 + 600}&units=nanoseconds&aggregationType=sum`,
      { method: 'POST', body: 'main;sleep 100\n' },
    )
    assert.ok(wall.ok, await wall.text())
  },
  clock: T0 + 3600,
})

test('a service opens on its CPU type; the picker shows whole names grouped by profile', { skip }, async () => {
  await ui.page.goto(`${ui.kiln.url}/?service=api&${range}`)
  await ui.page.waitForFunction(() => new URLSearchParams(location.search).get('type'))
  assert.match(new URL(ui.page.url()).searchParams.get('type')!, /^process_cpu:cpu:/)
  const picker = ui.page.locator('[data-testid=profile-type]')
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
  await ui.shot('pickers-type')
})

test('a service without CPU opens on wall time before memory', { skip }, async () => {
  await ui.page.goto(`${ui.kiln.url}/?service=clock&${range}`)
  await ui.page.waitForFunction(() => new URLSearchParams(location.search).get('type'))
  assert.match(new URL(ui.page.url()).searchParams.get('type')!, /^wall:/)
})

test('selector completion ranks prefix matches first; an error goes once the selector is edited', { skip }, async () => {
  await ui.page.goto(`${ui.kiln.url}/?service=api&${range}&query=${encodeURIComponent('{env=')}`)
  const err = ui.page.locator('[data-testid=errors] .error').first()
  await err.waitFor()
  const sel = ui.page.locator('[data-testid=selector]')
  await sel.click()
  await sel.fill('{ro')
  await ui.page.locator('.selector-wrap ul li, .selector-wrap li').first().waitFor()
  const items = await ui.page.locator('.selector-wrap li').allInnerTexts()
  assert.deepEqual(items.slice(0, 2), ['route', 'pyroscope_spy'], items.join(', '))
  assert.equal(await ui.page.locator('[data-testid=errors] .error').count(), 0, 'the error about {env= went with the edit')
  await ui.shot('pickers-complete')
  // A local parse error goes on the next edit too.
  await sel.fill('{env=')
  await sel.press('Enter')
  await ui.page.locator('.selector-wrap .field-error:not([hidden])').waitFor()
  await sel.press('Backspace')
  assert.equal(await ui.page.locator('.selector-wrap .field-error:not([hidden])').count(), 0)
})
