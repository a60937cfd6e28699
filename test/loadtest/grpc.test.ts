/** k6/net/grpc: unchanged k6 scripts against a real gRPC server (@grpc/grpc-js) on 127.0.0.1. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as grpcjs from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import { kilnRun, selfSignedCert, startServer, workdir } from './helpers.ts'

const PROTO = `syntax = "proto3";
package kiln.test;

enum Mood { MOOD_UNKNOWN = 0; HAPPY = 1; GRUMPY = 2; }
message Point { int32 x = 1; int32 y = 2; }
message EchoRequest {
  string user_name = 1;
  int64 big_count = 2;
  Mood mood = 3;
  Point where = 4;
  repeated string tags = 5;
  bytes blob = 6;
  bool flag = 7;
}
message EchoReply {
  string greeting = 1;
  int64 big_count = 2;
  Mood mood = 3;
  Point where = 4;
  repeated string tags = 5;
  bytes blob = 6;
  bool flag = 7;
  double ratio = 8;
  Point nowhere = 9;
}
service Echo {
  rpc Echo(EchoRequest) returns (EchoReply);
  rpc Fail(EchoRequest) returns (EchoReply);
  rpc Count(EchoRequest) returns (stream EchoReply);
  rpc Chat(stream EchoRequest) returns (stream EchoReply);
}
`

let server: grpcjs.Server
let addr = ''
let calls = 0
let protoDir = ''
let fileDescriptors: Buffer[] = []

const REFLECTION_PROTO = `syntax = "proto3"; package grpc.reflection.v1alpha;
service ServerReflection { rpc ServerReflectionInfo(stream ServerReflectionRequest) returns (stream ServerReflectionResponse); }
message ServerReflectionRequest { string host = 1; oneof message_request { string file_by_filename = 3; string file_containing_symbol = 4; string list_services = 7; } }
message ServerReflectionResponse { string valid_host = 1; oneof message_response { FileDescriptorResponse file_descriptor_response = 4; ListServiceResponse list_services_response = 6; ErrorResponse error_response = 7; } }
message FileDescriptorResponse { repeated bytes file_descriptor_proto = 1; }
message ListServiceResponse { repeated ServiceResponse service = 1; }
message ServiceResponse { string name = 1; }
message ErrorResponse { int32 error_code = 1; string error_message = 2; }`

before(async () => {
  protoDir = workdir({})
  writeFileSync(join(protoDir, 'echo.proto'), PROTO)
  const def = protoLoader.loadSync(join(protoDir, 'echo.proto'), { keepCase: true, longs: String, enums: String, defaults: true })
  const pkg = grpcjs.loadPackageDefinition(def) as unknown as { kiln: { test: { Echo: grpcjs.ServiceClientConstructor } } }
  server = new grpcjs.Server()
  type Req = {
    user_name: string
    big_count: string
    mood: string
    where: { x: number; y: number } | null
    tags: string[]
    blob: Buffer
    flag: boolean
  }
  server.addService(pkg.kiln.test.Echo.service, {
    Echo: (call: grpcjs.ServerUnaryCall<Req, unknown>, cb: grpcjs.sendUnaryData<unknown>) => {
      calls++
      const r = call.request
      // 'peer' asks where the call came from (the localIPs test).
      if (r.user_name === 'peer') return cb(null, { greeting: call.getPeer() })
      const md = new grpcjs.Metadata()
      md.set('x-echo', String(call.metadata.get('x-req')[0] ?? 'none'))
      call.sendMetadata(md)
      const trailer = new grpcjs.Metadata()
      trailer.set('x-trail', `t-${r.user_name}`)
      const reply = () =>
        cb(
          null,
          {
            greeting: `hello ${r.user_name}`,
            big_count: String(BigInt(r.big_count) + 1n),
            mood: r.mood === 'HAPPY' ? 'GRUMPY' : 'HAPPY',
            where: r.where ? { x: r.where.y, y: r.where.x } : null,
            tags: [...r.tags].reverse(),
            blob: r.blob,
            flag: !r.flag,
          },
          trailer,
        )
      if (r.user_name === 'slow') setTimeout(reply, 1500)
      else if (r.user_name !== 'hang') reply() // a hung call ends only when the client gives up
    },
    Fail: (call: grpcjs.ServerUnaryCall<Req, unknown>, cb: grpcjs.sendUnaryData<unknown>) => {
      calls++
      cb({ code: grpcjs.status.NOT_FOUND, details: `no such user: ${call.request.user_name}` })
    },
    // Server streaming: big_count replies, then an error status when the name is 'fail'.
    Count: (call: grpcjs.ServerWritableStream<Req, unknown>) => {
      for (let i = 1; i <= Number(call.request.big_count); i++)
        call.write({ greeting: `${call.request.user_name} ${i}`, big_count: String(i) })
      if (call.request.user_name === 'fail') call.emit('error', { code: grpcjs.status.OUT_OF_RANGE, details: 'counted too far' })
      else call.end()
    },
    // Bidirectional: one reply per request; the server ends when the client does.
    Chat: (call: grpcjs.ServerDuplexStream<Req, unknown>) => {
      call.on('data', (r: Req) => call.write({ greeting: `hi ${r.user_name}`, tags: r.tags }))
      call.on('end', () => call.end())
    },
  })
  // The standard health service, which client.healthCheck() calls (its .proto is built into Kiln).
  writeFileSync(
    join(protoDir, 'health.proto'),
    'syntax = "proto3"; package grpc.health.v1; message HealthCheckRequest { string service = 1; } message HealthCheckResponse { enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; } ServingStatus status = 1; } service Health { rpc Check(HealthCheckRequest) returns (HealthCheckResponse); }',
  )
  const health = grpcjs.loadPackageDefinition(protoLoader.loadSync(join(protoDir, 'health.proto'))) as unknown as {
    grpc: { health: { v1: { Health: grpcjs.ServiceClientConstructor } } }
  }
  server.addService(health.grpc.health.v1.Health.service, {
    Check: (call: grpcjs.ServerUnaryCall<{ service: string }, unknown>, cb: grpcjs.sendUnaryData<unknown>) =>
      cb(null, { status: !call.request.service ? 'SERVING' : 'SERVICE_UNKNOWN' }),
  })
  // Server reflection, v1alpha only (Kiln asks v1 first), answering from proto-loader's descriptors.
  writeFileSync(join(protoDir, 'reflection.proto'), REFLECTION_PROTO)
  const refl = grpcjs.loadPackageDefinition(
    protoLoader.loadSync(join(protoDir, 'reflection.proto'), { keepCase: true, oneofs: true }),
  ) as unknown as { grpc: { reflection: { v1alpha: { ServerReflection: grpcjs.ServiceClientConstructor } } } }
  fileDescriptors = (def['kiln.test.EchoRequest'] as unknown as { fileDescriptorProtos: Buffer[] }).fileDescriptorProtos
  server.addService(refl.grpc.reflection.v1alpha.ServerReflection.service, {
    ServerReflectionInfo: (call: grpcjs.ServerDuplexStream<Record<string, string>, unknown>) => {
      call.on('data', (req) => {
        if (req.message_request === 'list_services')
          call.write({
            list_services_response: { service: [{ name: 'kiln.test.Echo' }, { name: 'grpc.reflection.v1alpha.ServerReflection' }] },
          })
        else if (req.file_containing_symbol === 'kiln.test.Echo')
          call.write({ file_descriptor_response: { file_descriptor_proto: fileDescriptors } })
        else call.write({ error_response: { error_code: 5, error_message: `not found: ${JSON.stringify(req)}` } })
      })
      call.on('end', () => call.end())
    },
  })
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', grpcjs.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  )
  addr = `127.0.0.1:${port}`
})

after(() => server.forceShutdown())

/** A k6 script as k6's docs write them: load in init, connect/invoke/close in the default function. */
const SCRIPT = `import grpc from 'k6/net/grpc'
import { check } from 'k6'

const client = new grpc.Client()
client.load(['protos'], 'echo.proto')

export const options = { vus: 2, iterations: 4 }

export default async function () {
  client.connect(__ENV.ADDR, { plaintext: true, timeout: '5s' })
  const req = { userName: 'ada', bigCount: '9007199254740993', mood: 'HAPPY', where: { x: 1, y: 2 }, tags: ['a', 'b'], blob: 'AQID', flag: true }
  const r = client.invoke('kiln.test.Echo/Echo', req, { metadata: { 'x-req': 'v' + __VU }, tags: { kind: 'echo' } })
  check(r, {
    'status OK': (r) => r.status === grpc.StatusOK && r.error === null,
    'fields': (r) => r.message.greeting === 'hello ada' && r.message.bigCount === '9007199254740994' && r.message.mood === 'GRUMPY',
    'nested, repeated, bytes': (r) => r.message.where.x === 2 && r.message.where.y === 1 && r.message.tags.join() === 'b,a' && r.message.blob === 'AQID',
    'unpopulated': (r) => r.message.flag === false && r.message.ratio === 0 && r.message.nowhere === null,
    'metadata': (r) => r.headers['x-echo'][0] === 'v' + __VU && r.trailers['x-trail'][0] === 't-ada',
  })
  const f = client.invoke('/kiln.test.Echo/Fail', { user_name: 'bob' })
  check(f, {
    'error status': (f) => f.status === grpc.StatusNotFound && f.error.code === 5 && f.error.message === 'no such user: bob',
  })
  const [a, b] = await Promise.all([client.asyncInvoke('kiln.test.Echo/Echo', { userName: 'x' }), client.asyncInvoke('kiln.test.Echo/Echo', { userName: 'y' })])
  check(client.healthCheck(), { 'health': (h) => h.status === grpc.StatusOK && h.message.status === grpc.HealthCheckServing && client.healthCheck('other').message.status === grpc.HealthCheckServiceUnkown })
  check(a, { 'async': () => a.message.greeting === 'hello x' && b.message.greeting === 'hello y' && a.message.bigCount === '1' })
  if (__VU === 1 && __ITER === 0) console.log('REPLY ' + JSON.stringify(r) + ' FAIL ' + JSON.stringify(f))
  client.close()
}
`

