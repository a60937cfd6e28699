/**
 * The host half of `k6/browser` for one VU: its browser contexts and the Playwright objects the
 * VM holds by number. The VM calls a method by name on an object (browser.js wraps each number
 * in the k6 class of its kind); arguments and results cross as JSON where objects are refs,
 * bytes base64 and functions their source. Contexts live for one iteration, as in k6: closed,
 * and every ref dropped, when it ends.
 *
 * Ref 0 is k6's `browser`; browsers from chromium.connectOverCDP get refs like other objects
 * (browsers.ts holds their connections).
 */
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core'
import type { Tags } from '../../results/metrics.ts'
import { attach, BrowserHandle, managedBrowser } from './browsers.ts'
import type { BrowserInfo } from './launch.ts'
import { ContextMetrics, type Emit } from './metrics.ts'
import { playwright } from './playwright.ts'
import { MetricTaggers } from './tagging.ts'

/** k6's `devices`: Playwright's descriptors of the devices k6 lists, in k6's shape. */
export function k6Devices(names: string[]): string {
  const out: Record<string, unknown> = {}
  const { devices } = playwright()
  for (const name of names) {
    const d = devices[name]
    if (!d) continue
    const { userAgent, viewport, deviceScaleFactor, isMobile, hasTouch } = d
    out[name] = { name, userAgent, viewport, deviceScaleFactor, isMobile, hasTouch }
  }
  return JSON.stringify(out)
}

/** What of its VU the browser session uses. */
export interface SessionBridge {
  info(): BrowserInfo | undefined
  scenario(): string | null
  emit: Emit
  baseTags(): Tags
}

type Obj = Record<string, unknown>
/** Playwright's classes are bundled with a prefix or suffix on their names (`_Page`, `Keyboard2`). */
const kind = (o: object): string => o.constructor.name.replace(/^_+/, '').replace(/\d+$/, '')
const KINDS = new Set([
  'BrowserContext',
  'Page',
  'Frame',
  'Locator',
  'FrameLocator',
  'ElementHandle',
  'JSHandle',
  'Keyboard',
  'Mouse',
  'Touchscreen',
  'Request',
  'Response',
  'Route',
  'ConsoleMessage',
  'Worker',
  'Dialog',
])

/** k6 context options that Playwright spells differently. */
function contextOptions(o: Obj | undefined): BrowserContextOptions {
  const opts = { ...(o ?? {}) } as Obj
  if ('timezoneID' in opts) {
    opts.timezoneId = opts.timezoneID
    delete opts.timezoneID
  }
  // k6's Device carries its name; Playwright rejects unknown options.
  delete opts.name
  return opts as BrowserContextOptions
}

export class BrowserSession {
  private readonly refs = new Map<number, object>()
  private readonly ids = new WeakMap<object, number>()
  private nextRef = 1
  private readonly contexts = new Map<BrowserContext, ContextMetrics>()
  /** k6's `browser` for this iteration (ref 0), and the ones chromium.connectOverCDP attached. */
  private managed: BrowserHandle | null = null
  private readonly handles = new Map<Browser, BrowserHandle>()
  /** Dialogs a script accepted or dismissed (the rest are dismissed once its handlers are done). */
  private readonly handled = new WeakSet<object>()
  private userAgent = ''
  private version = ''
  /** The k6 group of the VM's latest call: the group tag of the browser_* samples it causes. */
  group = ''
  readonly taggers = new MetricTaggers()

  constructor(private readonly v: SessionBridge) {}

  /** The result of a call, as the VM decodes it. */
  encode(x: unknown): unknown {
    if (x === undefined) return { $u: 1 }
    if (x === null || typeof x !== 'object') return x
    if (Buffer.isBuffer(x)) return { $b: x.toString('base64') }
    if (Array.isArray(x)) return x.map((e) => this.encode(e))
    if (x instanceof Date) return x.toISOString()
    if (kind(x) === 'Browser') {
      const h = this.handles.get(x as Browser)
      return h === undefined || h === this.managed ? { $r: 0, $t: 'Browser' } : { $r: this.ref(h), $t: 'ConnectedBrowser' }
    }
    if (x instanceof BrowserHandle) return { $r: this.ref(x), $t: 'ConnectedBrowser' }
    const k = kind(x)
    if (KINDS.has(k)) return { $r: this.ref(x), $t: k }
    const out: Obj = {}
    for (const [key, val] of Object.entries(x)) out[key] = this.encode(val)
    return out
  }

