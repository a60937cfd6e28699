/**
 * k6's REST API for a running test (`kiln run --address localhost:6565`), in JSON:API envelopes:
 * GET/PATCH /v1/status, GET /v1/metrics[/{id}], GET /v1/groups[/{id}], GET/PUT /v1/setup; and
 * Kiln's GET /v1/samples, the run's samples as k6's JSON output lines for a coordinator
 * (run/coordinator.ts), ended by an End line with the exit code and the scenarios' duration.
 */
import http from 'node:http'
import { createHash } from 'node:crypto'
import type { Runner } from './runner.ts'
import type { CheckTree } from '../results/summary.ts'
import { ConfigError } from '../errors.ts'
import { jsonLines } from '../results/outputs.ts'

/** k6's run status values (lib.ExecutionStatus). */
export const STATUS = { created: 0, initVUs: 2, pausedBeforeRun: 5, setup: 7, running: 8, teardown: 9, ended: 10, interrupted: 11 } as const

const id = (s: string): string => createHash('md5').update(s).digest('hex')

function statusAttrs(r: Runner): Record<string, unknown> {
  const ext = r.runs.find((x) => x.scenario.executor === 'externally-controlled')
  return {
    status: r.status,
    paused: r.paused,
    vus: r.active,
    'vus-max': ext ? ext.scenario.maxVUs : r.vus.length,
    stopped: r.stopped,
    running: r.status === STATUS.running,
    tainted: r.thresholds.some((t) => !t.ok),
  }
}

function metricsData(r: Runner, only?: string): unknown[] {
  const out: unknown[] = []
  const secs = r.elapsedMs / 1000
  for (const m of r.registry.metrics.values()) {
    if (!m.seen || (only && m.name !== only)) continue
    const s = m.sink
    const sample =
      m.type === 'trend'
        ? Object.fromEntries(['avg', 'max', 'med', 'min', 'p(90)', 'p(95)'].map((k) => [k, s.stat(k, secs)]))
        : m.type === 'counter'
          ? { count: s.stat('count', secs), rate: s.stat('rate', secs) }
          : m.type === 'rate'
            ? { rate: s.stat('rate', secs) }
            : { value: s.last }
    out.push({
      type: 'metrics',
      id: m.name,
      attributes: { type: m.type, contains: m.contains, tainted: r.thresholds.some((t) => t.metric === m.name && !t.ok), sample },
    })
  }
  return out
}

function groupsData(root: CheckTree): unknown[] {
  const out: unknown[] = []
  const walk = (g: CheckTree): void => {
    out.push({
      type: 'groups',
      id: id(g.path),
      attributes: {
        path: g.path,
        name: g.name,
        checks: [...g.checks].map(([name, c]) => ({
          id: id(`${g.path}::${name}`),
          path: `${g.path}::${name}`,
          name,
          passes: c.passes,
          fails: c.fails,
        })),
      },
    })
    for (const c of g.groups.values()) walk(c)
  }
  walk(root)
  return out
}

/**
 * The run's samples for GET /v1/samples: one reader at a time. With `keep` (an instance of a
 * coordinated run) they are kept from the start until it connects, so none is lost before it
 * does; otherwise a reader gets the samples from its connection on.
 */
class SampleStream {
  private pending: string[] | null
  private res: http.ServerResponse | null = null
  private timer: NodeJS.Timeout | null = null
  private batch = ''
  private subscribed = false
  constructor(
    private readonly r: Runner,
    keep: boolean,
  ) {
    this.pending = keep ? [] : null
    // A run nobody reads the samples of pays nothing for them (no JSON per sample) until someone does.
    if (keep) this.subscribe()
  }
  private subscribe(): void {
    if (this.subscribed) return
    this.subscribed = true
    jsonLines(
      this.r.registry,
      () => this.r.thresholds,
      (line) => {
        if (this.res) {
          this.batch += line
          // One write per 64 KiB or 100 ms: tens of thousands of samples a second cost few writes.
          if (this.batch.length > 65536) this.flush()
          else this.timer ??= setTimeout(() => this.flush(), 100)
        } else this.pending?.push(line)
      },
    )
  }
  attach(res: http.ServerResponse): void {
    if (this.res) {
      res.writeHead(409, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ errors: [{ status: '409', title: 'another client is reading the samples' }] }))
      return
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' })
    this.subscribe()
    this.res = res
    res.on('close', () => {
      if (this.res === res) this.res = null
    })
    for (const line of this.pending?.splice(0) ?? []) this.batch += line
    this.flush()
  }
  private flush(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    if (this.batch && this.res) this.res.write(this.batch)
    this.batch = ''
  }
  /** Writes the End line and ends the response; resolves once it is sent. */
  async end(exitCode: number, durationMs: number): Promise<void> {
    this.flush()
    const res = this.res
    if (!res) return
    this.res = null
    await new Promise<void>((done) => res.end(JSON.stringify({ type: 'End', data: { exitCode, durationMs } }) + '\n', done))
  }
}

