/**
 * The JIT warmed before the clock starts. A fresh `kiln run` spends its first 2–3 s compiling:
 * V8's TurboFan optimises Kiln's JS once per worker thread and tiers up the engine's WASM, ~5 s
 * of CPU on the cores the VUs share, so a test's first seconds ran at a quarter to a half of its
 * steady rate (bench/README.md, "Load testing"): a ramp k6 (compiled ahead) does not have, which
 * distorts the first seconds of every test (rates, dropped iterations, latencies).
 *
 * So before the clock starts, each worker thread runs throwaway VUs of a built-in script
 * (`http.get` in a loop, through the same loop, VU, engine and HTTP client as the test's VUs)
 * against a server of Kiln's own on loopback, never against the test's target; their samples are
 * dropped. The server closes every 25th connection so that reconnecting is compiled too.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { ConfigError } from '../errors.ts'
import type { VuOptions } from '../engine/host.ts'
import { scenarioDuration, type Scenario } from './options.ts'

/**
 * The longest warm-up, in ms. Per 100 ms of a warm-up on two workers the rate climbs for 2–3 s
 * on a loaded machine (with a dip after the first 0.3 s, while the engine's WASM is compiled),
 * under 1.5 s on a quiet one; ending it when the rate stopped climbing ended it in that dip.
 */
export const WARM_UP_MAX_MS = 2000

/**
 * How long the workers warm up: `KILN_RUN_WARMUP` (ms; 0 turns it off), else a quarter of the
 * longest scenario's schedule, at most WARM_UP_MAX_MS. Runs on the main thread only (few
 * iterations, `KILN_RUN_THREADS=0`) never warm up: they are over before compiling would pay.
 */
export function warmUpMs(scenarios: readonly Scenario[], env: NodeJS.ProcessEnv = process.env): number {
  const set = env.KILN_RUN_WARMUP
  if (set !== undefined && set !== '') {
    const ms = Number(set)
    if (!Number.isInteger(ms) || ms < 0)
      throw new ConfigError(`KILN_RUN_WARMUP must be a whole number of milliseconds (0: none), not '${set}'`)
    return ms
  }
  const longest = scenarios.reduce((a, s) => Math.max(a, scenarioDuration(s)), 0)
  return Math.min(WARM_UP_MAX_MS, Math.floor(longest / 4))
}

/** The script the warm-up VUs run. */
export function warmUpScript(url: string): string {
  return `import http from 'k6/http'\nexport default function () {\n  http.get(${JSON.stringify(url)})\n}\n`
}

/** How many warm-up VUs a worker runs: as many as its share of the test's, up to 8. */
export function warmUpVUs(maxVUs: number, threads: number): number {
  return Math.max(1, Math.min(8, Math.ceil(maxVUs / threads)))
}

/**
 * Whether the test's options let its VUs' client reach the warm-up's server as the test's would:
 * not with `rps` (its budget is the test's), `blacklistIPs` (which may hold loopback) or
 * `localIPs` (source addresses for other networks). The warm-up VUs share the test's options
 * object itself: a copy of another shape made V8 throw away what it optimised on it.
 */
export function warmUpFits(o: VuOptions): boolean {
  return !o.rps && !o.net.blacklistIPs.length && !o.net.localIPs?.length
}

export interface WarmTarget {
  url: string
  /** Requests it answered. */
  readonly requests: number
  close(): Promise<void>
}

/**
 * The warm-up's server, on 127.0.0.1: a canned keep-alive answer to each request (a GET's head
 * ends at a blank line), closing the connection after every 25th. Sockets, not Node's HTTP
 * server: that one is as cold as the VUs in a fresh process, and held their warm-up back to
 * 1.9–4.2k requests a second.
 */
export async function startWarmTarget(): Promise<WarmTarget> {
  let requests = 0
  const head = (close: boolean) =>
    `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ndate: ${new Date().toUTCString()}\r\nconnection: ${close ? 'close' : 'keep-alive'}\r\ncontent-length: 4\r\n\r\nwarm`
  const sockets = new Set<Socket>()
  const srv = createServer((sock) => {
    sockets.add(sock)
    sock.on('close', () => sockets.delete(sock))
    sock.on('error', () => sock.destroy())
    let pending = ''
    sock.setEncoding('latin1')
    sock.on('data', (chunk: string) => {
      pending += chunk
      let end: number
      while ((end = pending.indexOf('\r\n\r\n')) >= 0) {
        pending = pending.slice(end + 4)
        const close = ++requests % 25 === 0
        sock.write(head(close))
        if (close) {
          sock.end()
          return
        }
      }
    })
  })
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', resolve)
  })
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`,
    get requests() {
      return requests
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        srv.close(() => resolve())
      }),
  }
}
