/**
 * JFR edge cases on small recordings written by test/formats/jfr-writer.ts: async-profiler's wall
 * mode, wall-clock, live-object, malloc and park events, ticks that are not nanoseconds, fixed-size
 * integers, every string encoding, constant keys above 2^53, generated class names, and forged
 * metadata that would make a naive reader recurse or allocate without end.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeAny, decodeJfr, type JfrProfile } from '../../src/formats/index.ts'
import { ProtoWriter } from '../../src/formats/proto.ts'
import { profileTypeId, toFolded } from '../../src/model/profile.ts'
import { isKilnError } from '../../src/model/errors.ts'
import { writeJfr, type ClassSpec, type ChunkSpec, type Val } from './jfr-writer.ts'

const stackRef = 'stackTrace:jdk.types.StackTrace*'
const classes: ClassSpec[] = [
  { id: 20, name: 'jdk.types.Symbol', fields: ['string:String'] },
  { id: 21, name: 'java.lang.Class', fields: ['name:jdk.types.Symbol*'] },
  { id: 22, name: 'jdk.types.Method', fields: ['type:java.lang.Class*', 'name:jdk.types.Symbol*'] },
  { id: 23, name: 'jdk.types.StackFrame', fields: ['method:jdk.types.Method*', 'lineNumber:int'] },
  { id: 24, name: 'jdk.types.StackTrace', fields: ['truncated:boolean', 'frames:jdk.types.StackFrame[]'] },
  { id: 25, name: 'jdk.types.ThreadState', fields: ['name:String'] },
  { id: 30, name: 'jdk.ActiveSetting', fields: ['startTime:long', 'id:long', 'name:String', 'value:String'] },
  { id: 31, name: 'jdk.ExecutionSample', fields: ['startTime:long', stackRef, 'state:jdk.types.ThreadState*', 'contextId:long'] },
  { id: 32, name: 'profiler.WallClockSample', fields: ['startTime:long', stackRef, 'samples:int'] },
  { id: 33, name: 'jdk.ThreadPark', fields: ['startTime:long', 'duration:long', stackRef] },
  { id: 34, name: 'profiler.LiveObject', fields: ['startTime:long', stackRef] },
  { id: 35, name: 'profiler.Malloc', fields: ['startTime:long', stackRef, 'size:long'] },
  { id: 36, name: 'jdk.ObjectAllocationInNewTLAB', fields: ['startTime:long', stackRef, 'tlabSize:long'] },
]
const BIG1 = 2n ** 63n + 5n
const BIG2 = 2n ** 63n + 6n
const frames = (...methods: number[]) => ({ truncated: 0, frames: methods.map((method) => ({ method, lineNumber: 1 })) })

/** async-profiler in wall mode at 20 ms, with a context id per request, every string encoding. */
function recording(compressed: boolean): ChunkSpec {
  return {
    compressed,
    ticksPerSecond: 2e9,
    classes,
    constants: [
      [
        20,
        [
          [1, { string: 'com/example/App' }],
          [2, { string: 'main' }],
          [3, { string: 'work' }],
          [4, { string: 'sleep' }],
          [5, { string: 'com/example/App$$Lambda$12/0x0000000800c0b000' }],
          [6, { string: 'run' }],
          [7, { string: { enc: 5, s: 'Caf\u00e9' } }],
          [8, { string: { enc: 4, s: 'Gr\u00f6\u00dfe' } }],
          [9, { string: { enc: 3, s: 'na\u00efve\u2713' } }],
          [10, { string: 'jdk/internal/reflect/GeneratedMethodAccessor31' }],
          [11, { string: 'invoke' }],
        ],
      ],
      [
        21,
        [
          [1, { name: 1 }],
          [2, { name: 5 }],
          [3, { name: 7 }],
          [4, { name: 10 }],
        ],
      ],
      [
        22,
        [
          [1, { type: 1, name: 2 }],
          [2, { type: 1, name: 3 }],
          [3, { type: 1, name: 4 }],
          [4, { type: 2, name: 6 }],
          [5, { type: 3, name: 8 }],
          [6, { type: 1, name: 9 }],
          [7, { type: 4, name: 11 }],
        ],
      ],
      [
        24,
        [
          [1, frames(2, 1)],
          [2, frames(3, 4, 1)],
          [BIG1, frames(5, 1)],
          [BIG2, frames(6, 7, 1)],
        ],
      ],
      [
        25,
        [
          [1, { name: 'STATE_RUNNABLE' }],
          [2, { name: 'STATE_SLEEPING' }],
        ],
      ],
    ],
    events: [
      [30, { id: 0, name: 'event', value: 'wall' }],
      [30, { id: 0, name: 'interval', value: '20000000' }],
      [31, { stackTrace: 1, state: 1, contextId: 1 }],
      [31, { stackTrace: 2, state: 2, contextId: 2 }],
      [31, { stackTrace: 1, state: 1, contextId: 0 }],
      [31, { stackTrace: BIG1, state: 1, contextId: 0 }],
      [31, { stackTrace: BIG2, state: 1, contextId: 0 }],
      [32, { stackTrace: 2, samples: 3 }],
      [33, { duration: 4000, stackTrace: 2 }],
      [34, { stackTrace: 1 }],
      [34, { stackTrace: 1 }],
      [35, { stackTrace: 1, size: 64 }],
      [36, { stackTrace: 1, tlabSize: 1024 }],
    ],
  }
}