/** Starts the API on `address` (host:port); resolves to a function that closes it (given the run's exit code). */
export async function startApi(
  address: string,
  r: Runner,
  opts: { keepSamples?: boolean } = {},
): Promise<(code?: number) => Promise<void>> {
  const m = /^(.*):(\d+)$/.exec(address)
  if (!m) throw new ConfigError(`--address '${address}' must be HOST:PORT, e.g. localhost:6565`)
  const samples = new SampleStream(r, !!opts.keepSamples)
  const server = http.createServer((req, res) => {
    const send = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/vnd.api+json' })
      res.end(JSON.stringify(body))
    }
    const err = (code: number, msg: string): void => send(code, { errors: [{ status: String(code), title: msg }] })
    const url = new URL(req.url ?? '/', 'http://x')
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      const p = url.pathname.replace(/\/+$/, '')
      if (p === '/v1/status' && req.method === 'GET')
        return send(200, { data: { type: 'status', id: 'default', attributes: statusAttrs(r) } })
      if (p === '/v1/status' && req.method === 'PATCH') {
        let a: Record<string, unknown>
        try {
          a = ((JSON.parse(body) as { data?: { attributes?: Record<string, unknown> } }).data?.attributes ?? {}) as Record<string, unknown>
        } catch {
          return err(400, 'the body must be JSON: {"data":{"type":"status","id":"default","attributes":{…}}}')
        }
        if (a.vus !== undefined || a['vus-max'] !== undefined) {
          const e = r.setVUs(a.vus as number | undefined)
          if (e) return err(400, e)
        }
        if (typeof a.paused === 'boolean') r.setPaused(a.paused)
        if (a.stopped === true) r.stop(103)
        return send(200, { data: { type: 'status', id: 'default', attributes: statusAttrs(r) } })
      }
      const mm = /^\/v1\/metrics(?:\/([^/]+))?$/.exec(p)
      if (mm && req.method === 'GET') {
        const d = metricsData(r, mm[1])
        if (mm[1]) return d.length ? send(200, { data: d[0] }) : err(404, `no metric '${mm[1]}'`)
        return send(200, { data: d })
      }
      const gm = /^\/v1\/groups(?:\/([^/]+))?$/.exec(p)
      if (gm && req.method === 'GET') {
        const d = groupsData(r.checks) as { id: string }[]
        if (gm[1]) {
          const g = d.find((x) => x.id === gm[1])
          return g ? send(200, { data: g }) : err(404, `no group '${gm[1]}'`)
        }
        return send(200, { data: d })
      }
      if (p === '/v1/setup' && req.method === 'GET')
        return send(200, { data: { type: 'setupData', id: 'default', attributes: { data: r.setupData } } })
      if (p === '/v1/setup' && req.method === 'PUT') {
        try {
          r.setupData = body ? JSON.parse(body) : null
        } catch {
          return err(400, 'the body must be the setup data as JSON, e.g. {"token":"abc"}')
        }
        return send(200, { data: { type: 'setupData', id: 'default', attributes: { data: r.setupData } } })
      }
      if (p === '/v1/samples' && req.method === 'GET') return samples.attach(res)
      err(404, `no route ${req.method} ${p}`)
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new ConfigError(`cannot start the REST API on ${address}: ${e.message}`)))
    server.listen(Number(m[2]), m[1] || '127.0.0.1', resolve)
  })
  return async (code = 0) => {
    await samples.end(code, r.durationMs)
    await new Promise<void>((res) => {
      server.closeAllConnections()
      server.close(() => res())
    })
  }
}
