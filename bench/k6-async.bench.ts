/**
 * The price of the VU event loop: requests/s of `kiln run -u 10` with `await http.asyncRequest`
 * (and two at once through Promise.all) against the synchronous `http.get` in the same run, on
 * one local server; also the CPU time per request. Method: bench/README.md.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fmt, root, startHelloServer } from './support.ts'

const SECS = Number(process.env.BENCH_SECONDS ?? 4)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-async-'))
const scripts: Record<string, string> = {
  'sync http.get': `import http from 'k6/http'\nexport default function () { http.get(__ENV.URL) }`,
  'await asyncRequest': `import http from 'k6/http'\nexport default async function () { await http.asyncRequest('GET', __ENV.URL) }`,
  'Promise.all of 2': `import http from 'k6/http'\nexport default async function () { await Promise.all([http.asyncRequest('GET', __ENV.URL), http.asyncRequest('GET', __ENV.URL)]) }`,
}
const names = Object.keys(scripts)
names.forEach((n, i) => writeFileSync(join(dir, `s${i}.js`), scripts[n]!))

const { url, proc: server } = await startHelloServer(dir)

/**
 * One run; returns its requests/s and CPU µs per request. The CPU time (user+sys of the kiln
 * process, from the shell's `times`) is steadier than the rate when other sessions load the machine.
 */
function run(i: number): Promise<{ rate: number; cpuUs: number }> {
  const cmd = `"${process.execPath}" "${join(root, 'bin', 'kiln.js')}" run -q --no-summary -u 10 -d ${SECS}s -e URL=${url} --summary-export r${i}.json s${i}.js >/dev/null; times`
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', cmd], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout!.on('data', (d: Buffer) => (out += d))
    p.on('close', () => {
      // `times`: the shell's user/sys, then its children's, as "XmY.YYYs XmY.YYYs".
      const secs = [...(out.trim().split('\n')[1] ?? '').matchAll(/(\d+)m([\d.]+)s/g)].reduce(
        (a, m) => a + Number(m[1]) * 60 + Number(m[2]),
        0,
      )
      try {
        const m = (JSON.parse(readFileSync(join(dir, `r${i}.json`), 'utf8')) as { metrics: { http_reqs: { rate: number; count: number } } })
          .metrics.http_reqs
        resolve({ rate: m.rate, cpuUs: (secs * 1e6) / m.count })
      } catch (e) {
        reject(e)
      }
    })
  })
}
const rates = names.map(() => [] as number[])
const cpu = names.map(() => [] as number[])
for (let r = 0; r < ROUNDS; r++) {
  for (let i = 0; i < names.length; i++) {
    const x = await run(i)
    rates[i]!.push(x.rate)
    cpu[i]!.push(x.cpuUs)
  }
}
server.kill()
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!
const base = median(rates[0]!)
console.log(`kiln run -u 10 -d ${SECS}s, ${ROUNDS} rounds interleaved; load average ${loadavg()[0]!.toFixed(2)}`)
const baseCpu = median(cpu[0]!)
names.forEach((n, i) =>
  console.log(
    `${n.padEnd(20)} median ${fmt(median(rates[i]!), 0)} req/s (${rates[i]!.map((x) => fmt(x, 0)).join(', ')}), ratio to sync ${fmt(median(rates[i]!) / base, 2)}×; ` +
      `CPU ${fmt(median(cpu[i]!), 0)} µs/request (start-up included), ratio to sync ${fmt(median(cpu[i]!) / baseCpu, 2)}×`,
  ),
)
