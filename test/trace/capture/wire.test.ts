import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventDecoder } from '../../../src/trace/capture/wire.ts'

/** An event as bpf/events.h lays it out: a 112-byte header, then `data`. */
function event(i: number, data: Buffer): Buffer {
  const h = Buffer.alloc(112)
  h.writeBigUInt64LE(BigInt(i) * 1000n, 0)
  // A kernel address: the top bits set, as on x86-64.
  h.writeUInt32LE(0x1000 + i * 64, 8)
  h.writeUInt32LE(0xffff8880, 12)
  h.writeUInt32LE(100 + i, 24)
  h.writeUInt32LE(data.length + 7, 32)
  h.writeUInt32LE(data.length, 36)
  h[40] = 1
  h[41] = i % 2
  return Buffer.concat([h, data])
}

test('events split across chunks at every offset decode as when whole', () => {
  const events = [0, 1, 200, 0, 5, 3000].map((n, i) => event(i, Buffer.alloc(n, 97 + i)))
  const stream = Buffer.concat(events)
  const read = (chunks: Buffer[]) => {
    const d = new EventDecoder()
    return chunks
      .flatMap((c) => d.push(c))
      .map((e) => ({ ts: e.ts, sk: e.sk, tgid: e.tgid, size: e.size, dir: e.dir, data: e.data.toString('latin1') }))
  }
  const whole = read([stream])
  assert.equal(whole.length, events.length)
  assert.equal(whole[2]!.sk, 0x1f8880 * 2 ** 32 + 0x1000 + 2 * 64) // the low 53 bits
  assert.equal(whole[5]!.data, 'f'.repeat(3000))
  for (let cut = 1; cut < stream.length; cut += 7) {
    assert.deepEqual(read([stream.subarray(0, cut), stream.subarray(cut)]), whole, `cut at ${cut}`)
  }
  // Byte by byte through the first events: a header completed a few bytes at a time.
  const small = stream.subarray(0, events[0]!.length + events[1]!.length + events[2]!.length)
  assert.deepEqual(read([...small].map((b) => Buffer.from([b]))), whole.slice(0, 3))
})

test('a stream out of step throws', () => {
  const bad = event(0, Buffer.alloc(4))
  bad.writeUInt32LE(1 << 20, 36)
  assert.throws(() => new EventDecoder().push(bad), /out of step/)
})
