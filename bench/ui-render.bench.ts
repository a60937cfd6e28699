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
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32
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

const types: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain',
}

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

/**
 * A page's meter: the renderer main thread's busy time (CDP Performance.TaskDuration, ms) of one
 * action, ending after two animation frames (Kiln's, once its worker has painted).
 */
async function meter(page: Page): Promise<(act: () => Promise<void>) => Promise<number>> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Performance.enable')
  const busy = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration')!.value * 1000
  return async (act) => {
    // The page in front, as a user's would be (headless tabs all run, but the one in front gets input).
    await page.bringToFront()
    const t0 = await busy()
    await act()
    // Kiln paints in a worker: the action ends once it has painted (speedscope has no such mark).
    await page.waitForFunction(() => !document.querySelector('canvas[data-pending]'))
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
    return (await busy()) - t0
  }
}

/** Runs the contenders' k-th actions one after another, round by round: each round a pair (or triple) under the same load. */
async function interleaved(
  rounds: number,
  contenders: { measure: (act: () => Promise<void>) => Promise<number>; action: (k: number) => Promise<void> }[],
): Promise<number[][]> {
  const out: number[][] = contenders.map(() => [])
  for (let k = 0; k < rounds; k++) {
    // Who goes first alternates, so that neither always follows the other's frame.
    const order = k % 2 ? [...contenders.keys()].reverse() : [...contenders.keys()]
    for (const c of order) out[c]!.push(await contenders[c]!.measure(() => contenders[c]!.action(k)))
  }
  return out
}

const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!
const fmt = (xs: number[]) => `median ${q(xs, 0.5).toFixed(2)} ms, p95 ${q(xs, 0.95).toFixed(2)} ms, max ${Math.max(...xs).toFixed(2)} ms`

