import { ProfileBuilder, parseProfileTypeId, type Profile } from '../model/profile.ts'
import type { CallTree } from '../model/tree.ts'

/** A merged tree as a Profile of one sample type (for pprof, folded and speedscope export). */
export function treeToProfile(tree: CallTree, profileTypeId: string, timeMs = 0, durationNanos = 0): Profile {
  const t = parseProfileTypeId(profileTypeId)
  const b = new ProfileBuilder(
    {
      sampleTypes: [{ type: t.sampleType, unit: t.sampleUnit }],
      periodType: { type: t.periodType, unit: t.periodUnit },
      period: 0,
      timeMs,
      durationNanos,
    },
    { maxStackDepth: Number.MAX_SAFE_INTEGER, maxSamples: Number.MAX_SAFE_INTEGER, maxFunctionNameLength: Number.MAX_SAFE_INTEGER },
  )
  const ids = tree.names.map((n) => b.fn(n))
  for (let n = 1; n < tree.size; n++) {
    const self = tree.self[n]!
    if (self <= 0) continue
    const stack: number[] = []
    for (let x = n; x > 0; x = tree.parent[x]!) stack.push(ids[tree.name[x]!]!)
    b.add(stack.reverse(), [self])
  }
  return b.build()
}
