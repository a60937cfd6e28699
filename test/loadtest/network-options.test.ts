/**
 * k6's network options: hosts, blacklistIPs, blockHostnames, noConnectionReuse,
 * noVUConnectionReuse, batch, tlsVersion and tlsAuth — each against real servers on 127.0.0.1.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import https from 'node:https'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'
import { kilnRun, selfSignedCert, workdir } from './helpers.ts'

/** A server that counts requests, connections and the most requests in flight at once. */
async function countingServer(): Promise<{
  port: number
  stats: { requests: number; connections: number; maxInFlight: number; hosts: string[] }
  close(): Promise<void>
}> {
  const stats = { requests: 0, connections: 0, maxInFlight: 0, hosts: [] as string[] }
  let inFlight = 0
  const srv = http.createServer((req, res) => {
    stats.requests++
    stats.hosts.push(req.headers.host ?? '')
    stats.maxInFlight = Math.max(stats.maxInFlight, ++inFlight)
    setTimeout(
      () => {
        inFlight--
        res.end('ok')
      },
      req.url === '/slow' ? 30 : 0,
    )
  })
  srv.on('connection', () => stats.connections++)
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  return {
    port: (srv.address() as AddressInfo).port,
    stats,
    close: () => {
      srv.closeAllConnections()
      return new Promise((r) => srv.close(() => r()))
    },
  }
}

const run = (dir: string, ...args: string[]) => kilnRun(['run', '-q', '--summary-export', 's.json', ...args, 'script.js'], { cwd: dir })
const checks = (dir: string) => {
  const c = JSON.parse(readFileSync(join(dir, 's.json'), 'utf8')).metrics.checks as { passes: number; fails: number }
  return { passes: c.passes, fails: c.fails }
}

test('hosts sends a name to an address (also *. and ports); blacklistIPs (1110) and blockHostnames (1111) stop requests before they leave', async () => {
  const s = await countingServer()
  try {
    const dir = workdir({
      'script.js': `import http from 'k6/http'
import { check } from 'k6'
export const options = {
  iterations: 1,
  hosts: { 'kiln.test': '127.0.0.1', '*.wild.test': '127.0.0.1', 'api.test:80': '127.0.0.1:${s.port}' },
}
export default function () {
  const named = http.get('http://kiln.test:${s.port}/a')
  const wild = http.get('http://x.wild.test:${s.port}/b')
  const ported = http.get('http://api.test/c')
  check(null, {
    'hosts': () => named.status === 200 && named.url === 'http://kiln.test:${s.port}/a' && wild.status === 200 && ported.status === 200,
  })
}`,
    })
    const r = await run(dir)
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(checks(dir), { passes: 1, fails: 0 }, r.stderr)
    assert.deepEqual(s.stats.hosts, [`kiln.test:${s.port}`, `x.wild.test:${s.port}`, 'api.test'], 'the Host header keeps the name')

    const blockedDir = workdir({
      'script.js': `import http from 'k6/http'
import { check } from 'k6'
export const options = { iterations: 1, hosts: { 'mapped.test': '127.0.0.1' } }
export default function () {
  const byIp = http.get('http://127.0.0.1:${s.port}/')
  const byName = http.get('http://localhost:${s.port}/')
  const byMap = http.get('http://mapped.test:${s.port}/')
  const byPattern = http.get('http://a.blocked.test/')
  check(null, {
    'ip 1110': () => byIp.error_code === 1110 && /IP \\(127\\.0\\.0\\.1\\) is in a blacklisted range \\(127\\.0\\.0\\.0\\/8\\)/.test(byIp.error),
    'looked-up name 1110': () => byName.error_code === 1110,
    'hosts entry 1110': () => byMap.error_code === 1110,
    'hostname 1111': () => byPattern.error_code === 1111 && /hostname \\(a\\.blocked\\.test\\) is in a blocked pattern \\(\\*\\.blocked\\.test\\)/.test(byPattern.error),
  })
}`,
    })
    const before = s.stats.requests
    const b = await run(blockedDir, '--blacklist-ip', '127.0.0.0/8,::1/128', '--block-hostnames', '*.blocked.test')
    assert.equal(b.code, 0, b.stderr)
    assert.equal(checks(blockedDir).fails, 0, b.stderr)
    assert.equal(checks(blockedDir).passes, 4)
    assert.equal(s.stats.requests, before, 'nothing reached the server')
  } finally {
    await s.close()
  }
})

