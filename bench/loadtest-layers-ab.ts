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
import { join, resolve } from 'node:path'
import { helloServer, interleave } from './loadtest-ab.ts'

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

const server = await helloServer()
const url = server.url
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
  await interleave(trees, { rounds: Number(roundsArg), warmup: 6, what: `${mode}: CPU per request (bursts of ${CONNS * PER})` })
} finally {
  server.proc.kill()
}
process.exit(0)