for (const threads of ['2', '0']) {
  test(`load, connect, invoke (fields, int64, enum, nested, repeated, bytes, metadata), error status, asyncInvoke, healthCheck; grpc_req_duration (threads: ${threads})`, async () => {
    const dir = workdir({ 'script.js': SCRIPT })
    mkdirSync(join(dir, 'protos'))
    writeFileSync(join(dir, 'protos', 'echo.proto'), PROTO)
    const before = calls
    // Named: a run of few iterations would otherwise keep its VUs on the main thread (runner.ts fewIterations).
    const env: Record<string, string> = { KILN_RUN_THREADS: threads }
    const r = await kilnRun(
      ['run', '-e', `ADDR=${addr}`, '--summary-trend-stats', 'avg,count', '--summary-export', 'sum.json', 'script.js'],
      { cwd: dir, env },
    )
    assert.equal(r.code, 0, r.stderr)
    assert.doesNotMatch(r.stderr, /ERRO/)
    assert.equal(calls - before, 16) // Echo and Fail; 8 health checks besides
    const sum = JSON.parse(readFileSync(join(dir, 'sum.json'), 'utf8'))
    for (const [name, c] of Object.entries(sum.root_group.checks as Record<string, { passes: number; fails: number }>))
      assert.deepEqual([c.passes, c.fails], [4, 0], name)
    assert.equal(Object.keys(sum.root_group.checks).length, 8)
    assert.equal(sum.metrics.grpc_req_duration.count, 24)
    assert.ok(sum.metrics.data_sent.count > 0 && sum.metrics.data_received.count > 0)
    assert.match(r.stdout, /GRPC\n\s+grpc_req_duration\.+: avg=/)
    const line = r.stderr.split('\n').find((l) => l.includes(' REPLY '))!
    const [reply, fail] = line
      .slice(line.indexOf(' REPLY ') + 7)
      .replace(/\s+source=console$/, '')
      .split(' FAIL ')
      .map((s) => JSON.parse(s))
    assert.deepEqual(reply.message, {
      greeting: 'hello ada',
      bigCount: '9007199254740994',
      mood: 'GRUMPY',
      where: { x: 2, y: 1 },
      tags: ['b', 'a'],
      blob: 'AQID',
      flag: false,
      ratio: 0,
      nowhere: null,
    })
    assert.deepEqual(reply.headers['x-echo'], ['v1'])
    assert.match(reply.headers['content-type'][0], /^application\/grpc/)
    assert.equal(reply.trailers['grpc-status'], undefined)
    assert.deepEqual(fail.error, { code: 5, message: 'no such user: bob', details: [] })
    assert.equal(fail.status, 5)
  })
}

