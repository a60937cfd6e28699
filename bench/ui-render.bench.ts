/**
 * Frame time of Kiln's canvas flame graph on a 100,000-node profile in Chromium, against the same
 * profile opened in speedscope (npm) in the same browser in the same run. Method: bench/README.md
 * ("Web UI render").
 */
import { createServer } from 'node:http'
import { readFileSync, existsSync, mkdirSync } from 'node:fs'
import { join, extname, normalize } from 'node:path'
import type { AddressInfo } from 'node:net'
import type { Page } from 'playwright-core'
import { CallTree } from '../src/model/tree.ts'
import { root, buildUi, startKiln, launchChromium, ingestFolded } from '../test/ui/kiln.ts'

const NODES = 100_000
const MOVES = 60
const ZOOMS = 20

/** A random call tree of NODES nodes (each new node under a uniformly chosen one: depth ~ln n), as folded stacks. */
function profile(): { folded: string; nodes: number } {
  let seed = 42
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
  const parent: number[] = [-1]
  const name: string[] = ['']
  const kids: number[] = [0]
  for (let n = 1; n < NODES; n++) {
    const p = Math.floor(rnd() * n)
    parent.push(p)
    // Names unique among siblings (the k-th child of p), drawn from 400 packages so colours vary.
    name.push(`p${(p * 7 + kids[p]!) % 400}.f${kids[p]!}_${p % 97}`)
    kids[p]!++
    kids.push(0)
  }
  const lines: string[] = []
  const t = new CallTree()
  for (let n = 1; n < NODES; n++) {
    if (kids[n] !== 0) continue
    const stack: string[] = []
    for (let a = n; a > 0; a = parent[a]!) stack.push(name[a]!)
    stack.reverse()
    const v = 1 + Math.floor(rnd() * 20)
    lines.push(`${stack.join(';')} ${v}`)
    t.add(stack, v)
  }
  return { folded: lines.join('\n') + '\n', nodes: t.size - 1 }
}

const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.txt': 'text/plain' }

/** Serves speedscope's release build and the profile from loopback. */
async function serveSpeedscope(folded: string) {
  const dir = join(root, 'node_modules/speedscope/dist/release')
  const srv = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname))
    if (path === '/profile.txt') return res.writeHead(200, { 'content-type': 'text/plain' }).end(folded)
    const file = join(dir, path === '/' ? 'index.html' : path)
    if (!file.startsWith(dir) || !existsSync(file)) return res.writeHead(404).end()
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file))
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, close: () => srv.close() }
}

/** Main-thread busy time (CDP Performance.TaskDuration, ms) of each action, each ending after two animation frames. */
async function frameTimes(page: Page, actions: (() => Promise<void>)[]): Promise<number[]> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Performance.enable')
  const busy = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration')!.value * 1000
  const out: number[] = []
  for (const act of actions) {
    const t0 = await busy()
    await act()
    // Kiln paints in a worker: the action ends once it has painted (speedscope has no such mark).
    await page.waitForFunction(() => !document.querySelector('canvas[data-pending]'))
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
    out.push((await busy()) - t0)
  }
  return out
}

const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!
const fmt = (xs: number[]) => `median ${q(xs, 0.5).toFixed(2)} ms, p95 ${q(xs, 0.95).toFixed(2)} ms, max ${Math.max(...xs).toFixed(2)} ms`

async function hoverActions(page: Page, box: { x: number; y: number; width: number; height: number }) {
  return Array.from({ length: MOVES }, (_, k) => async () => {
    await page.mouse.move(box.x + ((k * 37) % 97) / 97 * box.width, box.y + Math.min(box.height - 2, 4 + ((k * 13) % 11) * 18))
  })
}