/** A LabelsSnapshot as the Pyroscope Java agent writes it. */
function labelsSnapshot(contexts: Record<number, [number, number][]>, strings: Record<number, string>): Uint8Array {
  const w = new ProtoWriter()
  for (const [id, pairs] of Object.entries(contexts)) {
    w.message(1, (e) =>
      e.varint(1, Number(id)).message(2, (c) => pairs.forEach(([k, v]) => c.message(1, (l) => l.varint(1, k).varint(2, v)))),
    )
  }
  for (const [id, s] of Object.entries(strings)) w.message(2, (e) => e.varint(1, Number(id)).string(2, s))
  return w.finish()
}
const labels = labelsSnapshot({ 1: [[1, 2]], 2: [[1, 3]] }, { 1: 'request', 2: '/checkout', 3: '/home' })

const byType = (out: JfrProfile[]) =>
  Object.fromEntries(
    out.map((p) => [
      profileTypeId({
        name: p.metric,
        sampleType: p.profile.sampleTypes.at(-1)!.type,
        sampleUnit: p.profile.sampleTypes.at(-1)!.unit,
        periodType: p.profile.periodType.type,
        periodUnit: p.profile.periodType.unit,
      }),
      p.profile,
    ]),
  )

const MAIN = 'com/example/App.main'
test('async-profiler wall mode: sleeping samples are wall time only; wall-clock, park, live, malloc and TLAB events; labels per context', () => {
  const out = byType(decodeJfr(writeJfr(recording(true)), { labels }))
  assert.deepEqual(Object.keys(out), [
    'process_cpu:cpu:nanoseconds:cpu:nanoseconds',
    'wall:wall:nanoseconds:wall:nanoseconds',
    'memory:alloc_in_new_tlab_bytes:bytes:space:bytes',
    'block:delay:nanoseconds:block:count',
    'memory:live:count:objects:count',
    'memory:malloc_bytes:bytes:space:bytes',
  ])
  const cpu = out['process_cpu:cpu:nanoseconds:cpu:nanoseconds']!
  assert.equal(cpu.period, 2e7, "the recording's interval, 20 ms")
  assert.equal(
    toFolded(cpu),
    [
      `${MAIN};Caf\u00e9.Gr\u00f6\u00dfe 20000000`,
      `${MAIN};com/example/App.work 40000000`,
      `${MAIN};jdk/internal/reflect/GeneratedMethodAccessor_.invoke;com/example/App.na\u00efve\u2713 20000000`,
      '',
    ].join('\n'),
  )
  assert.deepEqual(
    cpu.samples.map((s) => s.labels ?? []).filter((l) => l.length),
    [[['request', '/checkout']]],
  )
  const wall = out['wall:wall:nanoseconds:wall:nanoseconds']!
  assert.match(
    toFolded(wall),
    new RegExp(`^${MAIN.replaceAll('/', '\\/')};com\\/example\\/App\\$\\$Lambda\\$_\\.run;com\\/example\\/App\\.sleep 80000000$`, 'm'),
    '1 sleeping sample + 3 wall-clock samples',
  )
  assert.ok(wall.samples.some((s) => s.labels?.[0]?.[1] === '/home'))
  const park = out['block:delay:nanoseconds:block:count']!
  assert.deepEqual(
    park.samples.map((s) => s.values),
    [[1, 2000]],
    '4000 ticks at 2e9 ticks/s = 2000 ns',
  )
  assert.deepEqual(
    out['memory:live:count:objects:count']!.samples.map((s) => s.values),
    [[2]],
  )
  assert.deepEqual(
    out['memory:malloc_bytes:bytes:space:bytes']!.samples.map((s) => s.values),
    [[1, 64]],
  )
  assert.deepEqual(
    out['memory:alloc_in_new_tlab_bytes:bytes:space:bytes']!.samples.map((s) => s.values),
    [[1, 1024]],
  )
})

test('fixed-size integers (compressed-ints feature off) decode to the same profiles', () => {
  const a = decodeJfr(writeJfr(recording(true)), { labels })
  const b = decodeJfr(writeJfr(recording(false)), { labels })
  assert.deepEqual(b, a)
})

function assertBadJfr(spec: ChunkSpec, message: RegExp): void {
  assert.throws(
    () => decodeJfr(writeJfr(spec)),
    (e: unknown) => {
      assert.ok(isKilnError(e) && e.code === 'KILN_BAD_JFR', String(e))
      assert.match(e.message, message)
      return true
    },
  )
}

test('forged metadata: a type that contains itself, arrays of empty structs, unknown field types', () => {
  assertBadJfr(
    { classes: [{ id: 40, name: 'Loop', fields: ['next:Loop'] }], constants: [[40, [[1, 0]]]], events: [] },
    /type Loop nests deeper than 32 levels at byte \d+/,
  )
  const many: Val[] = Array.from({ length: 100_000 }, () => ({}))
  assertBadJfr(
    {
      classes: [
        { id: 42, name: 'Empty' },
        { id: 43, name: 'Holder', fields: ['items:Empty[]'] },
      ],
      constants: [[43, Array.from({ length: 30 }, (_, i): [number, Val] => [i, { items: many }])]],
      events: [],
      padding: 100_000,
    },
    /more than \d+ array elements in a chunk of \d+ bytes/,
  )
  assertBadJfr(
    { classes: [{ id: 44, name: 'Ghost', fields: ['x:#99'] }], constants: [], events: [] },
    /field Ghost\.x has unknown type 99 at byte 68/,
  )
})

test('a recording without samples: no profiles from decodeJfr; decodeAny says so', () => {
  const empty = writeJfr({ classes, constants: [], events: [[30, { id: 0, name: 'event', value: 'cpu' }]] })
  assert.deepEqual(decodeJfr(empty), [])
  assert.throws(() => decodeAny(empty), { code: 'KILN_BAD_JFR', message: /holds no samples/ })
})
