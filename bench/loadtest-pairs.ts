/**
 * Two builds of `kiln run` in interleaved pairs (old, new, new, old, …) against one local server:
 * `node bin/run-ts.js bench/loadtest-pairs.ts OLD_BIN [VUS] [ROUNDS] [SECS]`, OLD_BIN being another
 * tree's bin/kiln.js (a `git archive` of the old commit, built). Each run of `kiln run -u VUS -d
 * SECS` of a plain `http.get` prints its rate and the CPU per request of the kiln process (and of
 * its main thread), from /proc ticks over the steady part of the run: the first and last second
 * of traffic are left out, so start-up (seconds of CPU on a loaded machine) does not count.
 * Method: bench/README.md, "Load testing".
 */
import http from 'node:http'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import type { AddressInfo } from 'node:net'

const [oldBin, vus = '10', rounds = '4', secs = '6'] = process.argv.slice(2)
if (!oldBin) {
  console.error('usage: bench/loadtest-pairs.ts OLD_BIN [VUS] [ROUNDS] [SECS] (OLD_BIN: another build’s bin/kiln.js)')
  process.exit(2)
}
const trees: Record<string, string> = { old: oldBin, new: join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'kiln.js') }
const dir = mkdtempSync(join(tmpdir(), 'kiln-pairs-'))
writeFileSync(join(dir, 'get.js'), `import http from 'k6/http'\nexport default function () { http.get(__ENV.URL) }\n`)

let reqs = 0
const srv = http.createServer((_q, r) => {
  reqs++
  r.end('hello')
})
await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`

/** utime + stime ticks of the process and of its main thread (the thread whose id is the pid). */
function ticks(pid: number): { all: number; main: number } {
  let all = 0
  let main = 0
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ')
    const t = Number(f[11]) + Number(f[12])
    all += t
    if (tid === String(pid)) main = t
  }
  return { all, main }
}

interface Poll {
  at: number
  all: number
  main: number
  reqs: number
}

async function one(bin: string): Promise<{ rate: number; cpu: number; mainCpu: number }> {
  reqs = 0
  const args = [bin, 'run', '-q', '--no-summary', '-u', vus, '-d', `${secs}s`, '-e', `URL=${url}`, join(dir, 'get.js')]
  const p = spawn(process.execPath, args, { stdio: 'ignore' })
  const polls: Poll[] = []
  const timer = setInterval(() => {
    try {
      polls.push({ at: performance.now(), ...ticks(p.pid!), reqs })
    } catch {
      /* the process has ended */
    }
  }, 50)
  await new Promise((r) => p.on('close', r))
  clearInterval(timer)
  const busy = polls.filter((x) => x.reqs > 0)
  const a = busy.find((x) => x.at >= busy[0]!.at + 1000)
  const b = busy.findLast((x) => x.at <= busy[busy.length - 1]!.at - 1000)
  if (!a || !b || b.reqs <= a.reqs) return { rate: Number.NaN, cpu: Number.NaN, mainCpu: Number.NaN }
  const n = b.reqs - a.reqs
  // A tick is 10 ms: µs per request = ticks × 10,000 / requests.
  return { rate: (n * 1000) / (b.at - a.at), cpu: ((b.all - a.all) * 10_000) / n, mainCpu: ((b.main - a.main) * 10_000) / n }
}

const seen: Record<string, { rate: number; cpu: number }[]> = { old: [], new: [] }
for (let i = 0; i < Number(rounds); i++) {
  for (const k of i % 2 ? ['new', 'old'] : ['old', 'new']) {
    const r = await one(trees[k]!)
    seen[k]!.push(r)
    const load = loadavg()[0]!.toFixed(1)
    console.log(
      `round ${i + 1} ${k}: ${Math.round(r.rate)} req/s, ${Math.round(r.cpu)} µs CPU/req (main thread ${Math.round(r.mainCpu)}), load ${load}`,
    )
  }
}
const range = (xs: number[]): string => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`
for (const k of ['old', 'new']) {
  const rs = seen[k]!
  console.log(`${k}: ${range(rs.map((r) => r.rate))} req/s, ${range(rs.map((r) => r.cpu))} µs CPU per request`)
}
srv.close()