test('noConnectionReuse, noVUConnectionReuse and batch change how many connections and requests in flight a VU uses', async () => {
  const s = await countingServer()
  const dir = workdir({
    'script.js': `import http from 'k6/http'
export const options = { vus: 1, iterations: 3 }
export default function () {
  http.get(__ENV.B + '/')
  http.get(__ENV.B + '/')
  http.batch([__ENV.B + '/slow', __ENV.B + '/slow', __ENV.B + '/slow'])
}`,
  })
  const env = ['-e', `B=http://127.0.0.1:${s.port}`]
  const measure = async (...flags: string[]) => {
    s.stats.connections = 0
    s.stats.maxInFlight = 0
    const r = await run(dir, ...env, ...flags)
    assert.equal(r.code, 0, r.stderr)
    return { connections: s.stats.connections, maxInFlight: s.stats.maxInFlight }
  }
  try {
    // Default: the batch opens two more connections next to the VU's first (3 in flight), all reused.
    assert.deepEqual(await measure(), { connections: 3, maxInFlight: 3 })
    assert.deepEqual(await measure('--no-connection-reuse'), { connections: 15, maxInFlight: 3 })
    assert.deepEqual(await measure('--no-vu-connection-reuse'), { connections: 9, maxInFlight: 3 })
    assert.deepEqual(await measure('--batch', '1'), { connections: 1, maxInFlight: 1 })
  } finally {
    await s.close()
  }
})

test('tlsVersion bounds the handshake (k6 TLS error) and tlsAuth presents a client certificate to the domains it names', async (t) => {
  const dir = workdir({})
  const server = selfSignedCert(dir, 'server')
  const client = selfSignedCert(dir, 'client')
  if ('skip' in server || 'skip' in client) {
    t.skip('skip' in server ? server.skip : (client as { skip: string }).skip)
    return
  }
  const srv = https.createServer(
    { key: server.key, cert: server.cert, maxVersion: 'TLSv1.2', requestCert: true, rejectUnauthorized: true, ca: client.cert },
    (req, res) => res.end(`hello ${(req.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN}`),
  )
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const url = `https://127.0.0.1:${(srv.address() as AddressInfo).port}/`
  try {
    const script = (opts: string) => `import http from 'k6/http'
import { check } from 'k6'
export const options = { iterations: 1, insecureSkipTLSVerify: true, ${opts} }
export default function () {
  const r = http.get('${url}')
  console.log('RESULT ' + JSON.stringify({ status: r.status, body: r.body, code: r.error_code, tls: r.tls_version }))
}`
    const result = async (opts: string) => {
      const d = workdir({
        'script.js': script(opts),
        'client.crt': readFileSync(join(dir, 'client.crt'), 'utf8'),
        'client.key': readFileSync(join(dir, 'client.key'), 'utf8'),
      })
      const r = await kilnRun(['run', '-q', 'script.js'], { cwd: d })
      assert.equal(r.code, 0, r.stderr)
      return JSON.parse(/RESULT (.*?)\s+source=/.exec(r.stderr)?.[1] ?? 'null')
    }
    const auth = `tlsAuth: [{ domains: ['127.0.0.1'], cert: open('./client.crt'), key: open('./client.key') }]`
    assert.deepEqual(await result(auth), { status: 200, body: 'hello client', code: 0, tls: 'tls1.2' })
    const without = await result('')
    assert.equal(without.status, 0, 'no client certificate: the server refuses the handshake')
    const other = await result(`tlsAuth: [{ domains: ['example.com'], cert: open('./client.crt'), key: open('./client.key') }]`)
    assert.equal(other.status, 0, 'a certificate for another domain is not sent')
    const tooNew = await result(`${auth}, tlsVersion: { min: 'tls1.3' }`)
    assert.ok(tooNew.status === 0 && tooNew.code >= 1300 && tooNew.code < 1400, JSON.stringify(tooNew))
  } finally {
    srv.closeAllConnections()
    await new Promise((r) => srv.close(r))
  }
})

