import { test } from 'node:test'
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import * as grpc from '@grpc/grpc-js'
import { captureUnavailable, traceSession } from './helpers.ts'

const unavailable = captureUnavailable()

type Row = {
  trace_role: string
  req_method: string
  req_path: string
  resp_status: string
  major_version: string
  content_type: string
  resp_headers: string
  req_body_size: string
  resp_body_size: string
  latency: string
  service: string
  pid: string
}
const COLS =
  'trace_role, req_method, req_path, resp_status, major_version, content_type, resp_headers, req_body_size, resp_body_size, latency, service, pid'

/** One HTTP/2 request on `client`; resolves with the status and the body's length. */
function h2(client: http2.ClientHttp2Session, method: string, path: string, body?: string): Promise<[number, number]> {
  return new Promise((resolve, reject) => {
    const req = client.request({ ':method': method, ':path': path, ...(body ? { 'content-type': 'text/plain' } : {}) })
    let status = 0
    let n = 0
    req.on('response', (h) => (status = Number(h[':status'])))
    req.on('data', (d: Buffer) => (n += d.length))
    req.on('end', () => resolve([status, n]))
    req.on('error', reject)
    req.end(body)
  })
}

test('HTTP/2 (node:http2 h2c) and gRPC (@grpc/grpc-js unary, OK and errors): both sides, paths, statuses, grpc-status, latencies', {
  skip: unavailable ?? false,
  timeout: 180_000,
}, async () => {
  // h2c: a server whose /slow answers after 150 ms, a 404, a 50 KB body, a POST echo.
  const h2server = http2.createServer()
  h2server.on('stream', (stream, headers) => {
    const path = headers[':path']
    let got = 0
    stream.on('data', (d: Buffer) => (got += d.length))
    stream.on('end', () => {
      if (path === '/missing') return stream.respond({ ':status': 404 }, { endStream: true })
      const send = () => {
        stream.respond({ ':status': 200, 'content-type': 'text/plain' })
        stream.end(path === '/big' ? 'x'.repeat(50_000) : `${path} ${got}`)
      }
      if (path === '/slow') setTimeout(send, 150)
      else send()
    })
  })
  await new Promise<void>((r) => h2server.listen(0, '127.0.0.1', r))
  const h2port = (h2server.address() as { port: number }).port

  const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b }
  const method = (name: string) => ({
    path: `/kiln.test.Echo/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: raw.serialize,
    requestDeserialize: raw.deserialize,
    responseSerialize: raw.serialize,
    responseDeserialize: raw.deserialize,
  })
  const service: grpc.ServiceDefinition = { Say: method('Say'), Fail: method('Fail') }
  const grpcServer = new grpc.Server()
  grpcServer.addService(service, {
    Say: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
      cb(null, Buffer.concat([Buffer.from('echo:'), call.request])),
    Fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
      cb({ code: grpc.status.PERMISSION_DENIED, details: 'no' }),
  })
  const grpcPort = await new Promise<number>((r, j) =>
    grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? j(e) : r(p))),
  )

  try {
    const s = await traceSession(async () => {
      const client = http2.connect(`http://127.0.0.1:${h2port}`)
      try {
        assert.deepEqual(await h2(client, 'GET', '/hello'), [200, '/hello 0'.length])
        assert.deepEqual(await h2(client, 'POST', '/echo', 'twelve bytes'), [200, '/echo 12'.length])
        assert.deepEqual(await h2(client, 'GET', '/missing'), [404, 0])
        assert.deepEqual(await h2(client, 'GET', '/big'), [200, 50_000])
        assert.deepEqual(await h2(client, 'GET', '/slow'), [200, '/slow 0'.length])
      } finally {
        client.close()
      }
      const Client = grpc.makeGenericClientConstructor(service, 'Echo')
      const gc = new Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure()) as unknown as Record<
        'Say' | 'Fail',
        (req: Buffer, cb: (e: grpc.ServiceError | null, r?: Buffer) => void) => void
      > & { close(): void }
      const call = (m: 'Say' | 'Fail', s: string) =>
        new Promise<string>((r) => gc[m](Buffer.from(s), (e, res) => r(e ? `error ${e.code}` : String(res))))
      try {
        assert.equal(await call('Say', 'one'), 'echo:one')
        assert.equal(await call('Say', 'two'), 'echo:two')
        assert.equal(await call('Fail', 'x'), `error ${grpc.status.PERMISSION_DENIED}`)
      } finally {
        gc.close()
      }
    })
    try {
      const rows = (where: string) => s.query<Row>(`SELECT ${COLS} FROM kiln.http_events WHERE ${where} ORDER BY time_`)
      // /big's 50 KB go in one write and one read, cut at 16 KiB with its END_STREAM: the row comes
      // when the connection closes, its size a lower bound.
      const show = (rs: Row[]) =>
        rs.map(
          (r) =>
            `${r.req_method} ${r.req_path} ${r.resp_status} ${r.req_path === '/big' ? Number(r.resp_body_size) >= 16_000 : r.resp_body_size}`,
        )

      const want = ['GET /hello 200 8', 'POST /echo 200 8', 'GET /missing 404 0', 'GET /big 200 true', 'GET /slow 200 7']
      const server = await rows(`local_port = ${h2port} AND trace_role = 2`)
      const client = await rows(`remote_port = ${h2port} AND trace_role = 1`)
      const why = (rs: Row[]) => `${JSON.stringify(rs.map((r) => [r.req_path, r.resp_body_size]))}\n${s.log}`
      assert.deepEqual(show(server), want, why(server))
      assert.deepEqual(show(client), want, why(client))
      for (const r of [...server, ...client]) {
        assert.equal(r.major_version, '2')
        assert.equal(r.service, 'node')
        assert.equal(Number(r.pid), process.pid)
      }
      assert.equal(server[1]!.req_body_size, '12')
      // 150 ms of server time; the client's latency includes it, a loaded machine adds at most a second.
      for (const r of [server[4]!, client[4]!]) {
        const ms = Number(r.latency) / 1e6
        assert.ok(ms >= 149 && ms < 1150, `latency of /slow: ${ms} ms`)
      }
      for (const r of [server[0]!, client[0]!])
        assert.ok(Number(r.latency) > 0 && Number(r.latency) < 1e9, `latency of /hello: ${r.latency}`)

      const grpcWant = [
        'POST /kiln.test.Echo/Say 200 0',
        'POST /kiln.test.Echo/Say 200 0',
        `POST /kiln.test.Echo/Fail 200 ${grpc.status.PERMISSION_DENIED}`,
      ]
      const status = (rs: Row[]) =>
        rs.map((r) => `${r.req_method} ${r.req_path} ${r.resp_status} ${JSON.parse(r.resp_headers)['grpc-status']}`)
      const gServer = await rows(`local_port = ${grpcPort} AND trace_role = 2`)
      const gClient = await rows(`remote_port = ${grpcPort} AND trace_role = 1`)
      assert.deepEqual(status(gServer), grpcWant, s.log)
      assert.deepEqual(status(gClient), grpcWant, s.log)
      for (const r of [...gServer, ...gClient]) {
        assert.equal(r.major_version, '2')
        assert.equal(r.content_type, '2', 'gRPC')
        assert.ok(Number(r.latency) > 0 && Number(r.latency) < 2e9, `gRPC latency ${r.latency}`)
      }
      // 5-byte gRPC prefix + 'one' / 'echo:one'.
      assert.deepEqual([gServer[0]!.req_body_size, gServer[0]!.resp_body_size], ['8', '13'])
    } finally {
      await s.dispose()
    }
  } finally {
    h2server.close()
    grpcServer.forceShutdown()
  }
})