function hoverAt(page: Page, box: { x: number; y: number; width: number; height: number }) {
  return (k: number) =>
    page.mouse.move(box.x + (((k * 37) % 97) / 97) * box.width, box.y + Math.min(box.height - 2, 4 + ((k * 13) % 11) * 18))
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
  // A browser context per page: contexts never share a renderer process, so one page's main-thread
  // time (what is measured) holds none of another's (same-site pages of one context may share one).
  const newPage = async () => (await browser.newContext({ viewport: { width: 1280, height: 720 }, deviceScaleFactor: 1 })).newPage()

  const fg = await (
    await fetch(
      `${kiln.url}/api/v1/flamegraph?type=${encodeURIComponent('process_cpu:cpu:nanoseconds:cpu:nanoseconds')}&query=${encodeURIComponent('{service_name="bench"}')}&from=now-1h&maxNodes=${NODES * 2}`,
    )
  ).json()
  console.log(
    `kiln flame graph: ${fg.flamegraph.levels.reduce((n: number, l: number[]) => n + l.length / 4, 0)} nodes in ${fg.flamegraph.levels.length} levels`,
  )

  /**
   * Kiln's flame graph view with every node (maxNodes above the node count), ready for hover and zoom.
   * `onPage` takes OffscreenCanvas away, so the page paints the graph itself (the fallback, and
   * how Kiln painted before the worker): the same run measures both.
   */
  async function openKiln(onPage: boolean) {
    const kp = await newPage()
    if (onPage) await kp.addInitScript({ content: 'delete HTMLCanvasElement.prototype.transferControlToOffscreen' })
    kp.on('pageerror', (e) => console.log(`page error: ${e.message}`))
    await kp.goto(`${kiln.url}/?service=bench&view=flame&maxNodes=${NODES * 2}&from=now-1h`)
    const canvas = kp.locator('[data-testid=flame-canvas]')
    // A 100,000-node query and first paint take a minute or more on a loaded 2-core machine.
    await canvas.waitFor({ timeout: 300_000 }).catch(async (e) => {
      await kp.screenshot({ path: join(root, 'bench/out/ui-render-failed.png') })
      throw new Error(
        `the flame graph did not appear; the page shows: ${(await kp.locator('#app').innerText()).slice(0, 300)}\nserver log: ${kiln.stderr().slice(-2000)}`,
        { cause: e },
      )
    })
    await kp.waitForFunction(() => !document.querySelector('canvas[data-pending]'), null, { timeout: 300_000 })
    const box = (await canvas.boundingBox())!
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
      new MutationObserver(() => c.hasAttribute('data-pending') || w.paints.push(performance.now() - w.down)).observe(c, {
        attributes: true,
        attributeFilter: ['data-pending'],
      })
    })
    return {
      page: kp,
      measure: await meter(kp),
      hover: hoverAt(kp, box),
      // Alternate: click a frame on the second row (zoom in), then the root (zoom back out).
      zoom: (k: number) => kp.mouse.click(box.x + (k % 2 ? 2 : (((k * 53) % 89) / 89) * box.width), box.y + (k % 2 ? 9 : 27)),
      events: () =>
        kp.evaluate(() => {
          const w = window as unknown as { slowClicks: number[]; paints: number[]; parts: number[][] }
          // Hover entries are not clicks: only the zooms' are kept.
          return { slowClicks: w.slowClicks.splice(0), paints: w.paints.splice(0), parts: w.parts.splice(0) }
        }),
    }
  }
  const k1 = await openKiln(false)
  const k0 = await openKiln(true)

  // speedscope: the same folded profile, Left Heavy view (its flame graph).
  const sp = await newPage()
  await sp.goto(`${ss.url}/index.html#profileURL=${encodeURIComponent(`${ss.url}/profile.txt`)}`)
  await sp.waitForSelector('canvas', { timeout: 120_000 })
  await sp.waitForTimeout(1000)
  await sp.keyboard.press('2')
  await sp.waitForTimeout(500)
  const sMeasure = await meter(sp)
  const sHoverAt = hoverAt(sp, { x: 0, y: 60, width: 1280, height: 400 })
  const sZoomAt = async (k: number) => {
    // speedscope zooms with ctrl+wheel at the pointer; alternate in and out.
    await sp.mouse.move(200 + ((k * 53) % 89) * 10, 150)
    await sp.keyboard.down('Control')
    await sp.mouse.wheel(0, k % 2 ? 300 : -300)
    await sp.keyboard.up('Control')
  }

  // Interleaved: hover k on each page, then hover k+1 …; likewise the zooms.
  const [hover1, hover0, sHover] = await interleaved(MOVES, [
    { measure: k1.measure, action: k1.hover },
    { measure: k0.measure, action: k0.hover },
    { measure: sMeasure, action: sHoverAt },
  ])
  await k1.events()
  await k0.events()
  const [zoom1, zoom0, sZoom] = await interleaved(ZOOMS, [
    { measure: k1.measure, action: k1.zoom },
    { measure: k0.measure, action: k0.zoom },
    { measure: sMeasure, action: sZoomAt },
  ])
  const kiln1 = { hover: hover1!, zoom: zoom1!, ...(await k1.events()) }
  const kiln0 = { hover: hover0!, zoom: zoom0!, ...(await k0.events()) }

  const kp = k1.page
  const measure = k1.measure
  const idle: number[] = []
  for (let k = 0; k < 20; k++) idle.push(await measure(async () => {}))
  // The same browser's floor for a click: a button whose handler only changes its own text.
  await kp.evaluate(() => {
    const b = document.createElement('button')
    b.id = 'bench-floor'
    b.textContent = '0'
    b.onclick = () => (b.textContent = String(Number(b.textContent) + 1))
    document.body.prepend(b)
  })
  const fbox = (await kp.locator('#bench-floor').boundingBox())!
  const clickFloor: number[] = []
  for (let k = 0; k < ZOOMS; k++) clickFloor.push(await measure(() => kp.mouse.click(fbox.x + 5, fbox.y + 5)))
  const slowFloor = (await k1.events()).slowClicks
  const pairRatio = (a: number[], b: number[]) =>
    q(
      a.map((x, k) => x / b[k]!),
      0.5,
    )

  mkdirSync(join(root, 'bench/out'), { recursive: true })
  await kp.screenshot({ path: join(root, 'bench/out/ui-render-kiln.png') })
  await sp.screenshot({ path: join(root, 'bench/out/ui-render-speedscope.png') })
  const over = (xs: number[]) => `${xs.length} of ${ZOOMS}${xs.length ? `, max ${Math.max(...xs)} ms` : ''}`
  console.log(`measurement floor (no action): ${fmt(idle)}; a click on a button that only changes its text: ${fmt(clickFloor)}`)
  for (const [name, k] of [
    ['kiln (worker paints)', kiln1],
    ['kiln (page paints)', kiln0],
  ] as const) {
    console.log(`${name.padEnd(21)} hover: ${fmt(k.hover)}`)
    console.log(`${name.padEnd(21)} zoom:  ${fmt(k.zoom)}`)
    if (k.parts.length)
      console.log(
        `${name.padEnd(21)} slow clicks, median ms: input delay ${q(
          k.parts.map((p) => p[0]!),
          0.5,
        ).toFixed(1)}, handlers ${q(
          k.parts.map((p) => p[1]!),
          0.5,
        ).toFixed(1)}, handlers to next paint ${q(
          k.parts.map((p) => p[2]!),
          0.5,
        ).toFixed(1)}`,
      )
    console.log(
      `${name.padEnd(21)} frames over 16 ms of main-thread time: ${[...k.hover, ...k.zoom].filter((t) => t > 16).length} of ${k.hover.length + k.zoom.length}; zoom clicks over 16 ms from input to next paint (Event Timing): ${over(k.slowClicks)}`,
    )
  }
  if (kiln1.paints.length) console.log(`kiln (worker paints) zoom, pointer down → graph painted: ${fmt(kiln1.paints)}`)
  console.log(`speedscope            hover: ${fmt(sHover!)}`)
  console.log(`speedscope            zoom:  ${fmt(sZoom!)}`)
  console.log(`Event Timing floor (that button): ${over(slowFloor)}`)
  console.log(
    `ratio kiln (worker) / speedscope, median of the interleaved pairs' ratios of main-thread time, lower is better: hover ${pairRatio(kiln1.hover, sHover!).toFixed(2)}, zoom ${pairRatio(kiln1.zoom, sZoom!).toFixed(2)}`,
  )
  console.log(
    `ratio kiln worker / page painting, median of the pairs' ratios: hover ${pairRatio(kiln1.hover, kiln0.hover).toFixed(2)}, zoom ${pairRatio(kiln1.zoom, kiln0.zoom).toFixed(2)}`,
  )
  const load = (await import('node:os')).loadavg()
  console.log(`load average: ${load.map((x) => x.toFixed(2)).join(' ')}`)
} finally {
  await browser.close()
  ss.close()
  await kiln.dispose()
}
