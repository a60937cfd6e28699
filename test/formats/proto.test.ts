import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ProtoReader, ProtoWriter, ProtoError, WIRE_LEN, WIRE_VARINT, WIRE_I64 } from '../../src/formats/proto.ts'

test('writer and reader agree on every field kind', () => {
  const w = new ProtoWriter()
  w.varint(1, 300)
    .varint(2, -5)
    .string(3, 'héllo')
    .packedVarints(4, [1, 128, 2 ** 40])
    .double(5, 1.5)
  w.message(6, (m) => m.string(1, 'inner'))
  const r = new ProtoReader(w.finish())
  const seen: unknown[] = []
  while (!r.eof()) {
    const k = r.key()
    const f = k >>> 3
    const wire = k & 7
    if (f === 1) seen.push(r.varint())
    else if (f === 2) seen.push(r.int64())
    else if (f === 3) seen.push(r.string())
    else if (f === 4) {
      const out: number[] = []
      r.packedVarints(wire, out)
      seen.push(out)
    } else if (f === 5) {
      assert.equal(wire, WIRE_I64)
      seen.push(r.double())
    } else if (f === 6) {
      assert.equal(wire, WIRE_LEN)
      const sub = r.sub()
      sub.key()
      seen.push(sub.string())
    } else r.skip(wire)
  }
  assert.deepEqual(seen, [300, -5, 'héllo', [1, 128, 2 ** 40], 1.5, 'inner'])
})

test('truncated and malformed input throws ProtoError, never reads past the end', () => {
  const w = new ProtoWriter().string(1, 'abcdef').finish()
  for (let cut = 1; cut < w.length; cut++) {
    const r = new ProtoReader(w.subarray(0, cut))
    assert.throws(() => {
      r.key()
      r.string()
    }, ProtoError)
  }
  assert.throws(
    () =>
      new ProtoReader(Uint8Array.from([0x0a, 0x02, 0xff, 0xfe])).sub() &&
      new ProtoReader(Uint8Array.from([0x0a, 0x02, 0xff, 0xfe]), 2).string(),
    ProtoError,
  )
  assert.throws(() => new ProtoReader(Uint8Array.from([0x0f])).skip(7), ProtoError)
  assert.throws(() => new ProtoReader(Uint8Array.from(new Array(11).fill(0xff))).varint(), ProtoError)
  assert.equal(WIRE_VARINT, 0)
})
