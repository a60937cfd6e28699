import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { startDnsmasq, which } from '../services.ts'
import { captureUnavailable, traceSession } from './helpers.ts'

const unavailable = captureUnavailable()

type Row = {
  trace_role: string
  req_body: string
  resp_header: string
  resp_body: string
  latency: string
  service: string
  remote_addr: string
}

test('DNS: dig → dnsmasq over UDP (connected socket, sendmmsg/recvmsg) and TCP; queries and answers on both sides', {
  skip: unavailable ?? false,
  timeout: 180_000,
}, async (t) => {
  if (!which('dig')) return t.skip('dig is not installed (Debian package bind9-dnsutils)')
  const dns = await startDnsmasq()
  if ('skip' in dns) return t.skip(dns.skip)
  const asked: [string, string][] = [
    ['web.kiln.test', 'A'],
    ['web.kiln.test', 'AAAA'],
    ['alias.kiln.test', 'A'],
    ['txt.kiln.test', 'TXT'],
    ['missing.kiln.test', 'A'],
  ]
  try {
    const s = await traceSession(async () => {
      for (const [name, type] of asked) {
        const r: { status: number | null; stderr: string } = spawnSync(
          'dig',
          [`@127.0.0.1`, '-p', String(dns.port), '+tries=1', '+time=5', name, type],
          { encoding: 'utf8', timeout: 20_000 },
        )
        assert.equal(r.status, 0, r.stderr)
      }
      const tcp: { stdout: string } = spawnSync(
        'dig',
        [`@127.0.0.1`, '-p', String(dns.port), '+tcp', '+tries=1', '+time=5', 'web.kiln.test', 'A'],
        { encoding: 'utf8', timeout: 20_000 },
      )
      assert.match(tcp.stdout, /10\.0\.0\.7/)
    })
    try {
      const rows = (where: string) =>
        s.query<Row>(
          `SELECT trace_role, req_body, resp_header, resp_body, latency, service, remote_addr FROM kiln.dns_events WHERE ${where} ORDER BY time_`,
        )
      const server = await rows(`local_port = ${dns.port} AND trace_role = 2`)
      const client = await rows(`remote_port = ${dns.port} AND trace_role = 1`)
      const names = (rs: Row[]) =>
        rs.map((r) =>
          JSON.parse(r.req_body)
            .queries.map((q: { name: string; type: string }) => `${q.name} ${q.type}`)
            .join(),
        )
      const want = [...asked.map(([n, t]) => `${n} ${t}`), 'web.kiln.test A']
      assert.deepEqual(names(server), want, s.log)
      assert.deepEqual(names(client), want, s.log)
      assert.ok(server.every((r) => r.service === 'dnsmasq') && client.every((r) => r.service === 'dig'))
      assert.match(server[0]!.resp_body, /10\.0\.0\.7/)
      assert.match(client[1]!.resp_body, /fd00::7/)
      // A name dnsmasq does not hold: NXDOMAIN (3), or REFUSED (5) from a dnsmasq with no upstream.
      assert.match(client[4]!.resp_header, /"rcode":[35]/)
      for (const r of client) assert.ok(Number(r.latency) > 0 && Number(r.latency) < 5e9, r.latency)
    } finally {
      await s.dispose()
    }
  } finally {
    await dns.stop()
  }
})