test('bad network options stop the run with exit 104 and name the option', async () => {
  const cases: [string, RegExp][] = [
    [`hosts: { 'a.test': 'not-an-ip' }`, /hosts: 'a.test' must map to an IP address/],
    [`blacklistIPs: ['10.0.0.0/33']`, /blacklistIPs: '10.0.0.0\/33' is not an IP range/],
    [`blockHostnames: ['bad host']`, /blockHostnames: 'bad host' must be a hostname/],
    [`tlsVersion: 'ssl3'`, /tlsVersion must be one of tls1.0, tls1.1, tls1.2, tls1.3/],
    [`tlsAuth: [{ domains: ['x'] }]`, /tlsAuth\[0\] needs cert and key/],
    [`batch: 0`, /batch/],
  ]
  for (const [opt, message] of cases) {
    const dir = workdir({ 'script.js': `export const options = { iterations: 1, ${opt} }\nexport default function () {}` })
    const r = await kilnRun(['run', '-q', 'script.js'], { cwd: dir })
    assert.equal(r.code, 104, `${opt}: ${r.stderr}`)
    assert.match(r.stderr, message)
  }
})

test('tlsCipherSuites restricts the TLS 1.2 cipher suites offered (k6 names); an unknown name is exit 104', async (t) => {
  const dir = workdir({})
  const cert = selfSignedCert(dir, 'server')
  if ('skip' in cert) return t.skip(cert.skip)
  const srv = https.createServer({ key: cert.key, cert: cert.cert, maxVersion: 'TLSv1.2' }, (req, res) =>
    res.end((req.socket as import('node:tls').TLSSocket).getCipher().name),
  )
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const url = `https://127.0.0.1:${(srv.address() as AddressInfo).port}/`
  try {
    const script = (suites: string[]) =>
      workdir({
        'script.js': `import http from 'k6/http'
export const options = { iterations: 1, insecureSkipTLSVerify: true, tlsCipherSuites: ${JSON.stringify(suites)} }
export default function () { console.log('CIPHER ' + http.get(__ENV.URL).body) }`,
      })
    for (const [suites, want] of [
      [['TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384'], 'ECDHE-RSA-AES256-GCM-SHA384'],
      [['TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA', 'TLS_AES_128_GCM_SHA256'], 'ECDHE-RSA-AES128-SHA'],
    ] as const) {
      const r = await kilnRun(['run', '-q', '--no-summary', '-e', `URL=${url}`, 'script.js'], { cwd: script([...suites]) })
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stderr, new RegExp(`CIPHER ${want}\\b`), r.stderr)
    }
    const bad = await kilnRun(['run', '-q', '-e', `URL=${url}`, 'script.js'], {
      cwd: script(['TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'TLS_MADE_UP']),
    })
    assert.equal(bad.code, 104)
    assert.match(bad.stderr, /tlsCipherSuites: unknown cipher suite 'TLS_MADE_UP'/)
  } finally {
    srv.closeAllConnections()
    await new Promise<void>((r) => srv.close(() => r()))
  }
})

test('localIPs: VU n connects from the nth address of the pool (ranges and CIDRs, round robin), HTTP and WebSockets; a bad one is exit 104', async () => {
  const srv = http.createServer((req, res) => res.end(req.socket.remoteAddress))
  // The WebSocket says where its connection came from, too.
  const wss = new WebSocketServer({ server: srv })
  wss.on('connection', (socket, req) => socket.send(req.socket.remoteAddress ?? ''))
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`
  try {
    const dir = workdir({
      'script.js': `import http from 'k6/http'
import ws from 'k6/ws'
export const options = { vus: 4, iterations: 8, localIPs: __ENV.IPS }
export default function () {
  console.log('FROM ' + __VU + ' ' + http.get(__ENV.URL).body)
  ws.connect(__ENV.URL.replace('http', 'ws'), (s) => s.on('message', (m) => { console.log('WSFROM ' + __VU + ' ' + m); s.close() }))
}`,
    })
    const r = await kilnRun(['run', '-q', '--no-summary', '-e', `URL=${url}`, '-e', 'IPS=127.0.0.2-127.0.0.3,127.0.0.8/31', 'script.js'], {
      cwd: dir,
    })
    assert.equal(r.code, 0, r.stderr)
    const seen = new Map<string, Set<string>>()
    for (const m of r.stderr.matchAll(/FROM (\d+) (\S+)/g)) (seen.get(m[1]!) ?? seen.set(m[1]!, new Set()).get(m[1]!)!).add(m[2]!)
    const byVu = Object.fromEntries([...seen].map(([vu, ips]) => [vu, [...ips]]))
    assert.deepEqual(byVu, { '1': ['127.0.0.2'], '2': ['127.0.0.3'], '3': ['127.0.0.8'], '4': ['127.0.0.9'] }, r.stderr)
    const wsByVu: Record<string, string[]> = {}
    for (const m of r.stderr.matchAll(/WSFROM (\d+) (\S+)/g)) if (!wsByVu[m[1]!]?.includes(m[2]!)) (wsByVu[m[1]!] ??= []).push(m[2]!)
    assert.deepEqual(wsByVu, byVu, r.stderr)
    const bad = await kilnRun(['run', '-q', '-e', `URL=${url}`, '-e', 'IPS=127.0.0.5-127.0.0.2', 'script.js'], { cwd: dir })
    assert.equal(bad.code, 104)
    assert.match(bad.stderr, /localIPs: '127\.0\.0\.5-127\.0\.0\.2' ends before it starts/)
  } finally {
    for (const c of wss.clients) c.terminate()
    wss.close()
    srv.closeAllConnections()
    await new Promise<void>((r) => srv.close(() => r()))
  }
})

test('rps caps the requests per second of the whole run, VUs on every thread together; a bad value is exit 104', async () => {
  const arrivals: number[] = []
  const srv = http.createServer((_req, res) => {
    arrivals.push(performance.now())
    res.end('ok')
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`
  try {
    const dir = workdir({
      'script.js': `import http from 'k6/http'
export const options = { vus: 4, iterations: 21, rps: Number(__ENV.RPS) }
export default function () { http.get(__ENV.URL) }`,
    })
    const r = await kilnRun(['run', '-q', '--no-summary', '-e', `URL=${url}`, '-e', 'RPS=10', 'script.js'], {
      cwd: dir,
      env: { KILN_RUN_THREADS: '2' },
      timeoutMs: 90_000,
    })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(arrivals.length, 21)
    // 21 requests at 10/s: the last leaves at least 2 s after the first. Arrivals lag their send times
    // by the connection's set-up (the first request of each VU dials) — up to ~100 ms on a loaded
    // machine — so the bound leaves 200 ms; uncapped, 21 requests on loopback take a few ms.
    const span = arrivals[20]! - arrivals[0]!
    assert.ok(span >= 1800, `21 requests arrived within ${span.toFixed(0)} ms`)
    const bad = await kilnRun(['run', '-q', '-e', `URL=${url}`, '-e', 'RPS=-1', 'script.js'], { cwd: dir })
    assert.equal(bad.code, 104)
    assert.match(bad.stderr, /rps must be an integer/)
  } finally {
    srv.closeAllConnections()
    await new Promise<void>((r) => srv.close(() => r()))
  }
})

test('dns: policy filters the families dialled (onlyIPv6 finds no address for an IPv4-only name), select and ttl accepted as k6 spells them; a bad value is exit 104', async () => {
  const srv = http.createServer((_req, res) => res.end('ok'))
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as AddressInfo).port
  try {
    const dir = workdir({
      'script.js': `import http from 'k6/http'
export const options = { iterations: 1, dns: JSON.parse(__ENV.DNS) }
export default function () { const r = http.get('http://localhost:${port}/'); console.log('GOT ' + r.status + ' ' + r.error) }`,
    })
    const run = (d: unknown) => kilnRun(['run', '-q', '--no-summary', '-e', `DNS=${JSON.stringify(d)}`, 'script.js'], { cwd: dir })
    for (const d of [
      { policy: 'onlyIPv4', select: 'first', ttl: '1m' },
      'ttl=inf,select=roundRobin,policy=any',
      { policy: 'preferIPv6', select: 'random', ttl: '0' },
    ]) {
      const r = await run(d)
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stderr, /GOT 200 /, `${JSON.stringify(d)}: ${r.stderr}`)
    }
    // Assumes localhost has no IPv6 address here; where it has one, the request goes to ::1, where nothing listens.
    const v6 = await run({ policy: 'onlyIPv6' })
    assert.match(v6.stderr, /GOT 0 /, v6.stderr)
    const bad = await run({ select: 'sometimes' })
    assert.equal(bad.code, 104)
    assert.match(bad.stderr, /dns\.select must be one of first, random, roundRobin/)
  } finally {
    srv.closeAllConnections()
    await new Promise<void>((r) => srv.close(() => r()))
  }
})
