/**
 * A pprof shaped as Pyroscope's .NET agent wrote them before its function-id fix (pyroscope-dotnet
 * #40, 2023): every Function has id 0, one Function per Location in the Locations' order, each
 * Location's line naming the function by the Location's own id; sample types with dashes
 * (`alloc-samples`) and a period type with no name. Built field by field here (Pyroscope's .NET
 * fixtures are AGPL test data): the shape is the fact that matters.
 */
import { ProtoWriter } from '../../src/formats/proto.ts'

/** The sample types, in the agent's order, and the stacks of the profile (root first) with their values. */
export const DOTNET_TYPES: [string, string][] = [
  ['cpu', 'nanoseconds'],
  ['exception', 'count'],
  ['alloc-samples', 'count'],
  ['alloc-size', 'bytes'],
  ['lock-count', 'count'],
  ['lock-time', 'nanoseconds'],
]
export const DOTNET_STACKS: [string[], number[]][] = [
  [
    ['System.Threading.ThreadPoolWorkQueue.Dispatch', 'Shop.Checkout.Run', 'Shop.Checkout.Hash'],
    [30_000_000, 0, 0, 0, 0, 0],
  ],
  [
    ['System.Threading.ThreadPoolWorkQueue.Dispatch', 'Shop.Checkout.Run'],
    [10_000_000, 1, 4, 4096, 0, 0],
  ],
  [
    ['System.Threading.ThreadPoolWorkQueue.Dispatch', 'Shop.Cart.Lock'],
    [0, 0, 0, 0, 2, 5_000_000],
  ],
]

/** The profile's bytes (not gzipped); `functionIds` overrides the all-zero ids (a profile that is not broken). */
export function dotnetPprof(opts: { functionIds?: number[]; dropLastFunction?: boolean } = {}): Uint8Array {
  const strings = new Map<string, number>([['', 0]])
  const s = (v: string): number => {
    let i = strings.get(v)
    if (i === undefined) strings.set(v, (i = strings.size))
    return i
  }
  const names = [...new Set(DOTNET_STACKS.flatMap(([stack]) => stack))]
  // Location ids start at 1 and follow the names' order; the function table mirrors them.
  const locOf = (name: string) => names.indexOf(name) + 1
  const w = new ProtoWriter()
  for (const [type, unit] of DOTNET_TYPES) w.message(1, (m) => m.varint(1, s(type)).varint(2, s(unit)))
  for (const [stack, values] of DOTNET_STACKS) {
    const leafFirst = [...stack].reverse().map(locOf)
    w.message(2, (m) => m.packedVarints(1, leafFirst).packedVarints(2, values))
  }
  names.forEach((_, i) => w.message(4, (m) => m.varint(1, i + 1).message(4, (l) => l.varint(1, i + 1))))
  const fns = opts.dropLastFunction ? names.slice(0, -1) : names
  fns.forEach((name, i) => w.message(5, (m) => m.varint(1, opts.functionIds?.[i] ?? 0).varint(2, s(name))))
  w.message(11, (m) => m.varint(1, s('')).varint(2, s('nanoseconds')))
  w.varint(12, 10_000_000)
  for (const str of strings.keys()) w.string(6, str, true)
  return w.finish()
}
