/** Profile types as people choose them: grouped by profile name, CPU or wall time first. */

interface TypeLike {
  id: string
}

/** How much a type is what people open a service for: CPU, then wall time, then memory, then the rest. */
function interest(id: string): number {
  const [name = '', sampleType = ''] = id.split(':')
  if (/cpu/.test(name) || sampleType === 'cpu') return 0
  if (/wall/.test(name) || sampleType === 'wall') return 1
  if (/memory|alloc|heap|inuse/.test(`${name}:${sampleType}`)) return 2
  return 3
}

/** The type a service opens on when the URL names none it has: CPU, else wall, else memory, else the first. */
export function defaultType<T extends TypeLike>(types: readonly T[]): T | undefined {
  let best: T | undefined
  for (const t of types) if (!best || interest(t.id) < interest(best.id)) best = t
  return best
}

/** The types grouped by profile name (`process_cpu`, `memory`, …) in that order of interest; each option labelled by sample type and unit. */
export function typeGroups<T extends TypeLike>(types: readonly T[]): { name: string; options: { type: T; label: string }[] }[] {
  const groups = new Map<string, { type: T; label: string }[]>()
  for (const t of [...types].sort((a, b) => interest(a.id) - interest(b.id))) {
    const [name = t.id, sampleType, sampleUnit] = t.id.split(':')
    const label = sampleType ? `${sampleType}${sampleUnit ? ` (${sampleUnit})` : ''}` : t.id
    let g = groups.get(name)
    if (!g) groups.set(name, (g = []))
    g.push({ type: t, label })
  }
  return [...groups].map(([name, options]) => ({ name, options }))
}