  private ref(o: object): number {
    let id = this.ids.get(o)
    if (id === undefined) {
      id = this.nextRef++
      this.ids.set(o, id)
      this.refs.set(id, o)
    }
    return id
  }

  /** Arguments from the VM: refs back to their objects, base64 to bytes, function sources to functions. */
  decode(x: unknown): unknown {
    if (x === null || typeof x !== 'object') return x
    if (Array.isArray(x)) return x.map((e) => this.decode(e))
    const o = x as Obj
    if ('$u' in o) return undefined
    if ('$r' in o) return this.target(o.$r as number)
    if ('$b' in o) return Buffer.from(o.$b as string, 'base64')
    if ('$re' in o) return new RegExp(...(o.$re as [string, string]))
    if ('$f' in o) {
      // Playwright sends a function's source with isFunction set: a stand-in with the script's source.
      const f = () => {}
      f.toString = () => o.$f as string
      return f
    }
    const out: Obj = {}
    for (const [key, val] of Object.entries(o)) out[key] = this.decode(val)
    return out
  }

  target(ref: number): object {
    if (ref === 0) return this
    const t = this.refs.get(ref)
    if (!t) throw new Error('this browser object belongs to an iteration that has ended (contexts and pages live for one iteration)')
    return t
  }

  /** A method or property of an object the VM holds. */
  invoke(ref: number, method: string, args: unknown[]): unknown {
    if (ref === 0) return method === 'connectOverCDP' ? this.attach(String(args[0] ?? '')) : this.browserMethod(null, method, args)
    const target = this.target(ref)
    if (target instanceof BrowserHandle) return this.browserMethod(target, method, args)
    const t = target as Obj
    const special = this.special(t, method, args)
    if (special !== undefined) return special
    const m = t[method]
    if (typeof m !== 'function') {
      if (m !== undefined && args.length === 0) return m
      throw new TypeError(`${kind(t)}.${method} is not supported by Kiln's k6/browser`)
    }
    return (m as (...a: unknown[]) => unknown).apply(t, args)
  }

  /** The few k6 methods Playwright spells or shapes differently. */
  private special(t: Obj, method: string, args: unknown[]): unknown {
    const k = kind(t)
    if ((k === 'Request' || k === 'Response') && method === 'size') {
      const r = (k === 'Request' ? t : (t as { request(): Obj }).request()) as { sizes(): Promise<Record<string, number>> }
      return r
        .sizes()
        .then((s) =>
          k === 'Request'
            ? { headers: s.requestHeadersSize, body: s.requestBodySize }
            : { headers: s.responseHeadersSize, body: s.responseBodySize },
        )
    }
    if (k === 'Dialog') return this.dialog(t as unknown as DialogLike, method, args)
    if (k === 'Page' && (method === 'throttleCPU' || method === 'throttleNetwork' || method === 'emulateVisionDeficiency'))
      return this.cdp(t, method, args[0])
    return undefined
  }

  /** Page emulation Playwright has no call for, through a CDP session of the page. */
  private async cdp(page: Obj, method: string, a: unknown): Promise<void> {
    const ctx = (page as unknown as { context(): BrowserContext }).context()
    const s = await ctx.newCDPSession(page as never)
    try {
      if (method === 'throttleCPU') await s.send('Emulation.setCPUThrottlingRate', { rate: Number((a as Obj)?.rate ?? 1) })
      else if (method === 'emulateVisionDeficiency') await s.send('Emulation.setEmulatedVisionDeficiency', { type: String(a) as never })
      else {
        const p = (a ?? {}) as { latency?: number; download?: number; upload?: number }
        await s.send('Network.enable')
        await s.send('Network.emulateNetworkConditions', {
          offline: false,
          latency: p.latency ?? 0,
          downloadThroughput: p.download ?? -1,
          uploadThroughput: p.upload ?? -1,
        })
      }
    } finally {
      await s.detach().catch(() => {})
    }
  }

  /** A method of k6's browser (h null: ref 0) or of an attached one. */
  private browserMethod(h: BrowserHandle | null, method: string, args: unknown[]): unknown {
    const b = h ?? this.managed
    switch (method) {
      case 'newContext':
        return this.newContext(h, args[0] as Obj | undefined)
      case 'newPage':
        return this.newContext(h, args[0] as Obj | undefined).then((c) => c.newPage())
      case 'context':
        return b?.current ?? null
      case 'closeContext': {
        const c = b?.current
        if (!c) throw new Error('closeContext: there is no browser context to close')
        return this.closeContext(c)
      }
      case 'isConnected':
        return h ? !h.closed && h.pw.isConnected() : this.version !== ''
      case 'userAgent':
        return h ? h.userAgent : this.userAgent
      case 'version':
        return h ? h.pw.version() : this.version
      case 'close':
        if (h) return this.closeBrowser(h)
    }
    throw new TypeError(`browser.${method} is not supported by Kiln's k6/browser`)
  }

