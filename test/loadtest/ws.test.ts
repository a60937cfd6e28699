/** `kiln run` of k6 scripts using `k6/ws` and `k6/websockets` against a WebSocket server on 127.0.0.1. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import https from 'node:https'
import { join } from 'node:path'
import { WebSocketServer } from 'ws'
import { kilnRun, workdir, selfSignedCert } from './helpers.ts'

let wss: WebSocketServer
let base = ''
const seen = { connections: 0, messages: 0, headers: [] as string[], protocols: [] as string[], cookies: [] as string[] }
before(async () => {
  // Echoes every message (binary as binary); 'close' → closes with 4000; pings each new client.
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => [...p][0] ?? false })
  wss.on('headers', (headers) => headers.push('Set-Cookie: wsid=7; Path=/'))
  wss.on('connection', (s, req) => {
    seen.connections++
    seen.headers.push(String(req.headers['x-test'] ?? ''))
    seen.cookies.push(String(req.headers.cookie ?? ''))
    seen.protocols.push(s.protocol)
    s.on('message', (d, binary) => {
      seen.messages++
      if (!binary && String(d) === 'close') s.close(4000, 'bye')
      else s.send(d, { binary })
    })
    s.ping()
  })
  await new Promise((r) => wss.once('listening', r))
  base = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`
})
after(() => {
  for (const c of wss.clients) c.terminate()
  wss.close()
})

const readJson = (p: string): any => JSON.parse(readFileSync(p, 'utf8'))
async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

test('k6/ws: connect runs until the socket closes; events, send/sendBinary/ping, socket timers, ws metrics with tags', async () => {
  Object.assign(seen, { connections: 0, messages: 0, headers: [], cookies: [] })
  const dir = workdir({
    'script.js': `
import ws from 'k6/ws'
import http from 'k6/http'
import { check, sleep } from 'k6'
export const options = { vus: 2, iterations: 4, thresholds: { 'ws_msgs_sent{t:a}': ['count==16'], ws_connecting: ['p(95)<10000'] } }
const H = __ENV.WS.replace('ws:', 'http:')
export default function () {
  const got = []
  let ticks = 0
  let slept = 0
  http.cookieJar().set(H, 'jarc', 'j1')
  const res = ws.connect(__ENV.WS + '/chat', { headers: { 'X-Test': 'yes' }, cookies: { p: 'v' }, tags: { t: 'a' } }, function (socket) {
    socket.on('open', () => {
      socket.send('hello')
      socket.sendBinary(new Uint8Array([1, 2, 3]).buffer)
      socket.ping()
      // The echoes arrive meanwhile: they must not cut the sleep short (a lower bound, not a timing).
      const t0 = Date.now()
      sleep(0.05)
      slept = Date.now() - t0
    })
    socket.on('message', (m) => got.push('text:' + m))
    socket.on('binaryMessage', (b) => got.push('bin:' + new Uint8Array(b).join(',')))
    socket.on('ping', () => got.push('ping'))
    socket.on('pong', () => got.push('pong'))
    socket.setInterval(() => { ticks++; if (ticks === 3) socket.send('ticked') }, 5)
    socket.on('message', (m) => { if (m === 'ticked') socket.send('close') })
    socket.on('close', (code) => got.push('close:' + code))
  })
  check(res, { '101': (r) => r.status === 101, 'handshake headers': (r) => r.headers['Set-Cookie'] === 'wsid=7; Path=/' })
  check(http.cookieJar().cookiesForURL(H), { 'handshake cookie kept': (c) => c.wsid[0] === '7' })
  check(got, {
    'all events': (g) => ['text:hello', 'bin:1,2,3', 'ping', 'pong', 'text:ticked', 'close:4000'].every((e) => g.includes(e)),
    'closed last': (g) => g[g.length - 1] === 'close:4000',
  })
  // Timers may fire up to a millisecond early by Date.now(); cut short would be ~0.
  check(slept, { 'sleep in a handler': (ms) => ms >= 40 })
}
`,
  })
  const r = await kilnRun(['run', '-q', '-e', `WS=${base}`, '--summary-export', 'sum.json', 'script.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr + r.stdout)
  const sum = readJson(join(dir, 'sum.json'))
  assert.equal(sum.root_group.checks['101'].passes, 4)
  assert.equal(sum.root_group.checks['handshake headers'].passes, 4)
  assert.equal(sum.root_group.checks['handshake cookie kept'].passes, 4)
  assert.deepEqual(
    seen.cookies,
    ['jarc=j1; p=v', 'jarc=j1; p=v', 'jarc=j1; p=v', 'jarc=j1; p=v'],
    'the jar is reset between iterations as for HTTP',
  )
  assert.equal(sum.root_group.checks['all events'].passes, 4)
  assert.equal(sum.root_group.checks['closed last'].passes, 4)
  assert.equal(sum.root_group.checks['sleep in a handler'].passes, 4)
  assert.equal(seen.connections, 4)
  assert.deepEqual(seen.headers, ['yes', 'yes', 'yes', 'yes'])
  // hello, binary, 'ticked', 'close' per session
  assert.equal(sum.metrics.ws_msgs_sent.count, 16)
  assert.equal(seen.messages, 16)
  assert.equal(sum.metrics.ws_msgs_received.count, 12)
  assert.equal(sum.metrics.ws_sessions.count, 4)
  assert.equal(sum.metrics.ws_ping.count, undefined, 'a trend: no count field in the export')
  assert.ok(sum.metrics.ws_ping.max > 0 && sum.metrics.ws_session_duration.min > 0 && sum.metrics.ws_connecting.max > 0)
  assert.equal(sum.metrics['ws_msgs_sent{t:a}'].thresholds['count==16'], false, 'the tag reaches the samples')
  assert.ok(sum.metrics.data_sent.count > 0 && sum.metrics.data_received.count > 0)
  assert.match(r.stdout, /WEBSOCKET/)
  assert.match(r.stdout, /ws_sessions\.+: 4 /)
})

test('k6/websockets: several sockets per VU on the event loop, Blob and ArrayBuffer, listeners, readyState, subprotocol', async () => {
  Object.assign(seen, { connections: 0, messages: 0, protocols: [] })
  const dir = workdir({
    'script.js': `
import { WebSocket, Blob } from 'k6/websockets'
import { check } from 'k6'
export const options = { iterations: 2 }
export default async function () {
  const results = []
  const states = []
  const open = (i) => new Promise((resolve) => {
    const w = new WebSocket(__ENV.WS + '/n' + i, i === 0 ? ['chat.v2', 'chat.v1'] : undefined)
    states.push(w.readyState)
    if (i === 1) w.binaryType = 'arraybuffer'
    w.onopen = () => {
      states.push(w.readyState)
      if (i === 0) w.send(new Blob(['ab', new Uint8Array([99]).buffer], { type: 'x/y' }))
      else if (i === 1) w.send(new Uint8Array([7, 8]))
      else w.send('text ' + i)
    }
    const off = () => results.push('removed listener ran')
    w.addEventListener('message', off)
    w.removeEventListener('message', off)
    w.addEventListener('message', async (e) => {
      if (e.data instanceof Blob) results.push('blob:' + (await e.data.text()) + ':' + e.data.size)
      else if (e.data instanceof ArrayBuffer) results.push('ab:' + new Uint8Array(e.data).join(','))
      else results.push('str:' + e.data)
      w.close()
    })
    w.onclose = (e) => { states.push(w.readyState); resolve(w.protocol + '|' + e.code) }
  })
  const closed = await Promise.all([open(0), open(1), open(2)])
  check(null, {
    'messages': () => ['blob:abc:3', 'ab:7,8', 'str:text 2'].every((x) => results.includes(x)) && results.length === 3,
    'close codes and protocol': () => closed.join() === 'chat.v2|1000,|1000,|1000',
    'readyState': () => states.filter((s) => s === 0).length === 3 && states.filter((s) => s === 1).length === 3 && states.filter((s) => s === 3).length === 3,
  })
  // Not awaited: the iteration still waits for this socket to close.
  const late = new WebSocket(__ENV.WS + '/late')
  late.onopen = () => late.send('close')
}
`,
  })
  const r = await kilnRun(['run', '-q', '-e', `WS=${base}`, '--summary-export', 'sum.json', 'script.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr + r.stdout)
  const sum = readJson(join(dir, 'sum.json'))
  for (const c of ['messages', 'close codes and protocol', 'readyState']) assert.equal(sum.root_group.checks[c].passes, 2, c)
  assert.equal(seen.connections, 8)
  assert.equal(seen.messages, 8, 'the late socket sent its message before the iteration ended')
  assert.ok(seen.protocols.includes('chat.v2'))
  assert.equal(sum.metrics.ws_sessions.count, 8)
})

test('refused connections and exceptions in handlers are iteration errors; an endless socket ends with the test', async () => {
  const port = await closedPort()
  const dir = workdir({
    'errors.js': `
import ws from 'k6/ws'
import { WebSocket } from 'k6/websockets'
export const options = { iterations: 3 }
export default async function () {
  if (__ITER === 0) ws.connect('ws://127.0.0.1:${port}/', () => {})
  if (__ITER === 1) ws.connect(__ENV.WS, (s) => s.on('open', () => { throw new Error('handler boom') }))
  if (__ITER === 2) {
    const msg = await new Promise((resolve) => {
      const w = new WebSocket('ws://127.0.0.1:${port}/')
      let err = ''
      w.onerror = (e) => (err = e.error)
      w.onclose = (e) => resolve(err + ' / ' + e.code)
    })
    console.log('websockets:', msg)
  }
}
`,
    'endless.js': `
import ws from 'k6/ws'
export const options = { scenarios: { s: { executor: 'constant-vus', vus: 1, duration: '1s', gracefulStop: '0s' } } }
export default function () {
  ws.connect(__ENV.WS, (s) => s.setInterval(() => s.send('x'), 20))
}
`,
  })
  const r = await kilnRun(['run', '-q', '-e', `WS=${base}`, 'errors.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /ERRO\[\d+\] Error: .*ECONNREFUSED/)
  assert.match(r.stderr, /ERRO\[\d+\] Error: handler boom/)
  assert.match(r.stderr, /websockets: .*ECONNREFUSED.* \/ 1006/)
  const e = await kilnRun(['run', '-q', '-e', `WS=${base}`, '--summary-export', 'sum.json', 'endless.js'], { cwd: dir })
  assert.equal(e.code, 0, e.stderr)
  const sum = readJson(join(dir, 'sum.json'))
  assert.ok(sum.metrics.ws_msgs_sent.count > 0)
  assert.ok(sum.metrics.ws_session_duration.max > 0, 'an interrupted session still records its duration')
})

test('wss://: a self-signed server is refused unless --insecure-skip-tls-verify, for k6/ws and k6/websockets', async (t) => {
  const dir = workdir({
    'tls.js': `
import ws from 'k6/ws'
import { WebSocket } from 'k6/websockets'
export const options = { iterations: 1 }
export default async function () {
  let a = ''
  try {
    ws.connect(__ENV.WSS, (s) => s.on('open', () => { a = 'open'; s.close() }))
  } catch (e) {
    a = 'refused: ' + e.message
  }
  const b = await new Promise((resolve) => {
    const w = new WebSocket(__ENV.WSS)
    w.onopen = () => { w.close(); resolve('open') }
    w.onerror = (e) => resolve('refused: ' + e.error)
  })
  console.log(JSON.stringify({ a, b }))
}
`,
  })
  const pem = selfSignedCert(dir)
  if ('skip' in pem) {
    t.skip(pem.skip)
    return
  }
  const srv = https.createServer(pem)
  const secure = new WebSocketServer({ server: srv })
  secure.on('connection', (s) => s.on('message', (d) => s.send(d)))
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const wssUrl = `wss://127.0.0.1:${(srv.address() as { port: number }).port}/`
  const seen = (stderr: string) => JSON.parse(/\{"a".*\}/.exec(stderr)?.[0] ?? 'null') as { a: string; b: string } | null
  try {
    const strict = await kilnRun(['run', '-q', '--no-summary', '-e', `WSS=${wssUrl}`, 'tls.js'], { cwd: dir })
    const s = seen(strict.stderr)
    assert.match(s?.a ?? '', /^refused: .*certificate/, strict.stderr)
    assert.match(s?.b ?? '', /^refused: .*certificate/, strict.stderr)
    const loose = await kilnRun(['run', '-q', '--no-summary', '--insecure-skip-tls-verify', '-e', `WSS=${wssUrl}`, 'tls.js'], { cwd: dir })
    assert.deepEqual(seen(loose.stderr), { a: 'open', b: 'open' }, loose.stderr)
  } finally {
    for (const c of secure.clients) c.terminate()
    srv.closeAllConnections()
    await new Promise((r) => srv.close(r))
  }
})
