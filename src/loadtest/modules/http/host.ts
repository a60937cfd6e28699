/** Host functions of http.js: requests (the VM waits, or an event-loop operation), batches, jars. */
import type { HostBinder } from '../../engine/host-api.ts'
import type { EventLoop } from '../../engine/eventloop.ts'
import type { Host } from '../../engine/host.ts'
import type { Tags } from '../../results/metrics.ts'
import type { JarStore } from './cookies.ts'
import { encodeResponse, parsedUrl, request, type HttpClient, type RequestSpec, type ResponseData } from './http.ts'

/** What of its VU the HTTP host functions use. */
export interface HttpBridge {
  host: Host
  client: HttpClient
  jars: JarStore
  loop: EventLoop
  baseTags(): Tags
  interrupted(): boolean
}

/**
 * k6's `rps`: at most that many requests a second over the whole run, spaced evenly (a token
 * bucket of one, as Go's rate.Limiter that k6 uses). Each request takes the next free send time
 * from a word every thread shares (compare-and-swap), then waits for it; false when the VU was
 * interrupted meanwhile (the request is not sent).
 */
async function rpsTurn(next: BigInt64Array, rps: number, interrupted: () => boolean): Promise<boolean> {
  const step = BigInt(Math.max(1, Math.round(1e6 / rps)))
  const now = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000))
  let cur = Atomics.load(next, 0)
  let mine: bigint
  for (;;) {
    mine = cur > now ? cur : now
    const seen = Atomics.compareExchange(next, 0, cur, mine + step)
    if (seen === cur) break
    cur = seen
  }
  let waitMs = Number(mine - now) / 1000
  // In slices, so an interrupt (gracefulStop, Ctrl-C) is not held up by a long queue.
  while (waitMs > 0 && !interrupted()) {
    const d = Math.min(waitMs, 100)
    await new Promise((r) => setTimeout(r, d))
    waitMs -= d
  }
  return !interrupted()
}

/** k6's `batch` option: at most `limit` of the items in flight at once; results in order. */
async function inBatches<T, R>(items: T[], limit: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await f(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, lane))
  return out
}

export function installHttp(b: HostBinder, { host, client, jars, loop, baseTags, interrupted }: HttpBridge): void {
  const o = host.options
  /** One request: its Response, or the error text for the script. */
  const one = async (spec: RequestSpec): Promise<ResponseData | string> => {
    if (spec.redirects < 0) spec.redirects = o.maxRedirects
    if (!spec.responseType) spec.responseType = o.discardResponseBodies ? 'none' : 'text'
    if (!parsedUrl(spec.url)) return `invalid URL '${spec.url}'`
    if (spec.jar !== undefined) {
      try {
        spec.cookieJar = spec.jar === null ? null : jars.get(spec.jar)
      } catch (e) {
        return (e as Error).message
      }
    }
    if (o.rpsNext && !(await rpsTurn(o.rpsNext, o.rps, interrupted))) return 'interrupted'
    const res = await request(client, spec, host.registry, baseTags())
    if (res.error) host.log('warn', `Request Failed error="${res.error}"`)
    return res
  }
  const answer = async (spec: RequestSpec): Promise<string> => {
    const res = await one(spec)
    if (typeof res === 'string') throw new Error(res)
    return encodeResponse(res)
  }
  // `http.get(url)` without params: what http.js buildSpec gives for no params, built here.
  const plainSpec = (method: string, url: string, group: string): RequestSpec => ({
    method,
    url,
    headers: {},
    tags: { group },
    timeoutMs: 60000,
    redirects: -1,
    responseType: o.discardResponseBodies ? 'none' : 'text',
    expected: null,
  })
  b.def('throwOnError', [], () => o.throw)
  b.defAsync('request', ['s'], (j) => answer(JSON.parse(j) as RequestSpec))
  b.defAsync('requestPlain', ['s', 's', 's'], (m, u, g) => answer(plainSpec(m, u, g)))
  b.defAsync('batch', ['s'], async (j) => {
    const all = await inBatches(JSON.parse(j) as RequestSpec[], o.batch, one)
    const bad = all.find((r): r is string => typeof r === 'string')
    if (bad) throw new Error(bad)
    return JSON.stringify(all.map((r) => encodeResponse(r as ResponseData)))
  })
  // http.asyncRequest: the request goes out now; its Response comes back as an event-loop event.
  const start = (id: number, spec: RequestSpec) =>
    loop.op(
      id,
      one(spec).then((r) => (typeof r === 'string' ? Promise.reject(new Error(r)) : encodeResponse(r))),
    )
  b.def('requestStart', ['n', 's'], (id, j) => start(id, JSON.parse(j) as RequestSpec))
  b.def('requestPlainStart', ['n', 's', 's', 's'], (id, m, u, g) => start(id, plainSpec(m, u, g)))
  b.def('jar', ['s'], (j) => jars.call(j))
}
