/**
 * The browsers a VU's script holds: k6's `browser` (the run's Chromium, or one K6_BROWSER_WS_URL
 * names) and each `chromium.connectOverCDP(url)`. The run's own Chromium is reached over one CDP
 * connection per thread, shared by the thread's VUs and kept for the run (the process goes at its
 * end); a browser the run did not start gets a connection of its own for one iteration, closed
 * at its end, which leaves the browser running (Playwright's close of a CDP-attached browser only
 * drops the WebSocket).
 */
import type { Browser, BrowserContext } from 'playwright-core'
import { playwright } from './playwright.ts'

interface Connection {
  pw: Browser
  /** As k6 gives it: headless Chromium's 'HeadlessChrome/…' is refused by some sites. */
  userAgent: string
}

/** One script-visible browser: its connection and the context browser.context() answers. */
export class BrowserHandle {
  current: BrowserContext | null = null
  closed = false
  constructor(
    readonly pw: Browser,
    readonly userAgent: string,
    /** Attached for this iteration only (its connection closes at the end, the browser stays). */
    readonly attached: boolean,
  ) {}

  /** Drops the connection of an attached browser (its contexts first); a shared one stays. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.current = null
    if (this.attached) await this.pw.close().catch(() => {})
  }
}

async function open(endpoint: string): Promise<Connection> {
  const pw = await playwright().chromium.connectOverCDP(endpoint)
  const cdp = await pw.newBrowserCDPSession()
  const v = (await cdp.send('Browser.getVersion')) as { userAgent: string }
  await cdp.detach()
  return { pw, userAgent: v.userAgent.replace('HeadlessChrome', 'Chrome') }
}

const shared = new Map<string, Promise<Connection>>()

/** The thread's connection to the run's own Chromium. */
function sharedConnection(endpoint: string): Promise<Connection> {
  let c = shared.get(endpoint)
  if (!c) {
    c = open(endpoint).then((conn) => {
      // Chromium gone (crashed, killed): the next newContext reconnects and says why it cannot.
      conn.pw.on('disconnected', () => shared.delete(endpoint))
      return conn
    })
    c.catch(() => shared.delete(endpoint))
    shared.set(endpoint, c)
  }
  return c
}

/** k6's `browser`: the run's Chromium, or (remote) one of K6_BROWSER_WS_URL's comma-separated URLs at random, as k6 picks. */
export async function managedBrowser(endpoint: string, remote: boolean): Promise<BrowserHandle> {
  if (!remote) {
    const c = await sharedConnection(endpoint)
    return new BrowserHandle(c.pw, c.userAgent, false)
  }
  const urls = endpoint
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean)
  const url = urls[Math.floor(Math.random() * urls.length)] ?? ''
  return attach(url, 'K6_BROWSER_WS_URL')
}

/** chromium.connectOverCDP(url): k6 takes a ws:// or wss:// endpoint. */
export async function attach(url: string, what = 'connectOverCDP'): Promise<BrowserHandle> {
  if (!/^wss?:\/\//i.test(url)) {
    throw new TypeError(
      `${what}: '${url}' is not a WebSocket endpoint: give the browser's ws:// or wss:// URL ` +
        '(webSocketDebuggerUrl in http://HOST:PORT/json/version of a Chromium started with --remote-debugging-port)',
    )
  }
  let c: Connection
  try {
    c = await open(url)
  } catch (e) {
    const why = (e as Error).message.split('\n')[0]!.replace(/^browserType\.connectOverCDP: /, '')
    throw new Error(
      `${what}: cannot attach to ${url}: ${why}; is the browser running with --remote-debugging-port? ` +
        'Its URL is webSocketDebuggerUrl in http://HOST:PORT/json/version',
    )
  }
  return new BrowserHandle(c.pw, c.userAgent, true)
}
