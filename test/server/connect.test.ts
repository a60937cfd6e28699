/**
 * Pyroscope's RPCs as real clients call them: @connectrpc/connect-node over Connect (protobuf and
 * JSON, HTTP/1.1 and HTTP/2), gRPC (h2c) and gRPC-web, and @grpc/grpc-js — all on the one port
 * of the HTTP API, behind its credentials. Then the protocol's edges as curl would meet them.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { request, Agent } from 'node:http'
import { connect } from 'node:http2'
import * as grpc from '@grpc/grpc-js'
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf'
import { Code, ConnectError, createClient, type Interceptor, type Transport } from '@connectrpc/connect'
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node'
import { startKiln, call, q, CPU, type TestServer } from './helpers.ts'
import {
  QuerierService,
  SelectMergeStacktracesRequestSchema,
  SelectMergeStacktracesResponseSchema,
  ProfileTypesRequestSchema,
  ProfileTypesResponseSchema,
} from '../../src/server/rpc/gen/querier/v1/querier_pb.ts'
import { PusherService, PushRequestSchema, PushResponseSchema } from '../../src/server/rpc/gen/push/v1/push_pb.ts'
import { flameGraphToFolded } from '../../src/model/flamegraph.ts'
import { encodePprof } from '../../src/formats/pprof.ts'
import { ProfileBuilder } from '../../src/model/profile.ts'

const TOKEN = 's3cret'
let kiln: TestServer
const now = Date.now()
const start = now - 600_000
// int64 fields are bigint in the generated messages.
const range = { start: BigInt(start), end: BigInt(now) }
const auth = { authorization: `Bearer ${TOKEN}` }
const withToken: Interceptor = (next) => (req) => {
  req.header.set('authorization', `Bearer ${TOKEN}`)
  return next(req)
}

function transports(): Record<string, Transport> {
  const base = { baseUrl: kiln.url, interceptors: [withToken] }
  return {
    'connect proto http/1.1': createConnectTransport({ ...base, httpVersion: '1.1' }),
    'connect json http/1.1': createConnectTransport({ ...base, httpVersion: '1.1', useBinaryFormat: false }),
    'connect proto h2c': createConnectTransport({ ...base, httpVersion: '2' }),
    'grpc h2c': createGrpcTransport({ ...base }),
    'grpc-web http/1.1': createGrpcWebTransport({ ...base, httpVersion: '1.1' }),
  }
}

/** A pprof with one sample type (cpu nanoseconds), `stacks` as folded lines, taken a minute ago. */
function pprofOf(stacks: Record<string, number>): Uint8Array {
  const b = new ProfileBuilder({
    sampleTypes: [{ type: 'cpu', unit: 'nanoseconds' }],
    periodType: { type: 'cpu', unit: 'nanoseconds' },
    period: 10_000_000,
    timeMs: now - 60_000,
    durationNanos: 10e9,
  })
  for (const [stack, v] of Object.entries(stacks)) b.addNames(stack.split(';'), [v])
  return encodePprof(b.build(), { gzip: true })
}

/** A unary call through @grpc/grpc-js, messages encoded with the generated schemas. */
function grpcUnary<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  path: string,
  req: { in: I; out: O; value: MessageInitShape<I> },
  md: Record<string, string> = auth,
): Promise<MessageShape<O>> {
  const metadata = new grpc.Metadata()
  for (const [k, v] of Object.entries(md)) metadata.set(k, v)
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      path,
      (m: MessageShape<I>) => Buffer.from(toBinary(req.in, m)),
      (b: Buffer) => fromBinary(req.out, b),
      create(req.in, req.value),
      metadata,
      (err, res) => (err ? reject(err) : resolve(res!)),
    )
  })
}

