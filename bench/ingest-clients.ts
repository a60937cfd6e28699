/**
 * For ingest.bench.ts: the client that posts the bodies (wrk when installed: a C client whose
 * cost is not what is measured; Node's fetch otherwise), the floor servers it is compared with,
 * and the CPU time a server process spends, per thread, read from /proc.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { root } from './support.ts'

export interface Body {
  body: Uint8Array
  samples: number
}

export interface Drive {
  /** Requests answered 200, and the samples they carried (bodies in turn, from the first). */
  ok: number
  failed: number
  seconds: number
}

export const hasWrk = process.env.BENCH_CLIENT !== 'node' && spawnSync('wrk', ['--version']).error === undefined

// Each wrk connection sends the bodies in turn to /ingest; `done` prints what the parser reads.
const LUA = `local reqs = {}
local n = 0
function init(args)
  local i = 0
  while true do
    local f = io.open(args[1] .. "/body" .. i .. ".bin", "rb")
    if not f then break end
    local body = f:read("*a")
    f:close()
    reqs[#reqs + 1] = wrk.format("POST", "/ingest?name=bench" .. (i % 4) .. "{worker=w" .. i .. "}&format=pprof&spyName=gospy", {["Content-Type"] = "application/octet-stream"}, body)
    i = i + 1
  end
end
function request()
  n = n + 1
  return reqs[(n % #reqs) + 1]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("KILN_WRK %d %d %d %d\\n", summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout))
end
`

/** Writes the bodies and wrk's script into `dir`; returns a driver of `url` for `ms`. */
export function client(dir: string, bodies: Body[], concurrency: number): (url: string, ms: number) => Promise<Drive> {
  bodies.forEach((b, i) => writeFileSync(join(dir, `body${i}.bin`), b.body))
  writeFileSync(join(dir, 'post.lua'), LUA)
  if (hasWrk)
    return async (url, ms) => {
      const wrk = spawn('wrk', [
        '-t1',
        `-c${concurrency}`,
        `-d${Math.max(1, Math.round(ms / 1000))}s`,
        '--timeout',
        '30s',
        '-s',
        join(dir, 'post.lua'),
        url,
        '--',
        dir,
      ])
      let out = ''
      wrk.stdout.on('data', (d: Buffer) => (out += d))
      await new Promise((r) => wrk.on('exit', r))
      const m = /KILN_WRK (\d+) (\d+) (\d+) (\d+)/.exec(out)
      if (!m) throw new Error(`wrk printed no summary:\n${out}`)
      const [requests, us, status, errors] = m.slice(1).map(Number) as [number, number, number, number]
      return { ok: requests - status - errors, failed: status + errors, seconds: us / 1e6 }
    }
  return (url, ms) => fetchDrive(url, ms, bodies, concurrency)
}

/** Node's fetch from `concurrency` loops in this process (where wrk is missing). */
async function fetchDrive(base: string, ms: number, bodies: Body[], concurrency: number): Promise<Drive> {
  let ok = 0
  let failed = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      let i = w
      while (performance.now() - t0 < ms) {
        const b = bodies[i++ % bodies.length]!
        const r = await fetch(`${base}/ingest?name=bench${w % 4}{worker=w${w}}&format=pprof&spyName=gospy`, {
          method: 'POST',
          body: Buffer.from(b.body),
        })
        await r.arrayBuffer()
        if (r.ok) ok++
        else failed++
      }
    }),
  )
  return { ok, failed, seconds: (performance.now() - t0) / 1000 }
}

/**
 * A floor server in its own process: reads each body and answers `{}` (`bare`), or first decodes
 * it in a worker thread, moved there as Kiln moves it (`decode`): the HTTP round trips alone, and
 * with the hop to a decoding thread and back.
 */
export async function startFloor(dir: string, kind: 'bare' | 'decode'): Promise<{ proc: ChildProcess; url: string }> {
  const pprof = new URL('dist/formats/pprof.js', `file://${root}/`).href
  const file = join(dir, `floor-${kind}.mjs`)
  writeFileSync(
    file,
    `import http from 'node:http'
import { Worker } from 'node:worker_threads'
const waiting = new Map()
let next = 1
const w = ${kind === 'decode'} && new Worker(\`const { parentPort } = require('node:worker_threads')
import(${JSON.stringify(pprof)}).then(({ decodePprof }) => parentPort.on('message', ({ id, body }) => {
  let n = 0
  try { n = decodePprof(body).samples.length } catch {}
  parentPort.postMessage({ id, n })
}))\`, { eval: true })
if (w) w.on('message', ({ id }) => { waiting.get(id)(); waiting.delete(id) })
const s = http.createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    if (!w) return res.end('{}')
    const body = new Uint8Array(Buffer.concat(chunks))
    const id = next++
    waiting.set(id, () => res.end('{}'))
    w.postMessage({ id, body }, [body.buffer])
  })
})
s.listen(0, '127.0.0.1', () => console.log(s.address().port))
setTimeout(() => process.exit(0), 3600000)`,
  )
  const proc = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<string>((r) => proc.stdout!.once('data', (d: Buffer) => r(d.toString().trim())))
  return { proc, url: `http://127.0.0.1:${port}` }
}

/** CPU ticks (1/100 s) of each thread of process `pid`, with its name, from /proc. */
export function threadTicks(pid: number): Map<number, { name: string; ticks: number }> {
  const out = new Map<number, { name: string; ticks: number }>()
  let tids: string[] = []
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1')
      const close = stat.lastIndexOf(')')
      const f = stat.slice(close + 2).split(' ')
      // utime and stime: fields 14 and 15 of stat(5), the 12th and 13th after the name.
      out.set(Number(tid), { name: stat.slice(stat.indexOf('(') + 1, close), ticks: Number(f[11]) + Number(f[12]) })
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out
}

/** Adds the ticks each thread spent between two `threadTicks` snapshots to `into`. */
export function addTicks(
  into: Map<number, { name: string; ticks: number }>,
  before: Map<number, { name: string; ticks: number }>,
  after: Map<number, { name: string; ticks: number }>,
): void {
  for (const [tid, a] of after) {
    const d = a.ticks - (before.get(tid)?.ticks ?? 0)
    const t = into.get(tid)
    if (t) t.ticks += d
    else into.set(tid, { name: a.name, ticks: d })
  }
}

/**
 * A Kiln server's CPU by kind of thread: its main thread (the event loop), the busiest other
 * thread Node named (the decoding worker), the rest of Node's (libuv's pool for file syncs, V8's
 * GC helpers, other workers), and the embedded engine's (chDB names its own).
 */
export function kilnThreads(pid: number, ticks: Map<number, { name: string; ticks: number }>): Record<string, number> {
  const node = [...ticks].filter(([tid, t]) => tid !== pid && t.name === 'node').sort((a, b) => b[1].ticks - a[1].ticks)
  const sum = (xs: [number, { ticks: number }][]) => xs.reduce((n, [, t]) => n + t.ticks, 0)
  return {
    main: ticks.get(pid)?.ticks ?? 0,
    'decoding worker': node[0]?.[1].ticks ?? 0,
    'other node threads': sum(node.slice(1)),
    engine: sum([...ticks].filter(([tid, t]) => tid !== pid && t.name !== 'node')),
  }
}