test('tags on grpc_req_duration as k6 sets them (name, method, service, status, url, and the params tags); discardResponseMessage; --http-debug', async () => {
  const dir = workdir({
    'echo.proto': PROTO,
    'script.js': `import grpc from 'k6/net/grpc'
const client = new grpc.Client()
client.load(null, 'echo.proto')
export const options = { iterations: 1, thresholds: {
  'grpc_req_duration{name:/kiln.test.Echo/Echo}': ['max>=0'],
  'grpc_req_duration{method:Fail}': ['max>=0'],
  'grpc_req_duration{service:kiln.test.Echo}': ['max>=0'],
  'grpc_req_duration{status:5}': ['max>=0'],
  'grpc_req_duration{url:${'${'}__ENV.ADDR}/kiln.test.Echo/Echo}': ['max>=0'],
  'grpc_req_duration{kind:mine}': ['max>=0'],
} }
export default function () {
  client.connect(__ENV.ADDR, { plaintext: true })
  const r = client.invoke('kiln.test.Echo/Echo', {}, { tags: { kind: 'mine' }, discardResponseMessage: true })
  if (r.status !== grpc.StatusOK || r.message !== null) throw new Error('discardResponseMessage: ' + JSON.stringify(r))
  client.invoke('kiln.test.Echo/Fail', {})
  client.invoke('kiln.test.Echo/Fail', {})
}`,
  })
  // The threshold's url names ADDR: write it in, as the options are evaluated before -e values reach URLs.
  writeFileSync(join(dir, 'script.js'), readFileSync(join(dir, 'script.js'), 'utf8').replace('${__ENV.ADDR}', addr))
  const r = await kilnRun(
    ['run', '-q', '--http-debug=full', '-e', `ADDR=${addr}`, '--summary-trend-stats', 'count', '--summary-export', 'sum.json', 'script.js'],
    { cwd: dir },
  )
  assert.equal(r.code, 0, r.stderr)
  // --http-debug logs gRPC calls too (k6's Out Header / In Trailer…; payloads with =full).
  assert.match(r.stderr, /Out Header:\nFull Method: \/kiln\.test\.Echo\/Fail\nRemote Address: 127\.0\.0\.1:\d+\n/)
  assert.match(
    r.stderr,
    /In Payload:\nWire Length: \d+\n\{"greeting":"hello ","bigCount":"1","mood":"HAPPY","flag":true\}\n {2}iter=0 scenario=default source=http-debug vu=1/,
  )
  const m = JSON.parse(readFileSync(join(dir, 'sum.json'), 'utf8')).metrics
  const count = (k: string) => m[`grpc_req_duration{${k}}`]?.count
  assert.equal(count('name:/kiln.test.Echo/Echo'), 1)
  assert.equal(count('method:Fail'), 2)
  assert.equal(count('service:kiln.test.Echo'), 3)
  assert.equal(count('status:5'), 2)
  assert.equal(count(`url:${addr}/kiln.test.Echo/Echo`), 1)
  assert.equal(count('kind:mine'), 1)
})

