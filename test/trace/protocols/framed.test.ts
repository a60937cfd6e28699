import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PacketReader, type Packet } from '../../../src/trace/protocols/mysql/packets.ts'
import { MessageReader, type PgMessage } from '../../../src/trace/protocols/pgsql/messages.ts'

/** A MySQL packet: 3-byte little-endian length, sequence id, payload. */
function packet(seq: number, payload: Buffer): Buffer {
  const h = Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, payload.length >> 16, seq])
  return Buffer.concat([h, payload])
}

/** A typed PostgreSQL message with a payload of `n` bytes of `fill`. */
function pg(type: string, n: number, fill = 0x61): Buffer {
  const h = Buffer.alloc(5)
  h.write(type, 0, 'latin1')
  h.writeUInt32BE(n + 4, 1)
  return Buffer.concat([h, Buffer.alloc(n, fill)])
}

const seqStarts = (d: Buffer) => d.length >= 4 && d[3] === 0

test('a packet over the buffer cap comes early with its first 4 KiB; the rest is counted past and the next packet is whole', () => {
  const r = new PacketReader(64 * 1024, seqStarts)
  const got: Packet[] = []
  const big = packet(0, Buffer.alloc(100_000, 0x62))
  const next = packet(0, Buffer.from('\x03SELECT 1'))
  const all = Buffer.concat([big, next])
  // Fed in 10,000-byte events, as a socket would hand them over.
  for (let o = 0; o < all.length; o += 10_000) {
    const part = all.subarray(o, o + 10_000)
    assert.equal(
      r.push(part, part.length, BigInt(o), (p) => got.push(p)),
      true,
    )
  }
  assert.deepEqual(
    got.map((p) => [p.len, p.whole, p.payload.length]),
    [
      [100_000, false, 4096],
      [9, true, 9],
    ],
  )
  assert.equal(got[1]!.payload.toString('latin1'), '\x03SELECT 1')
  assert.equal(r.buffered, 0)
})

test('a capture gap inside a packet is counted past; one running past its end loses the framing until a packet starts again', () => {
  const r = new PacketReader(64 * 1024, seqStarts)
  const got: Packet[] = []
  const on = (p: Packet) => got.push(p)
  const p1 = packet(0, Buffer.alloc(1000, 0x63))
  // 100 bytes captured of the 1,004 sent: delivered cut, the 904 missing bytes were never captured.
  assert.equal(r.push(p1.subarray(0, 100), p1.length, 1n, on), true)
  const p2 = packet(0, Buffer.from('\x03SELECT 2'))
  assert.equal(r.push(p2, p2.length, 2n, on), true)
  assert.deepEqual(
    got.map((p) => [p.len, p.whole]),
    [
      [1000, false],
      [9, true],
    ],
  )
  // 10 bytes captured of 5,000 sent, running past the packet they begin: that packet comes cut, and the
  // framing is lost with nothing kept.
  assert.equal(r.push(p2.subarray(0, 10), 5000, 3n, on), false)
  assert.equal(r.lost, true)
  assert.equal(r.buffered, 0)
  // A response's bytes (sequence 1) do not start a request: still lost; a request does.
  assert.equal(r.push(packet(1, Buffer.from('x')), 5, 4n, on), true)
  assert.equal(r.lost, true)
  assert.equal(r.push(p2, p2.length, 5n, on), true)
  assert.equal(r.lost, false)
  assert.deepEqual(
    got.slice(2).map((p) => [p.len, p.whole, p.timeNs]),
    [
      [9, false, 3n],
      [9, true, 5n],
    ],
  )
})

test('bytes that cannot start a PostgreSQL message lose the framing at once, and a later message resyncs', () => {
  const r = new MessageReader(
    64 * 1024,
    () => 0,
    (d) => d[0] === 0x51,
  )
  const got: PgMessage[] = []
  const on = (m: PgMessage) => got.push(m)
  assert.equal(r.push(pg('Q', 3), 8, 1n, on), true)
  // 'Q' with a length of 2: below the 4 bytes the length counts itself.
  const bad = Buffer.from([0x51, 0, 0, 0, 2, 0x61, 0x61])
  assert.equal(r.push(bad, bad.length, 2n, on), false)
  assert.equal(r.lost, true)
  assert.equal(r.buffered, 0)
  const x = pg('X', 0)
  assert.equal(r.push(x, x.length, 3n, on), true)
  assert.equal(r.lost, true)
  const q = pg('Q', 5)
  assert.equal(r.push(q, q.length, 4n, on), true)
  assert.deepEqual(
    got.map((m) => [m.type, m.len, m.payload.length, m.whole]),
    [
      ['Q', 7, 3, true],
      ['Q', 9, 5, true],
    ],
  )
})

test("an untyped one-byte message (the server's SSL answer) is delivered alone, then typed ones", () => {
  const r = new MessageReader(
    64 * 1024,
    (b) => (b[0] === 0x4e ? 1 : 0),
    () => true,
  )
  const got: PgMessage[] = []
  const bytes = Buffer.concat([Buffer.from('N'), pg('R', 4, 0)])
  assert.equal(
    r.push(bytes, bytes.length, 1n, (m) => got.push(m)),
    true,
  )
  assert.deepEqual(
    got.map((m) => [m.type, m.len, m.payload.length]),
    [
      ['N', 0, 0],
      ['R', 8, 4],
    ],
  )
})
