/**
 * The hostile uploads of issue 12 §3, shared by isolation.test.ts and bench/ingest.bench.ts
 * (BENCH_HOSTILE): folded stacks, 250,000 distinct ones per upload (~15.6 MB), each upload's
 * own (`u` in every stack), so no upload's ids are another's and each costs the server its whole
 * cache check and insert.
 */
export const HOSTILE_STACKS = 250_000

export function hostileUploads(count: number) {
  return Array.from({ length: count }, (_, u) =>
    Buffer.from(
      Array.from(
        { length: HOSTILE_STACKS },
        (_, i) => `main;http.handler${i % 5000};service.work_${u}_${i};leaf_function_${i % 97} ${1 + (i % 7)}`,
      ).join('\n'),
    ),
  )
}
