/**
 * HTTP/1 parse throughput: Kiln's Http1Parser (both directions of a keep-alive connection, paired
 * into http_events rows with headers as JSON and body prefixes) against llhttp — the C parser Node
 * itself uses, through `_http_common`'s HTTPParser — on the same bytes, and against a bare
 * `indexOf('\r\n\r\n')` scan (the least any parser must do). Interleaved rounds, one process.
 * Method: bench/README.md.
 */
import { createRequire } from 'node:module'
import { createParser } from '../src/trace/protocols/index.ts'
import type { DataEvent } from '../src/trace/types.ts'
import { interleavedRates } from './support.ts'

const require = createRequire(import.meta.url)
// biome-ignore lint/style/useNodejsImportProtocol: an internal module of Node's, not reachable as node:_http_common
const { HTTPParser } = require('_http_common') as { HTTPParser: any }

/** 2,000 request/response pairs as nginx and curl exchange them: mixed GET/POST, lengths and chunked bodies. */
function connection(): DataEvent[] {
  const ev: DataEvent[] = []
  let t = 1_700_000_000_000_000_000n
  const add = (fromClient: boolean, s: string) => {
    const data = Buffer.from(s, 'latin1')
    ev.push({ timeNs: (t += 50_000n), fromClient, data, size: data.length })
  }
  for (let i = 0; i < 2000; i++) {
    const post = i % 4 === 0
    const body = post ? JSON.stringify({ id: i, name: 'x'.repeat(i % 200) }) : ''
    add(
      true,
      `${post ? 'POST' : 'GET'} /api/v1/items/${i}?page=${i % 7} HTTP/1.1\r\nHost: shop.internal:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n` +
        (post ? `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n` : '') +
        `\r\n${body}`,
    )
    const size = 100 + ((i * 37) % 1900)
    const resp = 'r'.repeat(size)
    const head = `HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Wed, 02 Dec 2026 12:00:00 GMT\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n`
    if (i % 5 === 0)
      add(
        false,
        `${head}Transfer-Encoding: chunked\r\n\r\n${(size >> 1).toString(16)}\r\n${resp.slice(0, size >> 1)}\r\n${(size - (size >> 1)).toString(16)}\r\n${resp.slice(size >> 1)}\r\n0\r\n\r\n`,
      )
    else add(false, `${head}Content-Length: ${size}\r\n\r\n${resp}`)
  }
  return ev
}

const events = connection()
const bytes = events.reduce((s, e) => s + e.data.length, 0)
const reqBufs = events.filter((e) => e.fromClient).map((e) => e.data)
const respBufs = events.filter((e) => !e.fromClient).map((e) => e.data)

function llhttp(kind: number, bufs: Buffer[]): number {
  const p = new HTTPParser()
  p.initialize(kind, {})
  let n = 0
  // Headers are handed to JS as a flat array, as Node's http does; bodies as slices.
  p[HTTPParser.kOnHeadersComplete] = () => void n++
  p[HTTPParser.kOnBody] = () => {}
  p[HTTPParser.kOnMessageComplete] = () => {}
  for (const b of bufs) p.execute(b)
  p.finish()
  return n
}

const contenders: Record<string, () => number> = {
  kiln: () => {
    const p = createParser('http')
    let n = 0
    for (const e of events) n += p.push(e).length
    return n + p.end(0n).length
  },
  llhttp: () => llhttp(HTTPParser.REQUEST, reqBufs) + llhttp(HTTPParser.RESPONSE, respBufs),
  'indexOf scan': () => events.reduce((n, e) => n + (e.data.indexOf('\r\n\r\n') >= 0 ? 1 : 0), 0),
}
if (contenders.kiln!() !== 2000) throw new Error('kiln parser did not pair 2000 requests')
if (contenders.llhttp!() !== 4000) throw new Error('llhttp did not see 4000 messages')

const rates = interleavedRates(contenders, 10)
const rate = (name: string) => rates[name]!
console.log(`one keep-alive connection: 2000 request/response pairs, ${(bytes / 1e6).toFixed(2)} MB`)
for (const name of Object.keys(contenders)) {
  const r = rate(name)
  console.log(
    `${name.padEnd(13)} ${((r * bytes) / 1e6).toFixed(1).padStart(8)} MB/s  ${((r * 2000) / 1e3).toFixed(0).padStart(6)} k pairs/s`,
  )
}
console.log(
  `ratio kiln / llhttp: ${(rate('kiln') / rate('llhttp')).toFixed(2)} (llhttp parses only; Kiln also pairs, builds JSON headers and rows)`,
)
console.log(`ratio kiln / indexOf scan: ${(rate('kiln') / rate('indexOf scan')).toFixed(3)}`)