before(async () => {
  kiln = await startKiln(['--auth-token', TOKEN])
  const ingest = async (name: string, body: string, at: number) => {
    const r = await call(`${kiln.url}/ingest?${q({ name, from: String(at), until: String(at + 10_000), sampleRate: '100' })}`, {
      method: 'POST',
      body,
      headers: auth,
    })
    assert.equal(r.status, 200, r.text)
  }
  await ingest('api.cpu{env=prod}', 'main;handle;db 50\nmain;handle;json 20\nmain;gc 10\n', now - 300_000)
  await ingest('api.cpu{env=stage}', 'main;handle;db 5\nmain;handle;json 40\n', now - 200_000)
})
after(async () => kiln?.dispose())

test('every protocol of connect-node answers the same flame graph, and pushes land', async () => {
  const folded = ['main;gc 100000000', 'main;handle;db 550000000', 'main;handle;json 600000000', ''].join('\n')
  for (const [name, transport] of Object.entries(transports())) {
    const querier = createClient(QuerierService, transport)
    const types = await querier.profileTypes(range)
    assert.deepEqual(
      types.profileTypes.map((t) => t.ID),
      [CPU],
      name,
    )
    const r = await querier.selectMergeStacktraces({ profileTypeID: CPU, labelSelector: '{service_name="api"}', ...range })
    const fg = r.flamegraph!
    assert.equal(fg.total, 125n * 10n ** 7n, name)
    assert.equal(
      flameGraphToFolded({
        names: fg.names,
        levels: fg.levels.map((l) => l.values.map(Number)),
        total: Number(fg.total),
        maxSelf: Number(fg.maxSelf),
      }),
      folded,
      name,
    )
    const service = `pushed-${name.replace(/\W+/g, '-')}`
    await createClient(PusherService, transport).push({
      series: [
        {
          labels: [
            { name: '__name__', value: 'process_cpu' },
            { name: 'service_name', value: service },
          ],
          samples: [{ rawProfile: pprofOf({ 'main;push': 30_000_000 }), ID: 'a' }],
        },
      ],
    })
    const back = await querier.selectMergeStacktraces({ profileTypeID: CPU, labelSelector: `{service_name="${service}"}`, ...range })
    assert.equal(back.flamegraph?.total, 30_000_000n, `${name}: the pushed profile is queryable`)
  }
})

test('errors carry Connect codes through every protocol: bad selector, no credentials, unknown method', async () => {
  for (const [name, transport] of Object.entries(transports())) {
    const querier = createClient(QuerierService, transport)
    const bad = await querier.selectMergeStacktraces({ profileTypeID: CPU, labelSelector: '{a=', ...range }).catch((e) => e)
    assert.ok(bad instanceof ConnectError, name)
    assert.equal(bad.code, Code.InvalidArgument, `${name}: ${bad.message}`)
    assert.match(bad.message, /selector/, name)
  }
  const anonymous = createClient(QuerierService, createGrpcTransport({ baseUrl: kiln.url }))
  const denied = await anonymous.profileTypes({}).catch((e) => e)
  assert.equal(denied.code, Code.Unauthenticated, denied.message)
})

