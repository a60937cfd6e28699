/**
 * `kiln run` against wrk on the same local server with the same connection count (requests/s,
 * printed as a ratio; goal ≥ 0.3× wrk, issue 13 §5), then memory and start-up time per VU
 * (goal ≤ 0.5 MB/VU, issue 13 §5). Method: bench/README.md, "Load testing".
 */
import { spawn, spawnSync } from 'node:child_process'
import { startHelloServer } from './support.ts'
import { warmUpMs } from '../src/loadtest/run/warm-up.ts'
import { consolidate } from '../src/loadtest/run/options.ts'
import { startNginx } from '../test/trace/services.ts'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir, loadavg } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const kiln = join(root, 'bin', 'kiln.js')
const runTs = join(root, 'bin', 'run-ts.js')
const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-lt-'))
const CONNS = Number(process.env.KILN_BENCH_CONNS ?? 10)
const SECS = Number(process.env.KILN_BENCH_SECS ?? 5)
const VUS = Number(process.env.KILN_BENCH_VUS ?? 1000)
const HALF = Math.floor(VUS / 2)

// The ceiling for any Node-based client: plain async loops over keep-alive http.get, no JS engine.
writeFileSync(
  join(dir, 'loop.mjs'),
  `import http from 'node:http'
const [url, conns, secs] = process.argv.slice(2)
const agent = new http.Agent({ keepAlive: true })
let n = 0
const end = Date.now() + Number(secs) * 1000
const one = () => new Promise((r) => http.get(url, { agent }, (res) => { res.resume(); res.on('end', r) }))
await Promise.all(Array.from({ length: Number(conns) }, async () => { while (Date.now() < end) { await one(); n++ } }))
console.log(n / Number(secs))
process.exit(0)`,
)
writeFileSync(join(dir, 'get.js'), `import http from 'k6/http'\nexport default function () { http.get(__ENV.URL) }\n`)
writeFileSync(join(dir, 'idle.js'), `import { sleep } from 'k6'\nexport default function () { sleep(0.1) }\n`)
// The same VUs with k6/http imported: http.js is evaluated only in VUs whose script names it.
writeFileSync(
  join(dir, 'idle-http.js'),
  `import http from 'k6/http'\nimport { sleep } from 'k6'\nexport default function () { sleep(0.1) }\n`,
)

/**
 * Runs kiln; returns wall time, the peak RSS (polled from /proc every 100 ms) and the exit code.
 * The last RSS seen was used before, but the last poll can land after the VUs are freed (a run
 * once read 73 MB at 1,000 VUs, below 10 VUs). The peak of the 10-VU run includes tsx's start-up
 * transient, which makes the per-VU figure slightly lower than the truth.
 */
