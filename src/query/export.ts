import { ProfileBuilder, parseProfileTypeId, type Profile } from '../model/profile.ts'
import type { StoredFrame } from '../store/reader.ts'

/** A builder of a Profile of the type's one sample type, with no limits: the stacks are the store's, checked at ingest. */
function oneTypeBuilder(profileTypeId: string, timeMs: number, durationNanos: number, period = 0): ProfileBuilder {
  const t = parseProfileTypeId(profileTypeId)
  return new ProfileBuilder(
    {
      sampleTypes: [{ type: t.sampleType, unit: t.sampleUnit }],
      periodType: { type: t.periodType, unit: t.periodUnit },
      period,
      timeMs,
      durationNanos,
    },
    { maxStackDepth: Number.MAX_SAFE_INTEGER, maxSamples: Number.MAX_SAFE_INTEGER, maxFunctionNameLength: Number.MAX_SAFE_INTEGER },
  )
}

/**
 * Merged stacks of stored frames as a Profile of one sample type that keeps each frame's file,
 * line and binary — SelectMergeProfile's pprof and /api/v1/export's downloads alike — through
 * `callSite` (root-first names) when given.
 */
export function framesToProfile(
  merged: { stacks: [string[], number][]; frames: Map<string, StoredFrame>; period?: number },
  profileTypeId: string,
  opts: { timeMs: number; durationNanos: number; callSite?: string[] },
): Profile {
  const b = oneTypeBuilder(profileTypeId, opts.timeMs, opts.durationNanos, merged.period)
  const ids = new Map<string, number>()
  const idOf = (fid: string): number => {
    let id = ids.get(fid)
    if (id === undefined) {
      const f = merged.frames.get(fid)
      const src = f && (f.file || f.line || f.mapping) ? { file: f.file, line: f.line, mapping: f.mapping, buildId: f.buildId } : undefined
      ids.set(fid, (id = b.frame(f?.name ?? '[unknown]', src)))
    }
    return id
  }
  const site = opts.callSite ?? []
  for (const [fns, v] of merged.stacks) {
    if (v <= 0) continue
    const stack = fns.map(idOf)
    if (site.length && !(stack.length >= site.length && site.every((n, i) => b.functions[stack[i]!] === n))) continue
    b.add(stack, [v])
  }
  return b.build()
}
