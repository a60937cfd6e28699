/**
 * The browser_* metrics of a context, as k6 reports them: web vitals measured in the page by
 * Google's web-vitals library (injected before any page script, as k6 injects it), and each
 * network request's duration, bytes and failure from Playwright's request events. Each sample
 * carries the tags (the group among them) current when the request started or the vital was
 * measured, and goes through its page's `page.on('metric')` handlers (a Tagger) first.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { BrowserContext, Page, Request } from 'playwright-core'
import type { Tags } from '../../results/metrics.ts'

export type Emit = (metric: string, value: number, tags: Tags) => void

/** A page's page.on('metric') handlers: the name that replaces a sample's url and name tags, or ''. */
export type Tagger = (url: string, method: string) => Promise<string>

/** The binding the page script reports through. */
const BINDING = '__kilnWebVital'

let vitalsScript: string | null = null
/**
 * web-vitals' IIFE build (global `webVitals`) and the few lines that report through the binding.
 * LCP, CLS and INP change while the page lives: reported at each change (reportAllChanges) and
 * kept here until the page closes or navigates, so each page view gives one sample of each.
 * FID (gone from web-vitals 5, still a k6 metric) is read from the first-input entry.
 */
function pageScript(): string {
  if (vitalsScript) return vitalsScript
  // The package exports only its module builds; the IIFE (global `webVitals`) sits beside them.
  const dist = dirname(createRequire(import.meta.url).resolve('web-vitals'))
  const lib = readFileSync(join(dist, 'web-vitals.iife.js'), 'utf8')
  const report = `(function () {
  if (window.top !== window || typeof webVitals === 'undefined') return
  var send = function (m) { window['${BINDING}'](JSON.stringify({ name: m.name, value: m.value, rating: m.rating, id: m.id, url: location.href })) }
  var all = { reportAllChanges: true }
  webVitals.onFCP(send); webVitals.onTTFB(send); webVitals.onLCP(send, all); webVitals.onCLS(send, all); webVitals.onINP(send, all)
  try {
    new PerformanceObserver(function (list) {
      var e = list.getEntries()[0]
      if (e) { var v = e.processingStart - e.startTime; send({ name: 'FID', value: v, rating: v <= 100 ? 'good' : v <= 300 ? 'needs-improvement' : 'poor', id: 'fid', url: location.href }) }
    }).observe({ type: 'first-input', buffered: true })
  } catch (e) {}
})()`
  vitalsScript = `${lib}\n${report}`
  return vitalsScript
}

interface Vital {
  name: string
  value: number
  rating: string
  id: string
  url: string
  /** The tags when it was measured (set here). */
  tags?: Tags
}

/** Values that may still change, per page: flushed when the page closes or navigates away. */
export class ContextMetrics {
  private readonly pending = new Map<Page, Map<string, Vital>>()
  private readonly taggers = new Map<Page, Tagger>()
  /** Each request's tags as they were when it started. */
  private readonly started = new WeakMap<Request, Tags>()

  constructor(
    private readonly emit: Emit,
    private readonly tags: () => Tags,
  ) {}

  async install(ctx: BrowserContext): Promise<void> {
    await ctx.exposeBinding(BINDING, ({ page }, json: string) => this.vital(page, JSON.parse(json) as Vital))
    await ctx.addInitScript(pageScript())
    ctx.on('request', (r) => this.started.set(r, this.tags()))
    ctx.on('requestfinished', (r) => void this.request(r, false))
    ctx.on('requestfailed', (r) => void this.request(r, true))
    ctx.on('page', (p) => {
      p.on('close', () => this.flush(p))
      // A new document starts new measurements: the old page view's final values go out first.
      p.on('framenavigated', (f) => {
        if (f === p.mainFrame()) this.flushStale(p, f.url())
      })
    })
  }

  /** Routes `page`'s samples through its page.on('metric') handlers (null: no more). */
  setTagger(page: Page, t: Tagger | null): void {
    if (t) this.taggers.set(page, t)
    else this.taggers.delete(page)
  }

  private vital(page: Page, v: Vital): void {
    v.tags = this.tags()
    const name = v.name.toLowerCase()
    if (name === 'fcp' || name === 'ttfb' || name === 'fid') return void this.send(page, v)
    let m = this.pending.get(page)
    if (!m) this.pending.set(page, (m = new Map()))
    m.set(name, v)
  }

  private async send(page: Page, v: Vital): Promise<void> {
    const tags = await this.tagged(page, { ...(v.tags ?? this.tags()), url: v.url, rating: v.rating }, 'GET')
    this.emit(`browser_web_vital_${v.name.toLowerCase()}`, v.value, tags)
  }

  /** `tags` with url (and name, when set) replaced as the page's metric handlers say. */
  private async tagged(page: Page | null, tags: Tags, method: string): Promise<Tags> {
    const t = page && this.taggers.get(page)
    const name = t ? await t(tags.url ?? '', method) : ''
    if (!name) return tags
    return { ...tags, url: name, ...('name' in tags ? { name } : {}) }
  }

  private flushStale(page: Page, url: string): void {
    const m = this.pending.get(page)
    if (!m) return
    for (const [k, v] of m) {
      if (v.url !== url) {
        void this.send(page, v)
        m.delete(k)
      }
    }
  }

  /** Sends a page's last values (its close, or the end of the iteration); resolves when they are out. */
  flush(page?: Page): Promise<void> {
    const out: Promise<void>[] = []
    for (const [p, m] of this.pending) {
      if (page && p !== page) continue
      for (const v of m.values()) out.push(this.send(p, v))
      this.pending.delete(p)
    }
    return Promise.all(out).then(() => {})
  }

  private async request(r: Request, failed: boolean): Promise<void> {
    let status = 0
    let received = 0
    let sent = 0
    try {
      const res = failed ? null : await r.response()
      status = res?.status() ?? 0
      const s = await r.sizes()
      received = s.responseBodySize + s.responseHeadersSize
      sent = s.requestBodySize + s.requestHeadersSize
    } catch {
      // The context closed while the sizes were asked for: the duration and failure still count.
    }
    const url = r.url()
    // data: URLs never touch the network (k6 skips them too).
    if (url.startsWith('data:')) return
    const t = r.timing()
    let page: Page | null = null
    try {
      page = r.frame().page()
    } catch {
      // A service worker's request has no frame.
    }
    const tags: Tags = await this.tagged(
      page,
      {
        ...(this.started.get(r) ?? this.tags()),
        url,
        name: url,
        method: r.method(),
        status: String(status),
        resource_type: r.resourceType(),
      },
      r.method(),
    )
    if (t.responseEnd > 0) this.emit('browser_http_req_duration', t.responseEnd, tags)
    this.emit('browser_http_req_failed', failed || status >= 400 ? 1 : 0, tags)
    if (received > 0) this.emit('browser_data_received', received, tags)
    if (sent > 0) this.emit('browser_data_sent', sent, tags)
  }
}
