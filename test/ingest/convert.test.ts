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
