/** Load-test runs' per-second histograms: quantiles within 2% of k6's exact method, and merging. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Sink } from '../../src/loadtest/results/metrics.ts'
import { ZERO_BUCKET, histAdd, histBucket, histMerge, histQuantile, histValue } from '../../src/model/run.ts'

test('a bucket holds its value within 1%, in order, with zero and negatives in one bucket', () => {
  let last = -Infinity
  for (const v of [1e-6, 0.003, 0.5, 1, 1.5, 42, 999.9, 1e6, 3e9]) {
    const b = histBucket(v)
    assert.ok(b > last, `buckets grow with values (${v})`)
    last = b
    assert.ok(Math.abs(histValue(b) - v) / v <= 0.01, `${v} reads back as ${histValue(b)}`)
  }
  assert.deepEqual([histBucket(0), histBucket(-3), histValue(ZERO_BUCKET)], [ZERO_BUCKET, ZERO_BUCKET, 0])
})

test('quantiles of a histogram are within 2% of the exact ones (k6: interpolation at q·(n−1)), also after merging', () => {
  let seed = 7
  const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647
  for (const n of [1, 2, 10, 1000, 20000]) {
    const exact = new Sink('trend')
    const parts = [{}, {}, {}] as Record<string, number>[]
    for (let i = 0; i < n; i++) {
      // Request durations: mostly around 2 ms with a long tail.
      const v = rnd() < 0.95 ? 1 + rnd() * 2 : 10 + rnd() * 500
      exact.add(v)
      histAdd(parts[i % 3]!, v)
    }
    const merged: Record<string, number> = {}
    for (const p of parts) histMerge(merged, p)
    for (const q of [0, 0.5, 0.9, 0.95, 0.99, 1]) {
      const want = exact.percentile(q)
      const got = histQuantile(merged, q, exact.min, exact.max)
      assert.ok(Math.abs(got - want) <= want * 0.02, `n=${n} q=${q}: ${got} vs exact ${want}`)
    }
  }
  assert.ok(Number.isNaN(histQuantile({}, 0.5)))
})
