/**
 * Pull mode: serves Go's pprof paths so that a scraper (Kiln's `scrape:` config, Grafana Alloy,
 * Parca) collects profiles: `/debug/pprof/profile?seconds=N` (CPU over N seconds) and
 * `/debug/pprof/heap` (the sampling heap profile now), gzipped pprof as net/http/pprof serves them.
 */
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { encodePprof } from './pprof.ts'
import { Aggregate, V8Session, cpuPprof, foldCpu, foldHeap, heapPprof } from './v8.ts'

export interface PullOptions {
  /** Port to listen on (0: any free port); default 6060, as Go programs use. */
  port?: number
  /** Default 127.0.0.1: profiles reveal code, so listen wider only on purpose. */
  host?: string
  samplingIntervalMicros?: number
  heapSamplingIntervalBytes?: number
  /** Longest `seconds` accepted (default 60). */
  maxSeconds?: number
}

export interface PullServer {
  url: string
  port: number
  close(): Promise<void>
}

/** Starts the pprof endpoints; CPU and heap sampling run from now on. */
export async function startPullServer(o: PullOptions = {}): Promise<PullServer> {
  const intervalUs = o.samplingIntervalMicros ?? 10_000
  const heapInterval = o.heapSamplingIntervalBytes ?? 512 * 1024
  const maxSeconds = o.maxSeconds ?? 60
  const session = new V8Session()
  await session.startHeap(heapInterval, 64)
  // The CPU profiler runs all along (a profiler started on request would count code optimized
  // before it in the callers); a request cuts at its start and end. Unread samples are dropped
  // every minute so that an unscraped app does not accumulate them.
  await session.startCpu(intervalUs)
  let cpuBusy = false
  const rotate = setInterval(() => {
    if (!cpuBusy) session.stopCpu(true).catch(() => {})
  }, 60_000)
  rotate.unref()
  const send = (res: ServerResponse, status: number, body: string | Uint8Array, type = 'text/plain; charset=utf-8') => {
    res.writeHead(status, {
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      ...(typeof body === 'string' ? {} : { 'content-disposition': 'attachment; filename="profile"' }),
    })
    res.end(body)
  }
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    try {
      if (url.pathname === '/debug/pprof/profile') {
        const seconds = Number(url.searchParams.get('seconds') ?? 30)
        if (!(seconds > 0 && seconds <= maxSeconds))
          return send(res, 400, `seconds must be between 0 and ${maxSeconds}, got ${url.searchParams.get('seconds')}\n`)
        // As in Go: one CPU profile at a time.
        if (cpuBusy) return send(res, 500, 'Could not enable CPU profiling: cpu profiling already in use\n')
        cpuBusy = true
        try {
          await session.stopCpu(true)
          const from = Date.now()
          await new Promise((r) => setTimeout(r, seconds * 1000))
          const agg = new Aggregate()
          foldCpu(await session.stopCpu(true), agg)
          return send(res, 200, encodePprof(cpuPprof(agg, from, Date.now(), intervalUs)), 'application/octet-stream')
        } finally {
          cpuBusy = false
        }
      }
      if (url.pathname === '/debug/pprof/heap') {
        const agg = new Aggregate()
        foldHeap(await session.heap(), heapInterval, agg)
        return send(res, 200, encodePprof(heapPprof(agg, Date.now(), heapInterval)), 'application/octet-stream')
      }
      if (url.pathname === '/debug/pprof/' || url.pathname === '/debug/pprof') return send(res, 200, 'profile?seconds=N\nheap\n')
      send(res, 404, `no profile at ${url.pathname}: serving /debug/pprof/profile?seconds=N and /debug/pprof/heap\n`)
    } catch (e) {
      send(res, 500, `profiling failed: ${(e as Error).message}\n`)
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port ?? 6060, o.host ?? '127.0.0.1', () => resolve())
  })
  server.unref()
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://${o.host ?? '127.0.0.1'}:${port}`,
    port,
    async close() {
      clearInterval(rotate)
      await new Promise<void>((r) => {
        server.close(() => r())
        server.closeAllConnections()
      })
      await session.close()
    },
  }
}
