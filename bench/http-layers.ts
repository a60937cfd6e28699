/**
 * Kiln's HTTP layers without the JS engine, for loadtest.bench.ts: CONNS async loops for SECS over
 * `send` (the transport: one write, the response parsed) or `request` (what a VU's http.get does
 * on the host: timings, tags, 11 metric samples, the Response encoded for the VM).
 * Usage: node bin/run-ts.js bench/http-layers.ts URL CONNS SECS send|request
 * Prints "REQUESTS_PER_SECOND CPU_MICROSECONDS_PER_REQUEST".
 */
import { encodeResponse, newClient, request, type HttpClient } from '../src/loadtest/modules/http/http.ts'
import { send } from '../src/loadtest/modules/http/transport.ts'
import { SampleBatch } from '../src/loadtest/results/samples.ts'

const [url, conns, secs, mode] = process.argv.slice(2) as [string, string, string, string]
const u = new URL(url)
const head = `GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nUser-Agent: kiln\r\n\r\n`
const samples = new SampleBatch()
const baseTags = { scenario: 'default' }
const one = async (client: HttpClient): Promise<void> => {
  if (mode === 'send') {
    await send(client.transport, u, 'GET', head, undefined, 60_000)
    return
  }
  const res = await request(
    client,
    { method: 'GET', url, headers: {}, tags: { group: '' }, timeoutMs: 60_000, redirects: 10, responseType: 'text', expected: null },
    samples,
    baseTags,
  )
  encodeResponse(res)
  // A worker hands its samples on in batches of this size.
  if (samples.size >= 4096) samples.take()
}
let n = 0
const end = Date.now() + Number(secs) * 1000
const cpu0 = process.cpuUsage()
await Promise.all(
  Array.from({ length: Number(conns) }, async () => {
    // One client per loop, as one per VU.
    const client = newClient({ userAgent: 'kiln', insecure: false, discardBodies: false, maxSockets: 6 })
    while (Date.now() < end) {
      await one(client)
      n++
    }
  }),
)
const cpu = process.cpuUsage(cpu0)
console.log(`${n / Number(secs)} ${(cpu.user + cpu.system) / n}`)
process.exit(0)
