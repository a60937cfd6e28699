/**
 * The host half of `k6/browser` for one VU: its browser contexts and the Playwright objects the
 * VM holds by number. The VM calls a method by name on an object (browser.js wraps each number
 * in the k6 class of its kind); arguments and results cross as JSON where objects are refs,
 * bytes base64 and functions their source. Contexts live for one iteration, as in k6: closed,
 * and every ref dropped, when it ends.
 *
 * Ref 0 is k6's `browser`. The connection (playwright-core's connectOverCDP to the run's
 * Chromium, see launch.ts) is one per thread, shared by the thread's VUs.
 */
import { chromium, devices as pwDevices, type Browser, type BrowserContext, type BrowserContextOptions } from 'playwright-core'
import type { Tags } from '../../results/metrics.ts'
import type { BrowserInfo } from './launch.ts'
import { ContextMetrics, type Emit } from './metrics.ts'

const connections = new Map<string, Promise<{ browser: Browser; userAgent: string }>>()

function connect(endpoint: string): Promise<{ browser: Browser; userAgent: string }> {
  let c = connections.get(endpoint)
  if (!c) {
    c = (async () => {
      const browser = await chromium.connectOverCDP(endpoint)
      // Chromium gone (crashed, killed): the next newContext reconnects and says why it cannot.
      browser.on('disconnected', () => connections.delete(endpoint))
      const cdp = await browser.newBrowserCDPSession()
      const v = (await cdp.send('Browser.getVersion')) as { userAgent: string }
      await cdp.detach()
      // As k6 does: headless Chromium's 'HeadlessChrome/…' is refused by some sites.
      return { browser, userAgent: v.userAgent.replace('HeadlessChrome', 'Chrome') }
    })()
    c.catch(() => connections.delete(endpoint))
    connections.set(endpoint, c)
  }
  return c
}

/** k6's `devices`: Playwright's descriptors of the devices k6 lists, in k6's shape. */
export function k6Devices(names: string[]): string {
  const out: Record<string, unknown> = {}
  for (const name of names) {
    const d = pwDevices[name]
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
  private current: BrowserContext | null = null
  private userAgent = ''
  private version = ''

  constructor(private readonly v: SessionBridge) {}

  /** The result of a call, as the VM decodes it. */
  encode(x: unknown): unknown {
    if (x === undefined) return { $u: 1 }
    if (x === null || typeof x !== 'object') return x
    if (Buffer.isBuffer(x)) return { $b: x.toString('base64') }
    if (Array.isArray(x)) return x.map((e) => this.encode(e))
    if (x instanceof Date) return x.toISOString()
    if (kind(x) === 'Browser') return { $r: 0, $t: 'Browser' }
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
    if (ref === 0) return this.browserMethod(method, args)
    const t = this.target(ref) as Obj
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

  private browserMethod(method: string, args: unknown[]): unknown {
    switch (method) {
      case 'newContext':
        return this.newContext(args[0] as Obj | undefined)
      case 'newPage':
        return this.newContext(args[0] as Obj | undefined).then((c) => c.newPage())
      case 'context':
        return this.current
      case 'closeContext': {
        const c = this.current
        if (!c) throw new Error('closeContext: there is no browser context to close')
        return this.closeContext(c)
      }
      case 'isConnected':
        return this.version !== ''
      case 'userAgent':
        return this.userAgent
      case 'version':
        return this.version
    }
    throw new TypeError(`browser.${method} is not supported by Kiln's k6/browser`)
  }

  /** k6's check that the scenario asked for a browser, then a context with the metrics installed. */
  private async newContext(opts: Obj | undefined): Promise<BrowserContext> {
    const info = this.v.info()
    if (!info || !info.scenarios.includes(this.v.scenario() ?? '')) {
      throw new Error(
        'browser not found in registry. make sure to set browser type option in scenario definition in order to use the browser module ' +
          "(options.scenarios.NAME.options.browser.type = 'chromium')",
      )
    }
    if (!info.endpoint) throw new Error(info.error)
    const { browser, userAgent } = await connect(info.endpoint)
    this.userAgent = userAgent
    this.version = browser.version()
    const ctx = await browser.newContext({ userAgent, ...contextOptions(opts) })
    const m = new ContextMetrics(this.v.emit, () => this.v.baseTags())
    await m.install(ctx)
    this.contexts.set(ctx, m)
    ctx.on('close', () => {
      m.flush()
      this.contexts.delete(ctx)
      if (this.current === ctx) this.current = null
    })
    this.current = ctx
    return ctx
  }

  private async closeContext(c: BrowserContext): Promise<void> {
    this.contexts.get(c)?.flush()
    await c.close().catch(() => {})
  }

  /** The end of an iteration: its contexts close (the last web-vital values go out first) and its refs go. */
  async endIteration(): Promise<void> {
    const all = [...this.contexts.keys()]
    if (all.length) await Promise.all(all.map((c) => this.closeContext(c)))
    this.contexts.clear()
    this.current = null
    this.refs.clear()
  }
}
