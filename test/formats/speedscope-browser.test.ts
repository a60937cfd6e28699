/**
 * "A file speedscope opens", checked with speedscope itself: the app from the `speedscope` npm
 * package, served on loopback, loads Kiln's export in headless Chromium (`#profileURL=`).
 * speedscope sets the page title to the profile's name only after a successful import.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { existsSync, readFileSync } from 'node:fs'
import { join, extname } from 'node:path'
import type { AddressInfo } from 'node:net'
import { chromium } from 'playwright-core'
import { encodeSpeedscope } from '../../src/formats/speedscope.ts'
import { decodePprof } from '../../src/formats/pprof.ts'
import { readFixture } from './support.ts'

const release = join(import.meta.dirname, '../../node_modules/speedscope/dist/release')
const CHROMIUM = '/usr/bin/chromium'
const types: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
}

/** Polls from Node (page functions would carry tsx's helpers into the page). */
async function until(ok: () => Promise<boolean>, ms = 30_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (await ok()) return true
  return false
}

test('speedscope opens Kiln exports and refuses a broken file', { timeout: 120_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) return t.skip('no /usr/bin/chromium (Debian chromium; .ci/run installs it)')
  const files: Record<string, Uint8Array> = {
    '/heap.speedscope.json': encodeSpeedscope(decodePprof(readFixture('heap.pb.gz')), { name: 'kiln heap export' }),
    '/wall.speedscope.json': encodeSpeedscope(decodePprof(readFixture('nodejs-wall.pb.gz')), { name: 'kiln wall export' }),
    '/broken.speedscope.json': new TextEncoder().encode(
      JSON.stringify({
        ...JSON.parse(new TextDecoder().decode(encodeSpeedscope(decodePprof(readFixture('cpu.pb.gz')), { name: 'kiln broken' }))),
        profiles: [{ type: 'sampled', name: 'kiln broken', unit: 'none', startValue: 0, endValue: 1, samples: [[0]], weights: [] }],
      }),
    ),
  }
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!
    const body = files[path] ?? (existsSync(join(release, path)) && !path.includes('..') ? readFileSync(join(release, path)) : undefined)
    res.writeHead(body ? 200 : 404, {
      'content-type': types[extname(path)] ?? 'application/octet-stream',
      'access-control-allow-origin': '*',
    })
    res.end(body)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
  try {
    // A new page per file: speedscope reads #profileURL= once, at load.
    const open = async (file: string) => {
      const page = await browser.newPage()
      await page.goto(`${base}/index.html#profileURL=${encodeURIComponent(base + file)}`)
      return page
    }
    for (const [file, name] of [
      ['/heap.speedscope.json', 'kiln heap export'],
      ['/wall.speedscope.json', 'kiln wall export'],
    ] as const) {
      const page = await open(file)
      const opened = await until(async () => (await page.title()) === `${name} - speedscope`)
      assert.ok(
        opened,
        `speedscope did not open ${file}: title ${JSON.stringify(await page.title())}, page ${JSON.stringify((await page.innerText('body')).slice(0, 200))}`,
      )
    }
    const page = await open('/broken.speedscope.json')
    assert.ok(
      await until(async () => /went wrong|error/i.test(await page.innerText('body'))),
      'speedscope showed no error for a broken file',
    )
    assert.notEqual(await page.title(), 'kiln broken - speedscope')
  } finally {
    await browser.close()
    server.close()
  }
})
