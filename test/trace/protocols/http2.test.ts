import { test } from 'node:test'
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import * as grpc from '@grpc/grpc-js'
import { inferProtocol } from '../../../src/trace/protocols/index.ts'
import { HpackDecoder } from '../../../src/trace/protocols/http2/hpack.ts'
import type { DataEvent } from '../../../src/trace/types.ts'
import { tcpProxy } from './proxy.ts'
import { cut, fuzz, junk, mutate, parse, rng, split } from './support.ts'

const recorded: DataEvent[][] = []
const rows = (events: DataEvent[]) => parse('http2', events).records.map((r) => r.row)

test('Node http2 (h2c): GET, POST with a body, a 404, a 100 KB response, concurrent streams on one connection', async () => {
  const server = http2.createServer()
  server.on('stream', (stream, headers) => {
    const path = headers[':path']
    if (path === '/missing') return stream.respond({ ':status': 404 }, { endStream: true })
    let body = ''
    stream.on('data', (d) => (body += d))
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': path === '/json' ? 'application/json' : 'text/plain', 'x-kiln': 'yes' })
      stream.end(path === '/big' ? 'b'.repeat(100_000) : path === '/json' ? '{"got":' + body.length + '}' : 'hello')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const port = (server.address() as { port: number }).port
  const proxy = await tcpProxy(port)
  try {
    const client = http2.connect(`http://127.0.0.1:${proxy.port}`)
    const call = (path: string, method = 'GET', body?: string) =>
      new Promise<string>((resolve, reject) => {
        const req = client.request({ ':path': path, ':method': method, 'user-agent': 'kiln-test' })
        let got = ''
        req.on('data', (d) => (got += d))
        req.on('end', () => resolve(got))
        req.on('error', reject)
        req.end(body)
      })
    await call('/')
    await call('/json', 'POST', 'x'.repeat(1000))
    await call('/missing')
    await Promise.all([call('/big'), call('/'), call('/')])
    client.close()
    await new Promise((r) => setTimeout(r, 50))
    await proxy.close()
    const ev = proxy.events()
    recorded.push(ev)
    const got = rows(ev).map((x) => [x.req_method, x.req_path, x.resp_status, x.req_body_size, x.resp_body_size, x.major_version])
    // Rows come in the order responses end; the three concurrent streams may end in any order.
    assert.deepEqual(got.slice(0, 3), [
      ['GET', '/', 200, 0, 5, 2],
      ['POST', '/json', 200, 1000, 12, 2],
      ['GET', '/missing', 404, 0, 0, 2],
    ])
    assert.deepEqual(
      got.slice(3).map(String).sort(),
      [
        ['GET', '/', 200, 0, 5, 2],
        ['GET', '/', 200, 0, 5, 2],
        ['GET', '/big', 200, 0, 100000, 2],
      ]
        .map(String)
        .sort(),
    )
    const json = rows(ev)[1]!
    assert.equal(json.content_type, 1)
    assert.equal(json.resp_body, '{"got":1000}')
    assert.equal(JSON.parse(json.req_headers as string)['user-agent'], 'kiln-test')
    assert.equal(JSON.parse(json.resp_headers as string)['x-kiln'], 'yes')
  } finally {
    await proxy.close()
    server.close()
  }
})

test('@grpc/grpc-js: unary calls (OK and NOT_FOUND) carry the method path, content type 2 and grpc-status from the trailers', async () => {
  const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b }
  const service: grpc.ServiceDefinition = {
    Say: {
      path: '/kiln.test.Echo/Say',
      requestStream: false,
      responseStream: false,
      requestSerialize: raw.serialize,
      requestDeserialize: raw.deserialize,
      responseSerialize: raw.serialize,
      responseDeserialize: raw.deserialize,
    },
  }
  const server = new grpc.Server()
  server.addService(service, {
    Say: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      if (call.request.toString() === 'missing') cb({ code: grpc.status.NOT_FOUND, details: 'no such thing' })
      else cb(null, Buffer.concat([Buffer.from('echo:'), call.request]))
    },
  })
  const port = await new Promise<number>((r, j) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? j(e) : r(p))),
  )
  const proxy = await tcpProxy(port)
  try {
    const Client = grpc.makeGenericClientConstructor(service, 'Echo')
    const client = new Client(`127.0.0.1:${proxy.port}`, grpc.credentials.createInsecure()) as unknown as {
      Say: (req: Buffer, cb: (e: grpc.ServiceError | null, r?: Buffer) => void) => void
      close(): void
    }
    const say = (s: string) => new Promise<string>((r) => client.Say(Buffer.from(s), (e, res) => r(e ? `error ${e.code}` : String(res))))
    assert.equal(await say('hi'), 'echo:hi')
    assert.equal(await say('missing'), 'error 5')
    client.close()
    await new Promise((r) => setTimeout(r, 50))
    await proxy.close()
    const ev = proxy.events()
    recorded.push(ev)
    assert.deepEqual(inferProtocol(ev[0]!.data, true, { local: 50000, remote: proxy.port }), { protocol: 'http2', fromClient: true })
    const got = rows(ev)
    assert.deepEqual(
      got.map((x) => [
        x.req_method,
        x.req_path,
        x.resp_status,
        x.content_type,
        JSON.parse(x.resp_headers as string)['grpc-status'],
        x.req_body_size,
        x.resp_body_size,
      ]),
      [
        ['POST', '/kiln.test.Echo/Say', 200, 2, '0', 7, 12],
        ['POST', '/kiln.test.Echo/Say', 200, 2, '5', 12, 0],
      ],
    )
    // grpc-message travels percent-encoded (gRPC over HTTP/2 spec); the row keeps the wire form.
    assert.equal(JSON.parse(got[1]!.resp_headers as string)['grpc-message'], 'no%20such%20thing')
    assert.equal(got[0]!.req_body, '\\x00\\x00\\x00\\x00\\x02hi', 'the gRPC message with its 5-byte prefix, escaped')
    assert.deepEqual(rows(split(ev, 7)), got)
  } finally {
    await proxy.close()
    server.forceShutdown()
  }
})

