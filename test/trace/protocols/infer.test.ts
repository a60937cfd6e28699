import { test } from 'node:test'
import assert from 'node:assert/strict'
import { inferProtocol } from '../../../src/trace/protocols/index.ts'
import { rng } from './support.ts'

const any = { local: 40000, remote: 41000 }
const b = (s: string) => Buffer.from(s, 'latin1')
const infer = (data: Buffer, egress = true, ports = any) => inferProtocol(data, egress, ports)

function startup(): Buffer {
  const params = b('user\0postgres\0database\0postgres\0\0')
  const out = Buffer.alloc(8 + params.length)
  out.writeUInt32BE(out.length, 0)
  out.writeUInt32BE(196608, 4)
  params.copy(out, 8)
  return out
}

function dnsQuery(name: string, tcp = false): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), b(l)]))
  const q = Buffer.concat([Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])])
  if (!tcp) return q
  const len = Buffer.alloc(2)
  len.writeUInt16BE(q.length)
  return Buffer.concat([len, q])
}

test('HTTP/1: a request from either side is client → server, a response server → client', () => {
  assert.deepEqual(infer(b('GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n')), { protocol: 'http', fromClient: true })
  assert.deepEqual(infer(b('GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n'), false), { protocol: 'http', fromClient: true })
  assert.deepEqual(infer(b('POST /a?b=1 HTTP/1.0\r\n')), { protocol: 'http', fromClient: true })
  assert.deepEqual(infer(b('HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n'), false), { protocol: 'http', fromClient: false })
  // A request line cut by capture is still a request.
  assert.deepEqual(infer(b('GET /a-very-long-path-that-capture-cut')), { protocol: 'http', fromClient: true })
  assert.equal(infer(b('GET /x NOTHTTP\r\n')), null)
  assert.equal(infer(b('FOO /x HTTP/1.1\r\n')), null, 'unknown method')
  assert.equal(infer(b('HTTP/2.0 200\r\n')), null)
})

test('HTTP/2: the client preface, whole or cut', () => {
  assert.deepEqual(infer(b('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0')), { protocol: 'http2', fromClient: true })
  assert.deepEqual(infer(b('PRI * HTTP/2.0'), false), { protocol: 'http2', fromClient: true })
  assert.equal(infer(b('PRI * HTTP/2.1\r\n')), null)
})

test('PostgreSQL: StartupMessage, SSLRequest, GSSENCRequest, CancelRequest; mid-connection only on 5432', () => {
  assert.deepEqual(infer(startup()), { protocol: 'pgsql', fromClient: true })
  assert.deepEqual(infer(startup(), false), { protocol: 'pgsql', fromClient: true })
  assert.deepEqual(infer(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])), { protocol: 'pgsql', fromClient: true })
  assert.deepEqual(infer(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30])), { protocol: 'pgsql', fromClient: true })
  assert.deepEqual(infer(Buffer.from([0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 0, 0, 0, 2])), {
    protocol: 'pgsql',
    fromClient: true,
  })
  const q = Buffer.concat([b('Q'), Buffer.from([0, 0, 0, 13]), b('select 1\0')])
  assert.equal(infer(q), null, 'a Query message away from 5432 is too weak a sign')
  assert.deepEqual(infer(q, true, { local: 50000, remote: 5432 }), { protocol: 'pgsql', fromClient: true })
  assert.deepEqual(infer(q, false, { local: 5432, remote: 50000 }), { protocol: 'pgsql', fromClient: true })
  const z = Buffer.concat([b('Z'), Buffer.from([0, 0, 0, 5]), b('I')])
  assert.deepEqual(infer(z, false, { local: 50000, remote: 5432 }), { protocol: 'pgsql', fromClient: false })
  assert.equal(infer(z, true, { local: 50000, remote: 5432 }), null, 'a client does not send ReadyForQuery')
})

test('MySQL: the server handshake seen by either side; commands only on 3306', () => {
  const ver = b('10.11.6-MariaDB\0')
  const body = Buffer.concat([Buffer.from([10]), ver, Buffer.alloc(60, 1)])
  const hs = Buffer.concat([Buffer.from([body.length & 0xff, body.length >> 8, 0, 0]), body])
  assert.deepEqual(infer(hs, false), { protocol: 'mysql', fromClient: false })
  assert.deepEqual(infer(hs, true), { protocol: 'mysql', fromClient: false })
  const q = Buffer.concat([Buffer.from([9, 0, 0, 0, 3]), b('select 1')])
  assert.equal(infer(q), null)
  assert.deepEqual(infer(q, true, { local: 50000, remote: 3306 }), { protocol: 'mysql', fromClient: true })
})

test('Redis: a RESP command array anywhere; replies and inline commands only on 6379', () => {
  assert.deepEqual(infer(b('*2\r\n$3\r\nGET\r\n$1\r\nk\r\n')), { protocol: 'redis', fromClient: true })
  assert.deepEqual(infer(b('*2\r\n$3\r\nGET\r\n$1\r\nk\r\n'), false), { protocol: 'redis', fromClient: true })
  assert.equal(infer(b('+OK\r\n'), false), null)
  assert.deepEqual(infer(b('+OK\r\n'), false, { local: 50000, remote: 6379 }), { protocol: 'redis', fromClient: false })
  assert.deepEqual(infer(b('PING\r\n'), true, { local: 50000, remote: 6379 }), { protocol: 'redis', fromClient: true })
})

test('DNS: on port 53 over UDP and TCP, and by exact shape elsewhere', () => {
  assert.deepEqual(infer(dnsQuery('example.com'), true, { local: 50000, remote: 53 }), { protocol: 'dns', fromClient: true })
  assert.deepEqual(infer(dnsQuery('example.com', true), true, { local: 50000, remote: 53 }), { protocol: 'dns', fromClient: true })
  assert.deepEqual(infer(dnsQuery('example.com')), { protocol: 'dns', fromClient: true })
  const resp = Buffer.from(dnsQuery('example.com'))
  resp[2] = 0x81
  resp[3] = 0x80
  assert.deepEqual(infer(resp, false, { local: 50000, remote: 53 }), { protocol: 'dns', fromClient: false })
  assert.equal(infer(Buffer.concat([dnsQuery('example.com'), Buffer.from([1])])), null, 'trailing bytes')
})

test('random bytes are almost never claimed, and never throw', () => {
  const r = rng(53)
  let claimed = 0
  for (let i = 0; i < 20000; i++) {
    const data = Buffer.from(Array.from({ length: 1 + Math.floor(r() * 64) }, () => Math.floor(r() * 256)))
    if (infer(data, r() < 0.5)) claimed++
  }
  assert.ok(claimed < 5, `${claimed} of 20000 random buffers claimed`)
})
