// Runs inside each VU's QuickJS runtime (evaluated on first import): `k6/browser`. Every object
// (page, locator, frame…) is a number on the host (session.ts beside this file), where
// playwright-core holds the real one; its methods send their name and arguments there. Methods
// that wait for the browser return promises (k6 ≥ 0.52), the rest (url(), locator(),
// mainFrame()…) answer at once. Objects cross as {$r: ref, $t: kind}, bytes as {$b: base64},
// functions (evaluate) as their source, undefined as {$u: 1}. Each call carries the current k6
// group: the group tag of the browser_* samples it causes.
;(function () {
  const H = globalThis.__kh
  const L = globalThis.__k6loop
  const U = globalThis.__k6util
  const K = globalThis.__k6state
  const REF = /** @type {any} */ (Symbol('kiln.browser.ref')) // indexes class instances: typed loosely for tsc
  const words = (s) => s.split(/\s+/).filter(Boolean)

  /** One wrapper per host object, so page.mainFrame() === page.mainFrame(); refs die with their iteration. */
  let wrappers = new Map()
  let wrappersIter = -1
  function wrap(ref, kind) {
    if (globalThis.__ITER !== wrappersIter) {
      wrappers = new Map()
      wrappersIter = globalThis.__ITER
    }
    let w = wrappers.get(ref)
    if (!w) {
      const C = classes[kind] || JSHandle
      w = Object.create(C.prototype)
      Object.defineProperty(w, REF, { value: ref })
      wrappers.set(ref, w)
    }
    return w
  }

  function enc(v) {
    if (v === undefined) return { $u: 1 }
    if (typeof v === 'function') return { $f: String(v) }
    if (v === null || typeof v !== 'object') return v
    if (v[REF] !== undefined) return { $r: v[REF] }
    if (v instanceof RegExp) return { $re: [v.source, v.flags] }
    if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return { $b: U.b64encode(v, 'std') }
    if (Array.isArray(v)) return v.map(enc)
    const o = {}
    for (const k of Object.keys(v)) o[k] = enc(v[k])
    return o
  }
  function dec(x) {
    if (x === null || typeof x !== 'object') return x
    if (Array.isArray(x)) return x.map(dec)
    if ('$u' in x) return undefined
    if ('$r' in x) return x.$r === 0 ? browser : wrap(x.$r, x.$t)
    if ('$b' in x) return U.b64bytes(x.$b).buffer
    const o = {}
    for (const k of Object.keys(x)) o[k] = dec(x[k])
    return o
  }

  function call(self, method, args) {
    let json
    try {
      // k6 documents waitForURL(url: string | RegExp): a function would reach Playwright as its source text.
      if (method === 'waitForURL' && typeof args[0] === 'function')
        throw new TypeError('waitForURL: k6 takes the URL as a string or a RegExp, not a function; pass the exact URL or a RegExp')
      json = JSON.stringify(args.map(enc))
    } catch (e) {
      return Promise.reject(e)
    }
    return L.op(
      (op) => H.browserCall(op, self[REF], method, json, K.group),
      (payload) => dec(JSON.parse(payload)),
    )
  }
  const sync = (self, method, args) => dec(JSON.parse(H.browserSync(self[REF], method, JSON.stringify(args.map(enc)), K.group)))

  /** A k6 class: `async` methods return promises, `now` ones answer at once, `props` are getters. */
  function define(name, async, now, props, base) {
    const C = { [name]: class extends (base || Object) {} }[name]
    for (const m of words(async))
      C.prototype[m] = function (...a) {
        return call(this, m, a)
      }
    for (const m of words(now))
      C.prototype[m] = function (...a) {
        return sync(this, m, a)
      }
    for (const p of words(props || ''))
      Object.defineProperty(C.prototype, p, {
        get() {
          return sync(this, p, [])
        },
      })
    return C
  }

  const GET_BY = 'getByRole getByAltText getByLabel getByText getByTestId getByPlaceholder getByTitle'
  // Actions a page and a frame share (by selector).
  const ACTIONS =
    'check uncheck click dblclick fill focus hover tap press type selectOption dispatchEvent setChecked setInputFiles ' +
    'evaluate evaluateHandle goto setContent title content innerHTML innerText textContent getAttribute inputValue ' +
    'isChecked isDisabled isEnabled isEditable isHidden isVisible waitForFunction waitForLoadState waitForNavigation waitForURL ' +
    'waitForSelector waitForTimeout $ $$'

  const JSHandle = define('JSHandle', 'asElement dispose evaluate evaluateHandle getProperties jsonValue', '')
  const ElementHandle = define(
    'ElementHandle',
    'boundingBox check click contentFrame dblclick dispatchEvent fill focus getAttribute hover innerHTML innerText inputValue ' +
      'isChecked isDisabled isEditable isEnabled isHidden isVisible ownerFrame press screenshot scrollIntoViewIfNeeded selectOption ' +
      'selectText setChecked setInputFiles tap textContent type uncheck waitForElementState waitForSelector $ $$',
    '',
    '',
    JSHandle,
  )
  const Locator = define(
    'Locator',
    'all boundingBox clear click count dblclick evaluate evaluateHandle check uncheck isChecked isEditable isEnabled isDisabled ' +
      'isVisible isHidden fill focus getAttribute innerHTML innerText textContent inputValue selectOption setChecked press ' +
      'pressSequentially type hover tap dispatchEvent waitFor',
    `contentFrame first last locator nth filter ${GET_BY}`,
  )
  const FrameLocator = define('FrameLocator', '', `locator first last nth ${GET_BY}`)
  const Frame = define('Frame', `${ACTIONS} frameElement`, `page parentFrame childFrames name url isDetached locator ${GET_BY}`)
  const Keyboard = define('Keyboard', 'down insertText press type up', '')
  const Mouse = define('Mouse', 'click dblclick down move up wheel', '')
  const Touchscreen = define('Touchscreen', 'tap', '')
  const Page = define(
    'Page',
    `${ACTIONS} bringToFront close emulateMedia emulateVisionDeficiency opener reload goBack goForward screenshot ` +
      'setExtraHTTPHeaders setViewportSize throttleCPU throttleNetwork unroute unrouteAll waitForResponse waitForRequest waitForEvent',
    `context frames isClosed mainFrame url viewportSize setDefaultTimeout setDefaultNavigationTimeout workers locator frameLocator ${GET_BY}`,
    'keyboard mouse touchscreen',
  )
  /** page.on('console' | 'request' | 'response' | 'dialog' | 'metric' | …, handler): called for each event until the iteration ends. */
  Page.prototype.on = function (event, handler) {
    if (typeof handler !== 'function') throw new TypeError(`page.on('${event}') needs a function`)
    if (event === 'metric' || event === 'dialog') {
      handlersOf(this, event).push(handler)
      return
    }
    L.stream(
      (_ok, payload) => handler(dec(JSON.parse(payload))),
      (id) => H.browserOn(id, this[REF], String(event)),
    )
  }
  /**
   * A page's 'metric' or 'dialog' handlers, called in turn on one stream: a dialog is settled
   * (dismissed, a beforeunload accepted) once they are done if none accepted or dismissed it; a
   * metric sample waits on the host for their tag() calls.
   */
  const pageHandlers = { metric: new WeakMap(), dialog: new WeakMap() }
  function handlersOf(page, event) {
    let hs = pageHandlers[event].get(page)
    if (hs) return hs
    hs = []
    pageHandlers[event].set(page, hs)
    L.stream(
      (_ok, payload) => (event === 'metric' ? runMetric(hs, JSON.parse(payload)) : runDialog(hs, dec(JSON.parse(payload)))),
      (id) => H.browserOn(id, page[REF], event),
    )
    return hs
  }
  function runDialog(hs, dialog) {
    const results = []
    try {
      for (const h of hs) results.push(h(dialog))
    } finally {
      const settle = () => call(dialog, '$settle', [])
      Promise.all(results).then(settle, settle)
    }
  }
  const METHODS = words('GET POST PUT DELETE PATCH OPTIONS HEAD TRACE CONNECT')
  /** k6's MetricMessage: tag() checks its argument as k6 does; the rules go back to the host, which matches them. */
  class MetricMessage {
    #rules
    constructor(rules) {
      this.#rules = rules
    }
    tag(t) {
      if (!t || typeof t !== 'object') throw new TypeError('tag: expected an object { name, matches }')
      if (typeof t.name !== 'string' || t.name === '') throw new TypeError('tag: name must be a non-empty string')
      if (!Array.isArray(t.matches)) throw new TypeError('tag: matches must be an array of { url: RegExp, method? }')
      const matches = t.matches.map((m) => {
        if (!m || !(m.url instanceof RegExp)) throw new TypeError('tag: each entry of matches needs url as a RegExp')
        if (m.method !== undefined && !METHODS.includes(m.method))
          throw new TypeError(`tag: method '${m.method}' must be one of ${METHODS.join(', ')}`)
        return { url: [m.url.source, m.url.flags], method: m.method }
      })
      this.#rules.push({ name: t.name, matches })
    }
  }
  function runMetric(hs, sample) {
    const rules = []
    const msg = new MetricMessage(rules)
    try {
      for (const h of hs) h(msg)
    } finally {
      H.browserMetricTagged(sample.seq, JSON.stringify(rules))
    }
  }
  /**
   * A wait whose predicate runs here: the page's `event`s are watched (a weak stream) until one
   * passes, while a timer (k6's 30 s default) keeps the iteration alive and bounds the wait.
   */
  function waitWith(self, event, predicate, timeout) {
    return new Promise((resolve, reject) => {
      let id = 0
      const end = () => {
        globalThis.clearTimeout(timer)
        H.cancel(id)
        L.drop(id)
      }
      const ms = timeout === undefined ? 30000 : Number(timeout)
      const timer = globalThis.setTimeout(
        () => (end(), reject(new Error(`waitForEvent: timeout of ${ms} ms exceeded waiting for '${event}'`))),
        ms || 2 ** 31 - 1,
      )
      id = L.stream(
        (_ok, payload) => {
          const v = dec(JSON.parse(payload))
          let pass
          try {
            pass = predicate(v)
          } catch (e) {
            end()
            return reject(e)
          }
          if (pass) {
            end()
            resolve(v)
          }
        },
        (sid) => H.browserOn(sid, self[REF], String(event)),
      )
    })
  }
  const predicateOf = (o) => (typeof o === 'function' ? o : o && typeof o.predicate === 'function' ? o.predicate : null)
  for (const [method, event] of [
    ['waitForEvent', null],
    ['waitForRequest', 'request'],
    ['waitForResponse', 'response'],
  ]) {
    Page.prototype[method] = function (...a) {
      const p = predicateOf(event ? a[0] : a[1])
      if (!p) return call(this, method, a)
      const opts = a[1]
      return waitWith(this, event || a[0], p, opts && typeof opts === 'object' ? opts.timeout : undefined)
    }
  }
  /** page.route(url, handler): the handler gets each matching request's Route and must continue, fulfill or abort it. */
  Page.prototype.route = function (url, handler) {
    if (typeof handler !== 'function') return Promise.reject(new TypeError('page.route needs a handler function'))
    return L.op((op) => {
      const id = L.stream(
        (_ok, payload) => handler(dec(JSON.parse(payload))),
        () => {},
      )
      H.browserRoute(op, id, this[REF], JSON.stringify(enc(url)))
    }, dec)
  }
  const BrowserContext = define(
    'BrowserContext',
    'addCookies addInitScript clearCookies clearPermissions close cookies grantPermissions newPage setExtraHTTPHeaders setGeolocation setOffline',
    'browser pages setDefaultNavigationTimeout setDefaultTimeout',
  )
  /** browserContext.waitForEvent('page', predicate | { predicate, timeout }): as the page's. */
  BrowserContext.prototype.waitForEvent = function (event, opts) {
    const p = predicateOf(opts)
    if (!p) return call(this, 'waitForEvent', [event, opts])
    return waitWith(this, event, p, opts && typeof opts === 'object' ? opts.timeout : undefined)
  }
  const ConsoleMessage = define('ConsoleMessage', '', 'args page text type')
  const Request = define(
    'Request',
    'allHeaders headersArray headerValue response size',
    'failure frame headers isNavigationRequest method postData postDataBuffer resourceType timing url',
  )
  const Response = define(
    'Response',
    'allHeaders body headersArray headerValue headerValues json securityDetails serverAddr size text',
    'frame headers ok request status statusText url',
  )
  const Route = define('Route', 'abort continue fulfill', 'request')
  const Worker = define('Worker', '', 'url')
  const Dialog = define('Dialog', 'accept dismiss', 'defaultValue message type page')
  const Browser = define('Browser', 'newContext newPage closeContext', 'context isConnected userAgent version')
  /** chromium.connectOverCDP's browser: k6's Browser with close() (the connection only; the browser keeps running). */
  const ConnectedBrowser = define('ConnectedBrowser', 'close', '', '', Browser)
  const classes = {
    JSHandle,
    ElementHandle,
    Locator,
    FrameLocator,
    Frame,
    Keyboard,
    Mouse,
    Touchscreen,
    Page,
    BrowserContext,
    ConsoleMessage,
    Request,
    Response,
    Route,
    Worker,
    Dialog,
    Browser,
    ConnectedBrowser,
  }

  const browser = Object.create(Browser.prototype)
  Object.defineProperty(browser, REF, { value: 0 })

  /** k6's BrowserType: attaches to a running Chromium (no scenario option needed); the connection ends with the iteration. */
  class BrowserType {
    connectOverCDP(wsEndpoint) {
      return call(browser, 'connectOverCDP', [String(wsEndpoint)])
    }
  }
  const chromium = new BrowserType()

  // The devices k6 lists (Playwright's descriptors of the same names, read on the host).
  const DEVICE_NAMES = words(
    'Blackberry_PlayBook BlackBerry_Z30 Galaxy_Note_3 Galaxy_Note_II Galaxy_S_III Galaxy_S5 iPad iPad_Mini iPad_Pro iPhone_4 ' +
      'iPhone_5 iPhone_6 iPhone_6_Plus iPhone_7 iPhone_7_Plus iPhone_8 iPhone_8_Plus iPhone_SE iPhone_X iPhone_XR JioPhone_2 ' +
      'Kindle_Fire_HDX LG_Optimus_L70 Microsoft_Lumia_550 Microsoft_Lumia_950 Nexus_10 Nexus_4 Nexus_5 Nexus_5X Nexus_6 Nexus_6P ' +
      'Nexus_7 Nokia_Lumia_520 Nokia_N9 Pixel_2 Pixel_2_XL',
  )
    .map((n) => n.replace(/_/g, ' '))
    .flatMap((n) => [n, `${n} landscape`])
  const devices = JSON.parse(H.browserDevices(JSON.stringify(DEVICE_NAMES)))

  // Chrome DevTools' network presets, as k6 names them (latency ms, throughput bytes/s, -1 none).
  const networkProfiles = {
    'No Throttling': { latency: 0, download: -1, upload: -1 },
    'Fast 3G': { latency: 562.5, download: 180000, upload: 84375 },
    'Slow 3G': { latency: 2000, download: 50000, upload: 50000 },
  }

  const mod = { browser, chromium, devices, networkProfiles }
  // Not an export: the classes, for the API coverage report (test/loadtest/coverage.test.ts).
  Object.defineProperty(mod, '__kilnClasses', { value: Object.assign({ MetricMessage, BrowserType }, classes) })
  // This file is evaluated on first use: replace the loading getter (vu.ts).
  Object.defineProperty(globalThis.__k6mods, 'k6/browser', {
    value: Object.assign({ default: mod }, mod),
    enumerable: true,
    writable: true,
    configurable: true,
  })
})()