test('HPACK: RFC 7541 C.4 (requests with Huffman and the dynamic table) and C.6 (responses with eviction, table size 256)', () => {
  const d = new HpackDecoder()
  const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex')
  assert.deepEqual(d.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff')), [
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', '/'],
    [':authority', 'www.example.com'],
  ])
  assert.deepEqual(d.decode(hex('8286 84be 5886 a8eb 1064 9cbf')), [
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', '/'],
    [':authority', 'www.example.com'],
    ['cache-control', 'no-cache'],
  ])
  assert.deepEqual(d.decode(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf')), [
    [':method', 'GET'],
    [':scheme', 'https'],
    [':path', '/index.html'],
    [':authority', 'www.example.com'],
    ['custom-key', 'custom-value'],
  ])
  const r = new HpackDecoder()
  // C.6 uses SETTINGS_HEADER_TABLE_SIZE 256: a size update (0x3f e1 01 = 256) sets it first.
  assert.deepEqual(
    r.decode(
      Buffer.concat([
        hex('3fe101'),
        hex(
          '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
        ),
      ]),
    ),
    [
      [':status', '302'],
      ['cache-control', 'private'],
      ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
      ['location', 'https://www.example.com'],
    ],
  )
  assert.deepEqual(r.decode(hex('4883 640e ffc1 c0bf')), [
    [':status', '307'],
    ['cache-control', 'private'],
    ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
    ['location', 'https://www.example.com'],
  ])
  // A reference past the known table (capture joined late) decodes as :unknown instead of failing.
  const late = new HpackDecoder()
  assert.deepEqual(late.decode(hex('82 c5')), [
    [':method', 'GET'],
    [':unknown', ''],
  ])
  assert.equal(late.unknownRefs, 1)
  assert.equal(late.decode(hex('ff')), null, 'an integer cut short')
})

test('capture gaps: a DATA frame cut by capture is counted; joining mid-connection records what the tables allow', () => {
  const base = recorded[0]
  if (!base) return
  const full = rows(base)
  // 4096 bytes per transfer: the first streams are whole; the 100 KB body's transfers lose frames of the
  // concurrent streams with them, and what is left is counted (a lower bound) or dropped, never invented.
  const c = rows(cut(base, 4096))
  assert.deepEqual(c.slice(0, 3), full.slice(0, 3))
  for (const x of c.slice(3)) assert.ok((x.resp_body_size as number) <= 100000)
  // 16 KiB (the capture's cap): node writes the 100 KB response at once, so its END_STREAM is past the
  // cut; the stream is still recorded, when the connection ends (its body size a lower bound).
  const c16 = rows(cut(base, 16384))
  assert.deepEqual(c16.map((x) => x.req_path).sort(), full.map((x) => x.req_path).sort())
  const big = c16.find((x) => x.req_path === '/big')!
  assert.ok((big.resp_body_size as number) >= 16000 && (big.resp_body_size as number) <= 100000, String(big.resp_body_size))
  // Without the first two client and server events (preface, SETTINGS, first HEADERS), later streams still parse.
  const late = base.filter((_, i) => i >= 4)
  const { records, parser } = parse('http2', late)
  assert.equal(parser.faults, 0)
  assert.ok(records.length >= 1)
})

test('fuzz: mutated h2c and gRPC recordings and random bytes never throw and stay bounded', () => {
  const r = rng(2)
  const inputs: DataEvent[][] = []
  const bases = recorded.length ? recorded : [[]]
  for (let i = 0; i < 300; i++) inputs.push(mutate(bases[i % bases.length]!, r))
  for (let i = 0; i < 8; i++) inputs.push(split(mutate(bases[i % bases.length]!, r), 9, i))
  for (let i = 0; i < 100; i++) inputs.push(junk(r))
  fuzz('http2', inputs)
})
