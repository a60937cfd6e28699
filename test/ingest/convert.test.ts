import { test } from 'node:test'
import assert from 'node:assert/strict'
import { pprofWrites } from '../../src/ingest/convert.ts'
import type { Profile } from '../../src/model/profile.ts'

test('pprof sample labels split each sample type into series; span ids ride with their samples, not in series labels', () => {
  const p: Profile = {
    sampleTypes: [
      { type: 'samples', unit: 'count' },
      { type: 'cpu', unit: 'nanoseconds' },
    ],
    periodType: { type: 'cpu', unit: 'nanoseconds' },
    period: 10_000_000,
    timeMs: Date.UTC(2026, 0, 1),
    durationNanos: 1e10,
    functions: ['', 'main', 'work'],
    samples: [
      { stack: [1], values: [1, 10] },
      { stack: [1, 2], values: [2, 20], labels: [['span_id', '00000000000000ff']] },
      {
        stack: [1, 2],
        values: [0, 30],
        labels: [
          ['route', '/a'],
          ['span_id', 'not-hex'],
        ],
      },
      {
        stack: [2],
        values: [4, 40],
        labels: [
          ['route', '/a'],
          ['trace_id', 'abc'],
          ['span_id', '0000000000000010'],
        ],
      },
      { stack: [2], values: [8, 0], labels: [['route', '/b']] },
    ],
  }
  const writes = pprofWrites(p, { app: 'app', labels: [['env', 'prod']], fromMs: 0, untilMs: 0, sampleRate: 100 })
  const seen = writes.map((w) => ({
    type: w.profileType.split(':')[1],
    route: w.labels.find(([k]) => k === 'route')?.[1] ?? '',
    stacks: w.stacks.map((s) => s.join('>')),
    values: w.values,
    spans: w.spans,
    private: w.labels.filter(([k]) => k === 'span_id' || k === 'trace_id').length,
  }))
  assert.deepEqual(seen, [
    { type: 'samples', route: '', stacks: ['1', '1>2'], values: [1, 2], spans: ['', '255'], private: 0 },
    { type: 'samples', route: '/a', stacks: ['2'], values: [4], spans: ['16'], private: 0 },
    { type: 'samples', route: '/b', stacks: ['2'], values: [8], spans: undefined, private: 0 },
    { type: 'cpu', route: '', stacks: ['1', '1>2'], values: [10, 20], spans: ['', '255'], private: 0 },
    // A malformed span id is dropped, its sample kept.
    { type: 'cpu', route: '/a', stacks: ['1>2', '2'], values: [30, 40], spans: ['', '16'], private: 0 },
  ])
})

test('series labels made once are given again only for the same app, spy, labels, limits, type and sample labels', () => {
  const p: Profile = {
    sampleTypes: [
      { type: 'alloc_objects', unit: 'count' },
      { type: 'alloc_space', unit: 'bytes' },
    ],
    periodType: { type: 'space', unit: 'bytes' },
    period: 524288,
    timeMs: Date.UTC(2026, 0, 1),
    durationNanos: 1e10,
    functions: ['', 'main'],
    samples: [
      { stack: [1], values: [1, 10] },
      { stack: [1], values: [2, 20], labels: [['route', '/a']] },
    ],
  }
  const meta = (
    labels: [string, string][],
    spyName = 'gospy',
    labelLimits?: { maxLabels: number; maxNameLength: number; maxValueLength: number },
  ) => ({
    app: 'shop',
    labels,
    fromMs: 0,
    untilMs: 1,
    sampleRate: 100,
    spyName,
    ...(labelLimits ? { labelLimits } : {}),
  })
  const text = (ws: ReturnType<typeof pprofWrites>) => ws.map((w) => JSON.stringify(w.labels))
  const a = pprofWrites(p, meta([['env', 'prod']]))
  // Both memory types, with and without the route: the same two label sets, made once.
  assert.equal(a.length, 4)
  assert.equal(a[0]!.labels, a[2]!.labels)
  assert.equal(a[1]!.labels, a[3]!.labels)
  assert.match(text(a)[1]!, /"route","\/a"/)
  // Another upload with the same metadata gets the same objects; any difference gets its own.
  assert.equal(pprofWrites(p, meta([['env', 'prod']]))[0]!.labels, a[0]!.labels)
  assert.match(text(pprofWrites(p, meta([['env', 'dev']])))[0]!, /"env","dev"/)
  assert.match(text(pprofWrites(p, meta([['env', 'prod']], 'pyspy')))[0]!, /"pyroscope_spy","pyspy"/)
  // Limits that refuse what the cache holds still refuse it.
  assert.throws(
    () => pprofWrites(p, meta([['env', 'prod']], 'gospy', { maxLabels: 2, maxNameLength: 100, maxValueLength: 100 })),
    /more than 2 labels/,
  )
})
