/**
 * The package or module a function belongs to, so that one package keeps one colour:
 * `github.com/a/b.(*T).M` → `github.com/a/b`, `com.x.Y.run` → `com.x.Y`, `std::vec::push` →
 * `std::vec`, `app/handlers.py:get` → `app/handlers.py`, `main.work` → `main`, `malloc` → `malloc`.
 */
export function packageOf(name: string): string {
  const slash = name.lastIndexOf('/')
  if (slash >= 0) {
    const rest = name.slice(slash + 1)
    const cut = rest.search(/[.:]/)
    return cut >= 0 ? name.slice(0, slash + 1 + cut) : name
  }
  const colons = name.lastIndexOf('::')
  if (colons > 0) return name.slice(0, colons)
  const dot = name.lastIndexOf('.')
  if (dot > 0) return name.slice(0, dot)
  const colon = name.indexOf(':')
  if (colon > 0) return name.slice(0, colon)
  return name
}

/** FNV-1a, 32-bit: a stable hash, so that a function's colour survives reloads and machines. */
function fnv(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

export type Theme = 'light' | 'dark'

const memo: Record<Theme, Map<string, string>> = { light: new Map(), dark: new Map() }

/** The fill of a frame coloured by package: same package, same colour. */
export function frameColor(name: string, theme: Theme): string {
  let c = memo[theme].get(name)
  if (c === undefined) {
    // Bounded: a 100,000-function profile must not keep every name alive forever.
    if (memo[theme].size > 200_000) memo[theme].clear()
    memo[theme].set(name, (c = packageColor(packageOf(name), theme)))
  }
  return c
}

function packageColor(pkg: string, theme: Theme): string {
  const h = fnv(pkg)
  // Warm-to-cool hues over the whole wheel, with lightness varied a little per package so that
  // neighbouring packages with close hues still differ.
  const hue = h % 360
  const light = theme === 'light' ? 68 + ((h >>> 9) % 10) : 38 + ((h >>> 9) % 10)
  const sat = theme === 'light' ? 62 : 45
  return `hsl(${hue}, ${sat}%, ${light}%)`
}

/**
 * Change in share of total between a baseline (left) and a comparison (right): +0.5 means the
 * function takes 50% more of its profile than before; +Infinity new, -1 gone, 0 same (or absent).
 */
export function shareChange(lValue: number, rValue: number, leftTotal: number, rightTotal: number): number {
  const l = leftTotal > 0 ? lValue / leftTotal : 0
  const r = rightTotal > 0 ? rValue / rightTotal : 0
  if (l === 0) return r === 0 ? 0 : Infinity
  return r / l - 1
}

type Rgb = [number, number, number]
const neutral: Record<Theme, Rgb> = { light: [205, 205, 210], dark: [88, 88, 96] }
const more: Rgb = [225, 45, 45]
const less: Rgb = [40, 175, 70]

/**
 * The fill for a change in share: grey when unchanged, towards red for more and green for less;
 * full colour at ±100%. The square root makes a 25% change already half-coloured, as small
 * regressions are the ones worth seeing.
 */
export function diffColor(change: number, theme: Theme): string {
  const t = Math.sqrt(Math.min(1, Math.abs(change)))
  const to = change > 0 ? more : less
  const from = neutral[theme]
  const c = from.map((v, k) => Math.round(v + (to[k]! - v) * t))
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`
}

/** Parses `rgb(r, g, b)` (what diffColor returns) — for tests and the SVG export. */
export function rgbOf(css: string): Rgb {
  const m = /rgb\((\d+), (\d+), (\d+)\)/.exec(css)
  if (!m) throw new Error(`not an rgb() colour: ${css}`)
  return [Number(m[1]), Number(m[2]), Number(m[3])]
}