test('@grpc/grpc-js calls the RPCs over h2c on the HTTP port', async () => {
  const client = new grpc.Client(new URL(kiln.url).host, grpc.credentials.createInsecure())
  try {
    const types = await grpcUnary(client, '/querier.v1.QuerierService/ProfileTypes', {
      in: ProfileTypesRequestSchema,
      out: ProfileTypesResponseSchema,
      value: range,
    })
    assert.deepEqual(
      types.profileTypes.map((t) => [t.ID, t.sampleType, t.periodUnit]),
      [[CPU, 'cpu', 'nanoseconds']],
    )
    const fg = await grpcUnary(client, '/querier.v1.QuerierService/SelectMergeStacktraces', {
      in: SelectMergeStacktracesRequestSchema,
      out: SelectMergeStacktracesResponseSchema,
      value: { profileTypeID: CPU, labelSelector: '{env="stage"}', ...range },
    })
    assert.equal(fg.flamegraph?.total, 45n * 10n ** 7n)
    await grpcUnary(client, '/push.v1.PusherService/Push', {
      in: PushRequestSchema,
      out: PushResponseSchema,
      value: {
        series: [{ labels: [{ name: 'service_name', value: 'grpc-js' }], samples: [{ rawProfile: pprofOf({ 'main;grpc': 20_000_000 }) }] }],
      },
    })
    const top = await call(`${kiln.url}/api/v1/top?${q({ type: CPU, query: '{service_name="grpc-js"}', from: 'now-1h' })}`, {
      headers: auth,
    })
    assert.equal(top.json.total, 20_000_000, top.text)
    const unknown = await grpcUnary(client, '/querier.v1.QuerierService/NoSuchMethod', {
      in: ProfileTypesRequestSchema,
      out: ProfileTypesResponseSchema,
      value: {},
    }).catch((e) => e)
    assert.equal(unknown.code, grpc.status.UNIMPLEMENTED, unknown.message)
    const noToken = await grpcUnary(
      client,
      '/querier.v1.QuerierService/ProfileTypes',
      { in: ProfileTypesRequestSchema, out: ProfileTypesResponseSchema, value: {} },
      {},
    ).catch((e) => e)
    assert.equal(noToken.code, grpc.status.UNAUTHENTICATED, noToken.message)
    const bad = await grpcUnary(client, '/querier.v1.QuerierService/SelectMergeStacktraces', {
      in: SelectMergeStacktracesRequestSchema,
      out: SelectMergeStacktracesResponseSchema,
      value: { labelSelector: '{}' },
    }).catch((e) => e)
    assert.equal(bad.code, grpc.status.INVALID_ARGUMENT, bad.message)
    assert.match(bad.details, /profile_typeID is required/)
    // A body that is not protobuf is the client's mistake too (connect-es alone would say INTERNAL).
    const corrupt = await new Promise<grpc.ServiceError>((resolve) =>
      client.makeUnaryRequest(
        '/querier.v1.QuerierService/ProfileTypes',
        () => Buffer.from([0x0a, 0xff]),
        (b: Buffer) => b,
        {},
        (() => {
          const m = new grpc.Metadata()
          m.set('authorization', auth.authorization)
          return m
        })(),
        (err) => resolve(err!),
      ),
    )
    assert.equal(corrupt.code, grpc.status.INVALID_ARGUMENT, corrupt.message)
  } finally {
    client.close()
  }
})

test('Connect edges: 415, 405 for GET, unimplemented, proto field names in JSON, JSON pprof', async () => {
  const url = (m: string) => `${kiln.url}/querier.v1.QuerierService/${m}`
  const json = { ...auth, 'content-type': 'application/json' }
  const wrongType = await call(url('ProfileTypes'), { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: '{}' })
  assert.equal(wrongType.status, 415)
  const get = await call(url('ProfileTypes'), { headers: auth })
  assert.equal(get.status, 405)
  for (const path of ['/querier.v1.QuerierService/NoSuchMethod', '/nosuch.v1.Service/Method']) {
    const r = await call(`${kiln.url}${path}`, { method: 'POST', headers: json, body: '{}' })
    assert.equal(r.status, 501, `${path}: ${r.text}`)
    assert.equal(r.json.code, 'unimplemented')
    assert.match(r.json.message, /not a method Kiln serves/)
  }
  const noToken = await call(url('ProfileTypes'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
  assert.equal(noToken.status, 401)
  assert.equal(noToken.json.code, 'unauthenticated')
  const camel = await call(url('SelectMergeStacktraces'), {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ profileTypeID: CPU, labelSelector: '{env="prod"}', start: String(start), end: now }),
  })
  const snake = await call(url('SelectMergeStacktraces'), {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ profile_typeID: CPU, label_selector: '{env="prod"}', start, end: String(now), max_nodes: 100 }),
  })
  assert.equal(camel.status, 200, camel.text)
  assert.equal(snake.status, 200, snake.text)
  assert.equal(snake.json.flamegraph.total, String(80e7))
  assert.deepEqual(snake.json.flamegraph, camel.json.flamegraph)
  const pprof = await call(url('SelectMergeProfile'), {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ profile_typeID: CPU, label_selector: '{env="prod"}', start, end: now }),
  })
  assert.equal(pprof.status, 200, pprof.text)
  const strings: string[] = pprof.json.stringTable
  assert.deepEqual(
    pprof.json.sampleType.map((t: { type: string; unit: string }) => [strings[Number(t.type)], strings[Number(t.unit)]]),
    [['cpu', 'nanoseconds']],
  )
  assert.equal(
    pprof.json.sample.reduce((a: number, s: { value: string[] }) => a + Number(s.value[0]), 0),
    80e7,
  )
})

