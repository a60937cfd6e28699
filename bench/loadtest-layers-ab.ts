/**
 * Kiln's HTTP layers without the JS engine, another tree's against this one's in one process:
 * `node bin/run-ts.js bench/loadtest-layers-ab.ts OLD_ROOT [send|request] [ROUNDS]`, OLD_ROOT being
 * another checkout of the repository (its src/ is imported as it is). Bursts of 3,000 requests
 * (10 loops, one client each, as bench/http-layers.ts) go to a Node server in its own process,
 * old and new in turn (old, new, new, old, …); each burst's CPU per request is this process's
 * user + system time over its requests. Interleaving bursts of ~0.1–1 s inside one process keeps
 * a shared machine's load about the same for both, where separate runs of several seconds swing
 * ±50 % (bench/README.md, "Load testing"). Prints the medians and in how many pairs new was lower.
 */
import { spawn } from 'node:child_process'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'

const [oldRoot, mode = 'send', roundsArg = '30'] = process.argv.slice(2)
if (!oldRoot) {
  console.error('usage: bench/loadtest-layers-ab.ts OLD_ROOT [send|request] [ROUNDS]')
  process.exit(2)
}
const here = resolve(import.meta.dirname, '..')
type Http = typeof import('../src/loadtest/modules/http/http.ts')
type Tr = typeof import('../src/loadtest/modules/http/transport.ts')
type Samples = typeof import('../src/loadtest/results/samples.ts')
const load = async (root: string) => ({
  http: (await import(join(root, 'src/loadtest/modules/http/http.ts'))) as Http,
  tr: (await import(join(root, 'src/loadtest/modules/http/transport.ts'))) as Tr,
  samples: (await import(join(root, 'src/loadtest/results/samples.ts'))) as Samples,
})

const server = spawn(
  process.execPath,
  ['-e', "require('http').createServer((q, r) => r.end('hello')).listen(0, '127.0.0.1', function () { console.log(this.address().port) })"],
  { stdio: ['ignore', 'pipe', 'inherit'] },
)
const port = await new Promise<string>((r) => server.stdout.once('data', (d: Buffer) => r(d.toString().trim())))
const url = `http://127.0.0.1:${port}/`
const u = new URL(url)
const head = `GET / HTTP/1.1\r\nHost: ${u.host}\r\nUser-Agent: kiln\r\n\r\n`
const CONNS = 10
const PER = 300

async function tree(root: string): Promise<() => Promise<number>> {
  const { http, tr, samples: s } = await load(root)
  const clients = Array.from({ length: CONNS }, () =>
    http.newClient({ userAgent: 'kiln', insecure: false, discardBodies: false, maxSockets: 6 }),
  )
  const samples = new s.SampleBatch()
  const one = async (c: ReturnType<Http['newClient']>): Promise<void> => {
    if (mode === 'send') {
      await tr.send(c.transport, u, 'GET', head, undefined, 60_000)
      return
    }
    const spec = {
      method: 'GET',
      url,
      headers: {},
      tags: { group: '' },
      timeoutMs: 60_000,
      redirects: 10,
      responseType: 'text' as const,
      expected: null,
    }
    http.encodeResponse(await http.request(c, spec, samples, { scenario: 'default' }))
    if (samples.size >= 4096) samples.take()
  }
  return async () => {
    const c0 = process.cpuUsage()
    await Promise.all(
      clients.map(async (c) => {
        for (let i = 0; i < PER; i++) await one(c)
      }),
    )
    const c = process.cpuUsage(c0)
    return (c.user + c.system) / (CONNS * PER)
  }
}

try {
  const trees = { old: await tree(resolve(oldRoot)), new: await tree(here) }
  // Warm-up: both trees' code optimised and their connections open before anything counts.
  for (let i = 0; i < 6; i++) for (const f of Object.values(trees)) await f()
  const seen: Record<'old' | 'new', number[]> = { old: [], new: [] }
  const rounds = Number(roundsArg)
  for (let i = 0; i < rounds; i++)
    for (const k of i % 2 ? (['new', 'old'] as const) : (['old', 'new'] as const)) seen[k].push(await trees[k]())
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
  const lower = seen.new.filter((x, i) => x < seen.old[i]!).length
  console.log(
    `${mode}: CPU per request, median of ${rounds} bursts of ${CONNS * PER} each: old ${med(seen.old).toFixed(1)} µs, new ${med(seen.new).toFixed(1)} µs; new lower in ${lower} of ${rounds} pairs; load average ${loadavg()[0]!.toFixed(1)}`,
  )
} finally {
  server.kill()
}
process.exit(0)
