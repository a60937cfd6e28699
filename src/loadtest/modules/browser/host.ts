/** Host functions of browser.js: every method call on a browser object goes through browserCall or browserSync. */
import type { HostBinder } from '../../engine/host-api.ts'
import type { EventLoop } from '../../engine/eventloop.ts'
import type { Page } from 'playwright-core'
import { type BrowserSession, k6Devices } from './session.ts'

/** What of its VU the browser host functions use. */
export interface BrowserBridge {
  loop: EventLoop
  /** The VU's session, made on first use. */
  session(): BrowserSession
}

/**
 * Events whose listener gets the object as k6 passes it (page.on). With a 'dialog' listener
 * Playwright leaves the dialog open for it: browser.js settles it once the script's handlers are done.
 */
const EVENTS = new Set([
  'dialog',
  'console',
  'request',
  'response',
  'requestfailed',
  'requestfinished',
  'close',
  'load',
  'domcontentloaded',
  'frameattached',
  'framedetached',
  'framenavigated',
  'pageerror',
  'popup',
  'page',
])

export function installBrowser(b: HostBinder, v: BrowserBridge): void {
  const { loop } = v
  b.def('browserDevices', ['s'], (names) => k6Devices(JSON.parse(names) as string[]))
  b.def('browserCall', ['n', 'n', 's', 's', 's'], (op, ref, method, argsJson, group) => {
    const s = v.session()
    s.group = group
    loop.op(
      op,
      (async () => {
        const args = s.decode(JSON.parse(argsJson)) as unknown[]
        return JSON.stringify(s.encode(await s.invoke(ref, method, args)))
      })(),
    )
  })
  b.def('browserSync', ['n', 's', 's', 's'], (ref, method, argsJson, group) => {
    const s = v.session()
    s.group = group
    const r = s.invoke(ref, method, s.decode(JSON.parse(argsJson)) as unknown[])
    if (r instanceof Promise) {
      r.catch(() => {})
      throw new Error(`${method}() is asynchronous here: await it`)
    }
    return JSON.stringify(s.encode(r))
  })
  b.def('browserOn', ['n', 'n', 's'], (id, ref, event) => {
    if (event === 'metric') return onMetric(v, id, ref)
    if (!EVENTS.has(event)) throw new TypeError(`unknown event '${event}': use one of ${[...EVENTS].join(', ')}`)
    const s = v.session()
    const t = s.target(ref) as { on(e: string, f: (x: unknown) => void): void; off(e: string, f: (x: unknown) => void): void }
    const listener = (x: unknown) => loop.push(id, true, JSON.stringify(s.encode(x)))
    t.on(event, listener)
    // Weak: a page left listening must not keep its iteration from ending.
    loop.stream(id, () => t.off(event, listener), true)
  })
  b.def('browserMetricTagged', ['n', 's'], (seq, rulesJson) => v.session().taggers.answer(seq, rulesJson))
  b.def('browserRoute', ['n', 'n', 'n', 's'], (op, id, ref, urlJson) => {
    const s = v.session()
    type Routable = {
      route(u: unknown, f: (r: unknown) => void): Promise<void>
      unroute(u: unknown, f: (r: unknown) => void): Promise<void>
    }
    const t = s.target(ref) as Routable
    const url = s.decode(JSON.parse(urlJson))
    const handler = (route: unknown) => loop.push(id, true, JSON.stringify(s.encode(route)))
    loop.stream(id, () => void t.unroute(url, handler).catch(() => {}), true)
    loop.op(
      op,
      t.route(url, handler).then(() => '{"$u":1}'),
    )
  })
}

/** page.on('metric'): the page's samples wait for its handlers (stream `id`) until the stream ends. */
function onMetric(v: BrowserBridge, id: number, ref: number): void {
  const s = v.session()
  const page = s.target(ref) as Page
  const m = s.metricsOf(page)
  if (!m) throw new Error("page.on('metric'): this page's context is closed")
  m.setTagger(
    page,
    s.taggers.tagger(page, (json) => v.loop.push(id, true, json)),
  )
  v.loop.stream(
    id,
    () => {
      m.setTagger(page, null)
      s.taggers.release(page)
    },
    true,
  )
}