test('over h2c the HTTP routes answer a JSON 404 that says to use HTTP/1.1', async () => {
  const session = connect(kiln.url)
  try {
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = session.request({ ':path': '/api/v1/profile-types', ...auth })
      let status = 0
      let body = ''
      req.on('response', (h) => (status = Number(h[':status'])))
      req.on('data', (c: Buffer) => (body += c.toString()))
      req.on('end', () => resolve({ status, body }))
      req.on('error', reject)
      req.end()
    })
    assert.equal(status, 404)
    assert.equal(JSON.parse(body).code, 'KILN_NOT_FOUND')
    assert.match(JSON.parse(body).message, /over HTTP\/1\.1/)
  } finally {
    session.close()
  }
})

test('an error answered before the body is read keeps the connection open for the next request', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const post = (contentType: string, body: Buffer) =>
    new Promise<{ status: number; connection: string | undefined; reused: boolean }>((resolve, reject) => {
      const req = request(
        `${kiln.url}/querier.v1.QuerierService/ProfileTypes`,
        { method: 'POST', agent, headers: { ...auth, 'content-type': contentType, 'content-length': body.length } },
        (res) => {
          res.resume()
          res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, reused: req.reusedSocket }))
        },
      )
      req.on('error', reject)
      req.end(body)
    })
  try {
    const refused = await post('text/plain', Buffer.alloc(256 << 10, 'x'))
    assert.equal(refused.status, 415)
    assert.notEqual(refused.connection, 'close')
    const next = await post('application/json', Buffer.from('{}'))
    assert.equal(next.status, 200)
    assert.ok(next.reused, 'the second request went over the same connection')
  } finally {
    agent.destroy()
  }
})

test('mutated protobuf and JSON bodies are answered 200 or invalid_argument, never internal', async () => {
  let seed = 11
  const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32
  const good = toBinary(
    SelectMergeStacktracesRequestSchema,
    create(SelectMergeStacktracesRequestSchema, {
      profileTypeID: CPU,
      labelSelector: '{service_name="api"}',
      ...range,
      maxNodes: 100n,
      stackTraceSelector: { callSite: [{ name: 'main' }] },
    }),
  )
  const goodJson = JSON.stringify({
    profile_typeID: CPU,
    labelSelector: '{service_name="api"}',
    start: String(start),
    end: now,
    format: 'PROFILE_FORMAT_FLAMEGRAPH',
  })
  const statuses = new Map<number, number>()
  for (let i = 0; i < 60; i++) {
    const b = Buffer.from(good.subarray(0, Math.floor(rand() * (good.length + 1))))
    for (let k = 0; k < 2; k++) if (b.length) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256)
    const chars = [...goodJson]
    chars.splice(Math.floor(rand() * chars.length), 1, String.fromCharCode(32 + Math.floor(rand() * 95)))
    for (const [ct, body] of [
      ['application/proto', b],
      ['application/json', chars.join('')],
    ] as const) {
      const r = await call(`${kiln.url}/querier.v1.QuerierService/SelectMergeStacktraces`, {
        method: 'POST',
        headers: { ...auth, 'content-type': ct },
        body,
      })
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
      assert.ok(
        r.status === 200 || (r.status === 400 && r.json.code === 'invalid_argument'),
        `${ct} ${JSON.stringify(String(body))}: ${r.status} ${r.text}`,
      )
    }
  }
  assert.ok((statuses.get(400) ?? 0) > 0, 'some mutations are refused')
  assert.ok(!kiln.stderr().includes('internal error'), kiln.stderr())
})