async function runKiln(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ ms: number; rss: number; cpuMs: number; code: number | null }> {
  const t0 = performance.now()
  const p = spawn(process.execPath, [kiln, ...args], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } })
  let rss = 0
  let ticks = 0
  const poll = setInterval(() => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))
      if (m) rss = Math.max(rss, Number(m[1]) * 1024)
      // utime + stime of every thread so far (clock ticks; the last poll is ≤ 50 ms before the end).
      const f = readFileSync(`/proc/${p.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
      ticks = Number(f[11]) + Number(f[12])
    } catch {
      /* the process has ended */
    }
  }, 50)
  const code = await new Promise<number | null>((r) => p.on('close', r))
  clearInterval(poll)
  return { ms: performance.now() - t0, rss, cpuMs: ticks * 10, code }
}

/** Seconds left out at the start of a run for the rate after warm-up. */
const WARM_S = 2

/**
 * Counts the hello server's requests while a run goes (its /__count every 250 ms); stop() gives
 * the rate from WARM_S seconds after the first request to the last count that moved.
 */
function countRequests(): { stop(): Promise<number> } {
  const seen: [number, number][] = []
  let on = true
  const poll = (async () => {
    while (on) {
      const n = Number(await (await fetch(`${srv.url}__count`)).text())
      seen.push([performance.now(), n])
      await new Promise((r) => setTimeout(r, 250))
    }
  })()
  return {
    async stop() {
      on = false
      await poll
      const n0 = seen[0]![1]
      const first = seen.find(([, n]) => n > n0)
      if (!first) return Number.NaN
      const from = seen.find(([t]) => t >= first[0] + WARM_S * 1000)
      let last = seen.length - 1
      while (last > 0 && seen[last]![1] === seen[last - 1]![1]) last--
      const to = seen[last]!
      if (!from || to[0] - from[0] < 1000) return Number.NaN
      return ((to[1] - from[1]) * 1000) / (to[0] - from[0])
    },
  }
}

const hasWrk = spawnSync('wrk', ['--version']).error === undefined
const srv = await startHelloServer(dir)
try {
  // The machine is shared: the load average says how far absolute numbers can be trusted.
  console.log(
    `load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} on ${(await import('node:os')).cpus().length} cores`,
  )
  console.log(`requests/s, ${CONNS} connections, ${SECS}s, one local Node server:`)
  const wrk = (target = srv.url): number => {
    const w = spawnSync('wrk', ['-t1', `-c${CONNS}`, `-d${SECS}s`, target], { encoding: 'utf8' })
    return Number(/Requests\/sec:\s+([\d.]+)/.exec(w.stdout)?.[1])
  }
  let wrkRps = NaN
  if (hasWrk) {
    wrkRps = wrk()
    console.log(`  wrk        ${wrkRps.toFixed(0)} req/s`)
  } else console.log('  wrk        not installed (apt-get install wrk): no ratio')
  const loop = spawnSync(process.execPath, [join(dir, 'loop.mjs'), srv.url, String(CONNS), String(SECS)], { encoding: 'utf8' })
  const loopRps = Number(loop.stdout.trim())
  console.log(`  node loop  ${loopRps.toFixed(0)} req/s (plain async loops over Node's http.get)`)
  // Kiln's own layers without the JS engine: what is left above them is the engine's (QuickJS under asyncify).
  const layer = (mode: string): { rps: number; us: number } => {
    const r = spawnSync(process.execPath, [runTs, join(root, 'bench', 'http-layers.ts'), srv.url, String(CONNS), String(SECS), mode], {
      encoding: 'utf8',
    })
    const [rps, us] = r.stdout.trim().split(' ').map(Number) as [number, number]
    return { rps, us }
  }
  const transport = layer('send')
  console.log(
    `  transport  ${transport.rps.toFixed(0)} req/s, ~${transport.us.toFixed(0)} µs CPU per request (loops over Kiln's HTTP/1.1 client: the ceiling of kiln run)`,
  )
  const host = layer('request')
  console.log(
    `  host side  ${host.rps.toFixed(0)} req/s, ~${host.us.toFixed(0)} µs CPU per request (loops over what http.get does on the host: timings, tags, metrics, the Response)`,
  )
  const exp = join(dir, 'sum.json')
  const kilnRun = async (threads: string | undefined, target = srv.url): Promise<{ rps: number; warm: number }> => {
    // Both runs warm up as long as a SECS-long test does (src/loadtest/run/warm-up.ts), so the
    // warm-up's CPU is not counted as the requests'.
    const env: Record<string, string> = {
      ...(threads === undefined ? {} : { KILN_RUN_THREADS: threads }),
      KILN_RUN_WARMUP: String(warmUpMs(consolidate([{ duration: `${SECS}s` }]).scenarios)),
    }
    // The CPU a run costs besides its requests (start-up of Node, tsx, the threads and VUs, the
    // warm-up): the same VUs sleeping for a second.
    const idle = await runKiln(['run', '-q', '--no-summary', '-u', String(CONNS), '-d', '1s', join(dir, 'idle.js')], env)
    const counts = target === srv.url ? countRequests() : null
    const k = await runKiln(
      ['run', '-q', '-u', String(CONNS), '-d', `${SECS}s`, '-e', `URL=${target}`, '--summary-export', exp, join(dir, 'get.js')],
      env,
    )
    const warm = counts ? await counts.stop() : Number.NaN
    const sum = JSON.parse(readFileSync(exp, 'utf8'))
    const n = sum.metrics.http_reqs.count as number
    const rps = sum.metrics.http_reqs.rate as number
    const perReq = ((k.cpuMs - idle.cpuMs) * 1000) / n
    console.log(
      `  kiln run   ${rps.toFixed(0)} req/s${Number.isNaN(warm) ? '' : ` (${warm.toFixed(0)} after its first ${WARM_S} s)`}, ${threads === '0' ? 'all VUs on the main thread' : 'VUs on worker threads (one per core)'} (${n} requests, p95 ${sum.metrics.http_req_duration['p(95)'].toFixed(2)} ms, ~${perReq.toFixed(0)} µs CPU per request, exit ${k.code})`,
    )
    return { rps, warm }
  }
  await kilnRun('0')
  const { rps: kilnRps, warm: kilnWarm } = await kilnRun(undefined)
  console.log(
    `  ratio kiln/node loop = ${(kilnRps / loopRps).toFixed(3)}, kiln/transport = ${(kilnRps / transport.rps).toFixed(3)}, kiln/host side = ${(kilnRps / host.rps).toFixed(3)}`,
  )
  if (hasWrk) {
    // The ratio from interleaved pairs (wrk, then kiln run on workers; KILN_BENCH_PAIRS, default 3,
    // the first pair being the runs above): single runs of either moved ±20 % with the machine.
    const ratios = [kilnRps / wrkRps]
    const warmRatios = [kilnWarm / wrkRps]
    for (let i = 1; i < Number(process.env.KILN_BENCH_PAIRS ?? 3); i++) {
      const w = wrk()
      const k = await kilnRun(undefined)
      console.log(`  pair ${i + 1}: wrk ${w.toFixed(0)} req/s`)
      ratios.push(k.rps / w)
      warmRatios.push(k.warm / w)
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    console.log(
      `  ratio kiln/wrk = ${median(ratios).toFixed(3)}, median of ${ratios.length} interleaved pairs (${ratios.map((r) => r.toFixed(3)).join(', ')}; goal ≥ 0.3, issue 13 §5)`,
    )
    console.log(
      `  after kiln run's first ${WARM_S} s (V8 still compiling QuickJS and Kiln's code): ${median(warmRatios).toFixed(3)} (${warmRatios.map((r) => r.toFixed(3)).join(', ')})`,
    )
    // nginx answers a request for a fraction of the Node server's CPU, so wrk there measures
    // nginx's limit and kiln run's its own: the harder comparison.
    const nginx = await startNginx()
    if ('skip' in nginx) console.log(`  on nginx: skipped (${nginx.skip})`)
    else {
      try {
        const nurl = `http://127.0.0.1:${nginx.port}/`
        const w = wrk(nurl)
        const k = await kilnRun(undefined, nurl)
        console.log(`  on nginx: wrk ${w.toFixed(0)} req/s, kiln run ${k.rps.toFixed(0)} req/s: ratio ${(k.rps / w).toFixed(3)}`)
      } finally {
        await nginx.stop()
      }
    }
  }

  console.log(`memory and start-up per VU (10, ${HALF} and ${VUS} VUs, each VU sleeping 0.1 s per iteration for 1 s):`)
  const small = await runKiln(['run', '-q', '--no-summary', '-u', '10', '-d', '1s', join(dir, 'idle.js')])
  const big = await runKiln(['run', '-q', '--no-summary', '-u', String(VUS), '-d', '1s', join(dir, 'idle.js')])
  const half = await runKiln(['run', '-q', '--no-summary', '-u', String(HALF), '-d', '1s', join(dir, 'idle.js')])
  const perVuMB = (big.rss - small.rss) / (VUS - 10) / 1e6
  const perVuMs = (big.ms - small.ms) / (VUS - 10)
  // The 10-VU run's peak is mostly start-up (the engine compiled, modules loaded), and it moved
  // 214–256 MB between runs: the slope between HALF and VUS VUs prices a VU without it.
  const slope = (a: { rss: number }, b: { rss: number }) => ((b.rss - a.rss) / (VUS - HALF) / 1e6).toFixed(3)
  console.log(
    `  RSS        10 VUs ${(small.rss / 1e6).toFixed(0)} MB, ${HALF} VUs ${(half.rss / 1e6).toFixed(0)} MB, ${VUS} VUs ${(big.rss / 1e6).toFixed(0)} MB (peaks; exit ${small.code}/${half.code}/${big.code})`,
  )
  console.log(
    `  memory/VU  ${perVuMB.toFixed(3)} MB from 10 to ${VUS} VUs, ${slope(half, big)} MB from ${HALF} to ${VUS}  (goal ≤ 0.5 MB/VU: issue 13 §5; k6 documents 1-5 MB)`,
  )
  console.log(`  start-up   ${perVuMs.toFixed(1)} ms/VU → ${perVuMs.toFixed(1)} s for 1,000 VUs`)
  const smallHttp = await runKiln(['run', '-q', '--no-summary', '-u', '10', '-d', '1s', join(dir, 'idle-http.js')])
  const halfHttp = await runKiln(['run', '-q', '--no-summary', '-u', String(HALF), '-d', '1s', join(dir, 'idle-http.js')])
  const bigHttp = await runKiln(['run', '-q', '--no-summary', '-u', String(VUS), '-d', '1s', join(dir, 'idle-http.js')])
  console.log(
    `  with k6/http imported: RSS ${(smallHttp.rss / 1e6).toFixed(0)} / ${(halfHttp.rss / 1e6).toFixed(0)} / ${(bigHttp.rss / 1e6).toFixed(0)} MB, memory/VU ${((bigHttp.rss - smallHttp.rss) / (VUS - 10) / 1e6).toFixed(3)} MB from 10, ${slope(halfHttp, bigHttp)} MB from ${HALF}`,
  )
} finally {
  srv.proc.kill()
}