const { folded, nodes } = profile()
console.log(`profile: ${nodes} nodes, ${(folded.length / 1e6).toFixed(1)} MB of folded stacks`)
buildUi()
const kiln = await startKiln()
const ss = await serveSpeedscope(folded)
const browser = await launchChromium()
try {
  const now = Math.floor(Date.now() / 1000)
  await ingestFolded(kiln.url, 'bench.cpu', folded, now - 120, now - 60)
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 }, deviceScaleFactor: 1 })

  const fg = await (await fetch(`${kiln.url}/api/v1/flamegraph?type=${encodeURIComponent('process_cpu:cpu:nanoseconds:cpu:nanoseconds')}&query=${encodeURIComponent('{service_name="bench"}')}&from=now-1h&maxNodes=${NODES * 2}`)).json()
  console.log(`kiln flame graph: ${fg.flamegraph.levels.reduce((n: number, l: number[]) => n + l.length / 4, 0)} nodes in ${fg.flamegraph.levels.length} levels`)

  /**
   * Kiln's flame graph view with every node (maxNodes above the node count): hover and zoom.
   * `onPage` takes OffscreenCanvas away, so the page paints the graph itself (the fallback, and
   * how Kiln painted before the worker): the same run measures both.
   */
  async function measureKiln(onPage: boolean) {
    const kp = await ctx.newPage()
    if (onPage) await kp.addInitScript({ content: 'delete HTMLCanvasElement.prototype.transferControlToOffscreen' })
    kp.on('pageerror', (e) => console.log(`page error: ${e.message}`))
    await kp.goto(`${kiln.url}/?service=bench&view=flame&maxNodes=${NODES * 2}&from=now-1h`)
    const canvas = kp.locator('[data-testid=flame-canvas]')
    await canvas.waitFor({ timeout: 60_000 }).catch(async (e) => {
      await kp.screenshot({ path: join(root, 'bench/out/ui-render-failed.png') })
      throw new Error(`the flame graph did not appear; the page shows: ${(await kp.locator('#app').innerText()).slice(0, 300)}\nserver log: ${kiln.stderr().slice(-2000)}`, { cause: e })
    })
    await kp.waitForFunction(() => !document.querySelector('canvas[data-pending]'))
    const kbox = (await canvas.boundingBox())!
    const hover = await frameTimes(kp, await hoverActions(kp, kbox))
    // Event Timing (what INP is built on): each click's time from input to the next paint, as the
    // user sees it; Chromium reports only entries of 16 ms or more. And from pointer down to the
    // worker's paint of the zoomed graph (what the user waits for).
    await kp.evaluate(() => {
      const w = window as unknown as { slowClicks: number[]; paints: number[]; down: number; parts: number[][] }
      w.slowClicks = []
      w.paints = []
      w.parts = []
      new PerformanceObserver((l) => {
        for (const e of l.getEntries() as PerformanceEventTiming[]) {
          if (e.name !== 'click') continue
          w.slowClicks.push(e.duration)
          // Where a slow click's time went: waiting for the main thread, the handlers, the rest to the paint.
          w.parts.push([e.processingStart - e.startTime, e.processingEnd - e.processingStart, e.startTime + e.duration - e.processingEnd])
        }
      }).observe({ type: 'event', durationThreshold: 16 } as PerformanceObserverInit)
      addEventListener('pointerdown', () => (w.down = performance.now()), true)
      const c = document.querySelector('[data-testid=flame-canvas]')!
      new MutationObserver(() => c.hasAttribute('data-pending') || w.paints.push(performance.now() - w.down)).observe(c, { attributes: true, attributeFilter: ['data-pending'] })
    })
    const zoom = await frameTimes(
      kp,
      Array.from({ length: ZOOMS }, (_, k) => async () => {
        // Alternate: click a frame on the second row (zoom in), then the root (zoom back out).
        await kp.mouse.click(kbox.x + (k % 2 ? 2 : ((k * 53) % 89) / 89 * kbox.width), kbox.y + (k % 2 ? 9 : 27))
      }),
    )
    const { slowClicks, paints, parts } = await kp.evaluate(() => {
      const w = window as unknown as { slowClicks: number[]; paints: number[]; parts: number[][] }
      return { slowClicks: w.slowClicks, paints: w.paints, parts: w.parts }
    })
    return { page: kp, hover, zoom, slowClicks, paints, parts }
  }
  const kiln1 = await measureKiln(false)
  const kiln0 = await measureKiln(true)
  const kp = kiln1.page
  const idle = await frameTimes(kp, Array.from({ length: 20 }, () => async () => {}))
  // The same browser's floor for a click: a button whose handler only changes its own text.
  await kp.evaluate(() => {
    const w = window as unknown as { slowClicks: number[] }
    w.slowClicks = []
    const b = document.createElement('button')
    b.id = 'bench-floor'
    b.textContent = '0'
    b.onclick = () => (b.textContent = String(Number(b.textContent) + 1))
    document.body.prepend(b)
  })
  const fbox = (await kp.locator('#bench-floor').boundingBox())!
  const clickFloor = await frameTimes(kp, Array.from({ length: ZOOMS }, () => () => kp.mouse.click(fbox.x + 5, fbox.y + 5)))
  const slowFloor = await kp.evaluate(() => (window as unknown as { slowClicks: number[] }).slowClicks.splice(0))

  // speedscope: the same folded profile, Left Heavy view (its flame graph).
  const sp = await ctx.newPage()
  await sp.goto(`${ss.url}/index.html#profileURL=${encodeURIComponent(`${ss.url}/profile.txt`)}`)
  await sp.waitForSelector('canvas', { timeout: 120_000 })
  await sp.waitForTimeout(1000)
  await sp.keyboard.press('2')
  await sp.waitForTimeout(500)
  const sbox = { x: 0, y: 60, width: 1280, height: 400 }
  const sHover = await frameTimes(sp, await hoverActions(sp, sbox))
  const sZoom = await frameTimes(
    sp,
    Array.from({ length: ZOOMS }, (_, k) => async () => {
      // speedscope zooms with ctrl+wheel at the pointer; alternate in and out.
      await sp.mouse.move(200 + ((k * 53) % 89) * 10, 150)
      await sp.keyboard.down('Control')
      await sp.mouse.wheel(0, k % 2 ? 300 : -300)
      await sp.keyboard.up('Control')
    }),
  )

  mkdirSync(join(root, 'bench/out'), { recursive: true })
  await kp.screenshot({ path: join(root, 'bench/out/ui-render-kiln.png') })
  await sp.screenshot({ path: join(root, 'bench/out/ui-render-speedscope.png') })
  const over = (xs: number[]) => `${xs.length} of ${ZOOMS}${xs.length ? `, max ${Math.max(...xs)} ms` : ''}`
  console.log(`measurement floor (no action): ${fmt(idle)}; a click on a button that only changes its text: ${fmt(clickFloor)}`)
  for (const [name, k] of [['kiln (worker paints)', kiln1], ['kiln (page paints)', kiln0]] as const) {
    console.log(`${name.padEnd(21)} hover: ${fmt(k.hover)}`)
    console.log(`${name.padEnd(21)} zoom:  ${fmt(k.zoom)}`)
    if (k.parts.length) console.log(`${name.padEnd(21)} slow clicks, median ms: input delay ${q(k.parts.map((p) => p[0]!), 0.5).toFixed(1)}, handlers ${q(k.parts.map((p) => p[1]!), 0.5).toFixed(1)}, handlers to next paint ${q(k.parts.map((p) => p[2]!), 0.5).toFixed(1)}`)
    console.log(`${name.padEnd(21)} frames over 16 ms of main-thread time: ${[...k.hover, ...k.zoom].filter((t) => t > 16).length} of ${k.hover.length + k.zoom.length}; zoom clicks over 16 ms from input to next paint (Event Timing): ${over(k.slowClicks)}`)
  }
  if (kiln1.paints.length) console.log(`kiln (worker paints) zoom, pointer down → graph painted: ${fmt(kiln1.paints)}`)
  console.log(`speedscope            hover: ${fmt(sHover)}`)
  console.log(`speedscope            zoom:  ${fmt(sZoom)}`)
  console.log(`Event Timing floor (that button): ${over(slowFloor)}`)
  console.log(`ratio kiln (worker) / speedscope, median main-thread time per action, lower is better: hover ${(q(kiln1.hover, 0.5) / q(sHover, 0.5)).toFixed(2)}, zoom ${(q(kiln1.zoom, 0.5) / q(sZoom, 0.5)).toFixed(2)}`)
  console.log(`ratio kiln worker / page painting, median zoom: ${(q(kiln1.zoom, 0.5) / q(kiln0.zoom, 0.5)).toFixed(2)}`)
  const load = (await import('node:os')).loadavg()
  console.log(`load average: ${load.map((x) => x.toFixed(2)).join(' ')}`)
} finally {
  await browser.close()
  ss.close()
  await kiln.dispose()
}
