/** Seeded fuzzing of the server's own parsers: each input ends in a result or a KilnError/ProtoError, never another exception or a hang. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseSelector } from '../../src/model/selector.ts'
import { parseAppName } from '../../src/model/labels.ts'
import { parseTime } from '../../src/model/time.ts'
import { KilnError } from '../../src/model/errors.ts'
import { parseMultipart } from '../../src/ingest/multipart.ts'

let seed = 7
const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32
const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!
const mutate = (s: string): string => {
  const chars = [...s]
  const n = 1 + Math.floor(rand() * 4)
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rand() * (chars.length + 1))
    const op = rand()
    if (op < 0.33) chars.splice(at, 1)
    else if (op < 0.66)
      chars.splice(at, 0, pick(['{', '}', '"', '=', '~', '!', ',', '\\', ' ', 'a', '`', "'", '(', '|', '\n', '\u0000', 'é']))
    else chars.splice(at, 1, String.fromCharCode(Math.floor(rand() * 128)))
  }
  return chars.join('')
}
const expectClean = (f: () => unknown, input: unknown, ...allowed: (new (...a: never[]) => Error)[]) => {
  try {
    f()
  } catch (e) {
    assert.ok(
      e instanceof KilnError || allowed.some((c) => e instanceof c),
      `unexpected ${(e as Error)?.constructor?.name}: ${(e as Error)?.message} for ${JSON.stringify(input)}`,
    )
  }
}

test('selector, app name and time parsers survive 20,000 mutated inputs', () => {
  const seeds = [
    '{service_name="api", env=~"prod|stage", region!="eu", pod!~`x.*`}',
    'process_cpu:cpu:nanoseconds:cpu:nanoseconds{a="b"}',
    '{}',
    'myapp.cpu{env=prod,region=eu}',
    'now-1h',
    '1700000000123',
    '2026-01-01T00:00:00Z',
  ]
  for (let i = 0; i < 20_000; i++) {
    const s = mutate(pick(seeds))
    expectClean(() => parseSelector(s), s)
    expectClean(() => parseAppName(s), s)
    expectClean(() => parseTime(s, 0), s)
  }
})

test('multipart parser survives truncation and mutation', () => {
  const boundary = 'XyZ'
  const body = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="profile"; filename="p"\r\nContent-Type: application/octet-stream\r\n\r\nabc\r\n--${boundary}\r\nContent-Disposition: form-data; name="sample_type_config"\r\n\r\n{}\r\n--${boundary}--\r\n`,
  )
  assert.deepEqual(
    parseMultipart(body, `multipart/form-data; boundary=${boundary}`).map((p) => [p.name, p.data.toString()]),
    [
      ['profile', 'abc'],
      ['sample_type_config', '{}'],
    ],
  )
  for (let i = 0; i < 5_000; i++) {
    const b = Buffer.from(body)
    const cut = b.subarray(0, Math.floor(rand() * (b.length + 1)))
    for (let k = 0; k < 3; k++) if (cut.length) cut[Math.floor(rand() * cut.length)] = Math.floor(rand() * 256)
    expectClean(() => parseMultipart(cut, `multipart/form-data; boundary=${boundary}`), cut.toString('latin1'))
  }
})
