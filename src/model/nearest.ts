/** The names closest to a misspelt one (Levenshtein distance), for "did you mean …?" in errors. */
export function nearest(name: string, names: readonly string[], max = 2): string[] {
  const limit = Math.max(2, Math.floor(name.length / 3))
  return names
    .map((n) => [n, distance(name.toLowerCase(), n.toLowerCase())] as const)
    .filter(([, d]) => d <= limit)
    .sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))
    .slice(0, max)
    .map(([n]) => n)
}

/** Edit distance between two strings (insertions, deletions, substitutions). */
export function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = cur
  }
  return prev[b.length]!
}
