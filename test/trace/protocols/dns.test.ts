import { test } from 'node:test'
import assert from 'node:assert/strict'
import { inferProtocol } from '../../../src/trace/protocols/index.ts'
import { decodeDns } from '../../../src/trace/protocols/dns/message.ts'
import type { DataEvent } from '../../../src/trace/types.ts'
import { startDnsmasq, which } from '../services.ts'
import { tcpProxy, udpProxy } from './proxy.ts'
import { cut, fuzz, junk, mutate, parse, rng, run, script, split } from './support.ts'

let recorded: DataEvent[][] = []

const summary = (events: DataEvent[]) =>
  parse('dns', events).records.map((r) => {
    const q = JSON.parse(r.row.req_body as string).queries[0]
    const h = JSON.parse(r.row.resp_header as string)
    const a = JSON.parse(r.row.resp_body as string).answers
    return [q.name, q.type, h.rcode, a.map((x: Record<string, string>) => `${x.type} ${x.addr ?? x.cname ?? x.data}`).join(', ')]
  })

test('dnsmasq and dig over UDP and TCP: A, AAAA, CNAME, TXT, NXDOMAIN', async (t) => {
  if (!which('dig')) return t.skip('dig is not installed (Debian package bind9-dnsutils)')
  const svc = await startDnsmasq()
  if ('skip' in svc) return t.skip(svc.skip)
  const udp = await udpProxy(svc.port)
  const tcp = await tcpProxy(svc.port)
  try {
    const dig = (port: number, ...args: string[]) => run('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=2', ...args])
    for (const q of [
      ['web.kiln.test', 'A'],
      ['web.kiln.test', 'AAAA'],
      ['alias.kiln.test', 'A'],
      ['txt.kiln.test', 'TXT'],
      ['nope.kiln.test', 'A'],
    ]) {
      const r = await dig(udp.port, q[0]!, q[1]!)
      assert.equal(r.code, 0, r.stderr + r.stdout)
    }
    const r = await dig(tcp.port, '+tcp', 'web.kiln.test', 'A')
    assert.equal(r.code, 0, r.stderr + r.stdout)
    await udp.close()
    await tcp.close()
    recorded = [...udp.conns().map((c) => udp.events(c)), tcp.events()]
    const want = [
      ['web.kiln.test', 'A', 0, 'A 10.0.0.7'],
      ['web.kiln.test', 'AAAA', 0, 'AAAA fd00::7'],
      ['alias.kiln.test', 'A', 0, 'CNAME web.kiln.test, A 10.0.0.7'],
      ['txt.kiln.test', 'TXT', 0, 'TXT hello'],
      ['nope.kiln.test', 'A', 5, ''],
    ]
    // dig opens one UDP socket per invocation.
    assert.deepEqual(
      udp.conns().flatMap((c) => summary(udp.events(c))),
      want,
    )
    assert.deepEqual(summary(tcp.events()), [want[0]])
    const { records } = parse('dns', udp.events(0))
    const h = JSON.parse(records[0]!.row.req_header as string)
    assert.deepEqual([h.qr, h.rd, h.num_queries, h.num_addl], [0, 1, 1, 1], 'dig sends an EDNS OPT record')
    assert.ok((records[0]!.row.latency as number) > 0)
    // Inference from the first datagram, on the server's port and by shape alone.
    const first = udp.events(0)[0]!.data
    assert.deepEqual(inferProtocol(first, true, { local: 40000, remote: 53 }), { protocol: 'dns', fromClient: true })
    assert.deepEqual(inferProtocol(tcp.events()[0]!.data, true, { local: 40000, remote: 53 }), { protocol: 'dns', fromClient: true })
    // TCP in 1–3 byte pieces, and UDP answers cut by capture (the questions survive).
    assert.deepEqual(summary(split(tcp.events(), 3)), [want[0]])
    const cutRows = parse('dns', cut(udp.events(2), 40)).records
    assert.equal(cutRows.length, 1)
    assert.deepEqual(JSON.parse(cutRows[0]!.row.req_body as string).queries, [{ name: 'alias.kiln.test', type: 'A' }])
  } finally {
    await udp.close()
    await tcp.close()
    await svc.stop()
  }
})

function name(...labels: string[]): Buffer {
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])])
}