test('reflect: true finds the methods through server reflection; loadProtoset reads a FileDescriptorSet', async () => {
  // A FileDescriptorSet: its `file` field (1, length-delimited) once per FileDescriptorProto.
  const set = Buffer.concat(fileDescriptors.flatMap((fd) => [Buffer.from([0x0a, ...varint(fd.length)]), fd]))
  const dir = workdir({
    'script.js': `import grpc from 'k6/net/grpc'
const fromSet = new grpc.Client()
const methods = fromSet.loadProtoset('echo.protoset')
const reflecting = new grpc.Client()
export default function () {
  reflecting.connect(__ENV.ADDR, { plaintext: true, reflect: true })
  fromSet.connect(__ENV.ADDR, { plaintext: true })
  const a = reflecting.invoke('kiln.test.Echo/Echo', { userName: 'r', mood: 'HAPPY' }).message
  const b = fromSet.invoke('kiln.test.Echo/Echo', { userName: 's', bigCount: 41 }).message
  console.log('OUT ' + JSON.stringify([methods.map((m) => m.full_method), a.greeting, a.mood, b.greeting, b.bigCount]))
}`,
  })
  writeFileSync(join(dir, 'echo.protoset'), set)
  const r = await kilnRun(['run', '-q', '--no-summary', '-i', '1', '-e', `ADDR=${addr}`, 'script.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  const line = r.stderr.split('\n').find((l) => l.includes(' OUT '))!
  assert.deepEqual(JSON.parse(line.slice(line.indexOf(' OUT ') + 5).replace(/\s+source=console$/, '')), [
    ['/kiln.test.Echo/Echo', '/kiln.test.Echo/Fail', '/kiln.test.Echo/Count', '/kiln.test.Echo/Chat'],
    'hello r',
    'GRUMPY',
    'hello s',
    '42',
  ])
})

function varint(n: number): number[] {
  const out: number[] = []
  for (; n > 0x7f; n >>>= 7) out.push((n & 0x7f) | 0x80)
  out.push(n)
  return out
}

test('grpc.Stream: server streaming, bidirectional, an error status; grpc_streams metrics; the iteration waits for the streams', async () => {
  const dir = workdir({
    'echo.proto': PROTO,
    'script.js': `import grpc from 'k6/net/grpc'
const client = new grpc.Client()
client.load([], 'echo.proto')
export const options = { vus: 2, iterations: 2 }
export default function () {
  client.connect(__ENV.ADDR, { plaintext: true })
  const seen = { count: [], chat: [], failed: [], errors: [], ends: 0 }
  const count = new grpc.Stream(client, 'kiln.test.Echo/Count', { tags: { kind: 'count' } })
  count.on('data', (m, meta) => seen.count.push(m.greeting + (meta.ts > 1e12 ? '' : ' (no ts)')))
  count.on('end', () => seen.ends++)
  count.write({ userName: 'n', bigCount: 3 })
  count.end()
  const chat = new grpc.Stream(client, '/kiln.test.Echo/Chat')
  chat.on('data', (m) => seen.chat.push(m.greeting + ':' + m.tags.join('+')))
  chat.on('end', () => {
    seen.ends++
    const failing = new grpc.Stream(client, 'kiln.test.Echo/Count')
    failing.on('data', (m) => seen.failed.push(m.bigCount))
    failing.on('error', (e) => seen.errors.push(e))
    failing.on('end', () => {
      seen.ends++
      console.log('SEEN ' + JSON.stringify(seen))
      client.close()
    })
    failing.write({ userName: 'fail', bigCount: 2 })
    failing.end()
  })
  chat.write({ userName: 'a', tags: ['x'] })
  chat.write({ userName: 'b', tags: ['y', 'z'] })
  chat.end()
}`,
  })
  const r = await kilnRun(
    ['run', '-q', '-e', `ADDR=${addr}`, '--summary-trend-stats', 'count', '--summary-export', 'sum.json', 'script.js'],
    { cwd: dir },
  )
  assert.equal(r.code, 0, r.stderr)
  assert.doesNotMatch(r.stderr, /ERRO/)
  const lines = r.stderr.split('\n').filter((l) => l.includes(' SEEN '))
  assert.equal(lines.length, 2)
  for (const line of lines) {
    assert.deepEqual(JSON.parse(line.slice(line.indexOf(' SEEN ') + 6).replace(/\s+source=console$/, '')), {
      count: ['n 1', 'n 2', 'n 3'],
      chat: ['hi a:x', 'hi b:y+z'],
      failed: ['1', '2'],
      errors: [{ code: 11, details: [], message: 'counted too far' }],
      ends: 3,
    })
  }
  const m = JSON.parse(readFileSync(join(dir, 'sum.json'), 'utf8')).metrics
  assert.equal(m.grpc_streams.count, 6)
  assert.equal(m.grpc_streams_msgs_sent.count, 8)
  assert.equal(m.grpc_streams_msgs_received.count, 14)
  assert.equal(m.grpc_req_duration.count, 6)
})

test('bad input is the script’s error: load outside init, unknown method or field, bad .proto, no connection, unreachable or blocked address, message size limits; the hosts option applies', async () => {
  const dir = workdir({
    'echo.proto': PROTO,
    'bad.proto': 'syntax = "proto3";\nmessage {',
    'script.js': `import grpc from 'k6/net/grpc'
const client = new grpc.Client()
client.load([], 'echo.proto')
const small = new grpc.Client()
small.load([], 'echo.proto')
export const options = { iterations: 1, hosts: { 'echo.kiln.test': '127.0.0.1' }, blockHostnames: ['*.blocked.test'] }
const tryIt = (f) => { try { f(); return 'no error' } catch (e) { return String(e.message || e) } }
export default async function () {
  const out = {}
  out.loadInVU = tryIt(() => client.load([], 'echo.proto'))
  out.noConn = tryIt(() => client.invoke('kiln.test.Echo/Echo', {}))
  out.refused = tryIt(() => client.connect('127.0.0.1:1', { plaintext: true, timeout: '3s' }))
  out.noPort = tryIt(() => client.connect('127.0.0.1', { plaintext: true }))
  out.badParam = tryIt(() => client.connect(__ENV.ADDR, { plaintxt: true }))
  out.blocked = tryIt(() => client.connect('a.blocked.test:1', { plaintext: true }))
  out.notGrpc = tryIt(() => client.connect(__ENV.HTTP1, { plaintext: true, timeout: '5s' }))
  client.connect(__ENV.ADDR.replace('127.0.0.1', 'echo.kiln.test'), { plaintext: true })
  out.viaHosts = client.invoke('kiln.test.Echo/Echo', { userName: 'h' }).message.greeting
  out.unknownMethod = tryIt(() => client.invoke('kiln.test.Echo/Nope', {}))
  out.unknownField = tryIt(() => client.invoke('kiln.test.Echo/Echo', { nope: 1 }))
  out.badEnum = tryIt(() => client.invoke('kiln.test.Echo/Echo', { mood: 'SAD' }))
  out.asyncUnknown = await client.asyncInvoke('x.Y/Z', {}).then(() => 'no error', (e) => e.message)
  out.stream = tryIt(() => new grpc.Stream(client, 'kiln.test.Echo/Echo'))
  out.invokeStream = tryIt(() => client.invoke('kiln.test.Echo/Chat', {}))
  out.protoset = tryIt(() => client.loadProtoset('echo.proto'))
  out.deadline = client.invoke('kiln.test.Echo/Echo', { userName: 'slow' }, { timeout: '100ms' }).status
  small.connect(__ENV.ADDR, { plaintext: true, maxReceiveSize: 4, maxSendSize: 1000 })
  out.tooBig = client.invoke('kiln.test.Echo/Echo', { tags: ['x'.repeat(2000)] }).status
  out.limits = [small.invoke('kiln.test.Echo/Echo', { userName: 'long enough' }).error, small.invoke('kiln.test.Echo/Echo', { tags: ['x'.repeat(2000)] }).error]
  client.close()
  console.log('OUT ' + JSON.stringify(out))
}`,
    'badproto.js': `import grpc from 'k6/net/grpc'
const client = new grpc.Client()
client.load([], 'bad.proto')
export default function () {}`,
    'missing.js': `import grpc from 'k6/net/grpc'
const client = new grpc.Client()
client.load([], 'nothere.proto')
export default function () {}`,
  })
  const http1 = await startServer() // an HTTP/1.1 server: no HTTP/2 preface
  const r = await kilnRun(
    ['run', '-q', '--no-summary', '-e', `ADDR=${addr}`, '-e', `HTTP1=${http1.url.slice('http://'.length)}`, 'script.js'],
    { cwd: dir },
  )
  await http1.close()
  assert.equal(r.code, 0, r.stderr)
  const line = r.stderr.split('\n').find((l) => l.includes(' OUT '))!
  const out = JSON.parse(line.slice(line.indexOf(' OUT ') + 5).replace(/\s+source=console$/, ''))
  assert.equal(out.loadInVU, 'load must be called in the init context')
  assert.equal(out.noConn, 'no gRPC connection, you must call connect first')
  assert.match(out.refused, /^connection error: .*127\.0\.0\.1:1.*ECONNREFUSED/)
  assert.match(out.noPort, /missing port in address/)
  assert.equal(out.badParam, 'unknown connect param: "plaintxt"')
  assert.match(out.blocked, /hostname \(a\.blocked\.test\) is in a blocked pattern \(\*\.blocked\.test\)/)
  assert.equal(out.viaHosts, 'hello h')
  assert.match(out.notGrpc, /^connection error: /)
  assert.match(out.unknownMethod, /^method "\/kiln\.test\.Echo\/Nope" not found in file descriptors/)
  assert.match(out.unknownField, /^unable to serialise request object to protocol buffer: .*unknown field: "nope"/)
  assert.match(out.badEnum, /^unable to serialise request object to protocol buffer: .*SAD/)
  assert.match(out.asyncUnknown, /^method "\/x\.Y\/Z" not found/)
  assert.match(out.stream, /^method "\/kiln\.test\.Echo\/Echo" is a unary RPC/)
  assert.match(out.invokeStream, /^method "\/kiln\.test\.Echo\/Chat" is a streaming RPC/)
  assert.equal(out.protoset, 'load must be called in the init context')
  assert.equal(out.deadline, 4)
  assert.equal(out.tooBig, 0)
  assert.match(out.limits[0].message, /^grpc: received message larger than max \(\d+ vs\. 4\)/)
  assert.equal(out.limits[0].code, 8)
  assert.deepEqual(out.limits[1], { code: 8, message: 'grpc: trying to send message larger than max (2003 vs. 1000)', details: [] })
  for (const [file, why] of [
    ['badproto.js', /bad\.proto: illegal .*line 2/],
    ['missing.js', /nothere\.proto: cannot find the file in the import paths/],
  ] as const) {
    const b = await kilnRun(['run', '-q', '--no-summary', file], { cwd: dir })
    assert.equal(b.code, 107, b.stderr)
    assert.match(b.stderr, why)
  }
})

test('a call that never returns is cancelled when the scenario’s gracefulStop runs out', async () => {
  const dir = workdir({
    'echo.proto': PROTO,
    'script.js': `import grpc from 'k6/net/grpc'
const client = new grpc.Client()
client.load([], 'echo.proto')
export const options = {
  scenarios: { s: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration: '1s', gracefulStop: '0s' } },
  thresholds: { 'grpc_req_duration{status:1}': ['max>=0'] },
}
export default function () {
  client.connect(__ENV.ADDR, { plaintext: true })
  client.invoke('kiln.test.Echo/Echo', { userName: 'hang' })
  console.log('not interrupted')
}`,
  })
  const r = await kilnRun(
    ['run', '-q', '-e', `ADDR=${addr}`, '--summary-trend-stats', 'count', '--summary-export', 'sum.json', 'script.js'],
    { cwd: dir },
  )
  assert.equal(r.code, 0, r.stderr)
  assert.doesNotMatch(r.stderr, /not interrupted/)
  const m = JSON.parse(readFileSync(join(dir, 'sum.json'), 'utf8')).metrics
  assert.equal(m['grpc_req_duration{status:1}'].count, 1)
})

test('localIPs: VU n dials gRPC from the nth address of the pool, as it does HTTP', async () => {
  const dir = workdir({
    'echo.proto': PROTO,
    'script.js': `import grpc from 'k6/net/grpc'
const client = new grpc.Client()
client.load([], 'echo.proto')
export const options = { vus: 2, iterations: 2, localIPs: '127.0.0.2-127.0.0.3' }
export default function () {
  client.connect(__ENV.ADDR, { plaintext: true })
  console.log('PEER ' + __VU + ' ' + client.invoke('kiln.test.Echo/Echo', { userName: 'peer' }).message.greeting)
  client.close()
}`,
  })
  const r = await kilnRun(['run', '-q', '--no-summary', '-e', `ADDR=${addr}`, 'script.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  const peers = Object.fromEntries([...r.stderr.matchAll(/PEER (\d+) (?:ipv4:)?([\d.]+):\d+/g)].map((m) => [m[1], m[2]]))
  assert.deepEqual(peers, { '1': '127.0.0.2', '2': '127.0.0.3' }, r.stderr)
})

test('TLS (no plaintext): a self-signed server is refused unless --insecure-skip-tls-verify', async (t) => {
  const dir = workdir({
    'echo.proto': PROTO,
    'script.js': `import grpc from 'k6/net/grpc'
const client = new grpc.Client()
client.load([], 'echo.proto')
export default function () {
  let out
  try {
    client.connect(__ENV.ADDR)
    out = client.invoke('kiln.test.Echo/Echo', { userName: 'tls' }).message.greeting
  } catch (e) {
    out = 'refused: ' + e.message
  }
  console.log('OUT ' + out)
}`,
  })
  const pem = selfSignedCert(dir)
  if ('skip' in pem) {
    t.skip(pem.skip)
    return
  }
  const def = protoLoader.loadSync(join(dir, 'echo.proto'), { keepCase: true })
  const pkg = grpcjs.loadPackageDefinition(def) as unknown as { kiln: { test: { Echo: grpcjs.ServiceClientConstructor } } }
  const tls = new grpcjs.Server()
  tls.addService(pkg.kiln.test.Echo.service, {
    Echo: (call: grpcjs.ServerUnaryCall<{ user_name: string }, unknown>, cb: grpcjs.sendUnaryData<unknown>) =>
      cb(null, { greeting: `secure ${call.request.user_name}` }),
    Fail: () => {},
  })
  const port = await new Promise<number>((res, rej) =>
    tls.bindAsync('127.0.0.1:0', grpcjs.ServerCredentials.createSsl(null, [{ private_key: pem.key, cert_chain: pem.cert }]), (e, p) =>
      e ? rej(e) : res(p),
    ),
  )
  try {
    const out = async (flags: string[]) => {
      const r = await kilnRun(['run', '-q', '--no-summary', '-i', '1', ...flags, '-e', `ADDR=127.0.0.1:${port}`, 'script.js'], { cwd: dir })
      assert.equal(r.code, 0, r.stderr)
      const line = r.stderr.split('\n').find((l) => l.includes(' OUT '))!
      return line.slice(line.indexOf(' OUT ') + 5).replace(/\s+source=console$/, '')
    }
    assert.match(await out([]), /^refused: connection error: .*(self[- ]signed|certificate)/i)
    assert.equal(await out(['--insecure-skip-tls-verify']), 'secure tls')
  } finally {
    tls.forceShutdown()
  }
})