  /** chromium.connectOverCDP: no scenario option needed, as in k6 (the script owns that browser). */
  private async attach(url: string): Promise<BrowserHandle> {
    const h = await attach(url)
    this.handles.set(h.pw, h)
    return h
  }

  /** k6's browser for this iteration: the scenario must have asked for one (k6's registry error otherwise). */
  private async managedHandle(): Promise<BrowserHandle> {
    if (this.managed && !this.managed.closed && this.managed.pw.isConnected()) return this.managed
    const info = this.v.info()
    if (!info || !info.scenarios.includes(this.v.scenario() ?? '')) {
      throw new Error(
        'browser not found in registry. make sure to set browser type option in scenario definition in order to use the browser module ' +
          "(options.scenarios.NAME.options.browser.type = 'chromium')",
      )
    }
    if (!info.endpoint) throw new Error(info.error)
    const h = await managedBrowser(info.endpoint, info.remote === true)
    this.managed = h
    this.handles.set(h.pw, h)
    this.userAgent = h.userAgent
    this.version = h.pw.version()
    return h
  }

  /** A context with the metrics installed. */
  private async newContext(h: BrowserHandle | null, opts: Obj | undefined): Promise<BrowserContext> {
    const b = h ?? (await this.managedHandle())
    if (b.closed) throw new Error('newContext: this browser was closed (browser.close()); connect again with chromium.connectOverCDP')
    const ctx = await b.pw.newContext({ userAgent: b.userAgent, ...contextOptions(opts) })
    const m = new ContextMetrics(this.v.emit, () => ({ ...this.v.baseTags(), group: this.group }))
    await m.install(ctx)
    this.contexts.set(ctx, m)
    ctx.on('close', () => {
      void m.flush()
      this.contexts.delete(ctx)
      if (b.current === ctx) b.current = null
    })
    b.current = ctx
    return ctx
  }

  private async closeContext(c: BrowserContext): Promise<void> {
    await this.contexts.get(c)?.flush()
    await c.close().catch(() => {})
  }

  /** An attached browser's close(): its contexts, then the connection (the browser keeps running). */
  private async closeBrowser(h: BrowserHandle): Promise<void> {
    if (h.closed) return
    await Promise.all([...this.contexts.keys()].filter((c) => c.browser() === h.pw).map((c) => this.closeContext(c)))
    this.handles.delete(h.pw)
    await h.close()
  }

  /** The metrics of `page`'s context (page.on('metric') routes its samples through the page's handlers). */
  metricsOf(page: Page): ContextMetrics | undefined {
    return this.contexts.get(page.context())
  }

  /**
   * A Dialog's accept/dismiss, noted so the '$settle' browser.js sends once the page's dialog
   * handlers are done leaves it; a dialog they left open is then handled as Playwright and k6 do
   * with no handler: dismissed, or accepted when it is a beforeunload.
   */
  private dialog(d: DialogLike, method: string, args: unknown[]): unknown {
    if (method === 'accept' || method === 'dismiss') {
      if (this.handled.has(d)) return Promise.resolve()
      this.handled.add(d)
      return method === 'accept' ? d.accept(args[0] === undefined ? undefined : String(args[0])) : d.dismiss()
    }
    if (method !== '$settle') return undefined
    if (this.handled.has(d)) return Promise.resolve()
    this.handled.add(d)
    return (d.type() === 'beforeunload' ? d.accept() : d.dismiss()).catch(() => {})
  }

  /**
   * The end of an iteration: its contexts close (the last web-vital values go out first, tagged
   * by the rules the page's metric handlers gave last, as the VM has stopped), attached browsers
   * are let go, and its refs go.
   */
  async endIteration(): Promise<void> {
    this.taggers.stop()
    const all = [...this.contexts.keys()]
    if (all.length) await Promise.all(all.map((c) => this.closeContext(c)))
    this.contexts.clear()
    for (const h of this.handles.values()) {
      h.current = null
      await h.close()
    }
    this.handles.clear()
    if (this.managed?.closed) this.managed = null
    this.taggers.start()
    this.refs.clear()
  }
}

interface DialogLike {
  accept(text?: string): Promise<void>
  dismiss(): Promise<void>
  type(): string
}