function msg(id: number, flags: number, counts: number[], ...body: Buffer[]): Buffer {
  const h = Buffer.alloc(12)
  h.writeUInt16BE(id, 0)
  h.writeUInt16BE(flags, 2)
  counts.forEach((c, i) => h.writeUInt16BE(c, 4 + 2 * i))
  return Buffer.concat([h, ...body])
}

const u16 = (...v: number[]) => Buffer.from(v.flatMap((x) => [x >> 8, x & 0xff]))

test('hand-built: compression pointers (backward, chained), pointer loops, out-of-order answers', () => {
  const q1 = msg(1, 0x0100, [1, 0, 0, 0], name('a', 'example', 'com'), u16(1, 1))
  const q2 = msg(2, 0x0100, [1, 0, 0, 0], name('b', 'example', 'com'), u16(28, 1))
  // Answer to q2: the question, then a CNAME whose target points into the question name, then an A of that target.
  const r2 = msg(
    2,
    0x8180,
    [1, 2, 0, 0],
    name('b', 'example', 'com'),
    u16(28, 1),
    u16(0xc00c, 5, 1, 0, 60, 6), // name → question; CNAME; rdlength 6
    Buffer.from([3, 0x63, 0x64, 0x6e, 0xc0, 0x0e]), // "cdn" + pointer to "example.com"
    u16(0xc02b, 1, 1, 0, 60, 4), // name → the CNAME target at offset 43
    Buffer.from([192, 0, 2, 1]),
  )
  const loop = msg(
    1,
    0x8180,
    [1, 1, 0, 0],
    name('a', 'example', 'com'),
    u16(1, 1),
    u16(0xc01f),
    u16(1, 1, 0, 60, 4),
    Buffer.from([1, 2, 3, 4]),
  )
  // The answer's name at offset 31 (0x1f) is a pointer to itself: a loop.
  assert.equal(decodeDns(loop), null)
  const d = decodeDns(r2)!
  assert.deepEqual(d.answers, [
    { name: 'b.example.com', type: 'CNAME', cname: 'cdn.example.com' },
    { name: 'cdn.example.com', type: 'A', addr: '192.0.2.1' },
  ])
  const ev = script([true, q1], [true, q2], [false, r2], [false, loop])
  const { records, parser } = parse('dns', ev)
  assert.equal(records.length, 1)
  assert.deepEqual(JSON.parse(records[0]!.row.req_body as string), { queries: [{ name: 'b.example.com', type: 'AAAA' }] })
  assert.equal(parser.stats.errors, 1, 'the looping answer')
  assert.equal(parser.stats.unmatched, 1, 'q1 never answered')
})

test('hand-built: two TCP messages in one event, and unknown record types by number', () => {
  const q = msg(7, 0x0100, [1, 0, 0, 0], name('x'), u16(99, 1))
  const r = msg(7, 0x8180, [1, 1, 0, 0], name('x'), u16(99, 1), u16(0xc00c, 4242, 1, 0, 1, 2), Buffer.from([0xab, 0xcd]))
  const framed = (m: Buffer) => Buffer.concat([u16(m.length), m])
  const ev = script([true, Buffer.concat([framed(q), framed(msg(8, 0x0100, [1, 0, 0, 0], name('y'), u16(1, 1)))])], [false, framed(r)])
  const { records, parser } = parse('dns', ev)
  assert.deepEqual(JSON.parse(records[0]!.row.resp_body as string), { answers: [{ name: 'x', type: 'TYPE4242', data: 'abcd' }] })
  assert.equal(JSON.parse(records[0]!.row.req_body as string).queries[0].type, 'SPF')
  assert.equal(parser.stats.unmatched, 1)
})

test('fuzz: mutated dig recordings and random bytes never throw and stay bounded', () => {
  const r = rng(5353)
  const bases = recorded.length ? recorded : [script([true, msg(1, 0x0100, [1, 0, 0, 0], name('a'), u16(1, 1))])]
  const inputs: DataEvent[][] = []
  for (let i = 0; i < 400; i++) inputs.push(mutate(bases[i % bases.length]!, r))
  for (let i = 0; i < 100; i++) inputs.push(junk(r))
  fuzz('dns', inputs)
})
