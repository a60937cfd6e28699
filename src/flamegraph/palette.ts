/**
 * flamegraph.pl's palettes: a colour per frame from its name, within each palette's hue range.
 * The hue within the range comes from the name (deterministic) — by default a scrambled hash so
 * neighbours differ, with `hash` one weighted to the name's start so similar names look alike.
 */
export const PALETTES = [
  'hot',
  'mem',
  'io',
  'wakeup',
  'chain',
  'java',
  'js',
  'perl',
  'red',
  'green',
  'blue',
  'aqua',
  'yellow',
  'purple',
  'orange',
] as const
export type Palette = (typeof PALETTES)[number]

export type Rgb = [number, number, number]

/** Three numbers in [0, 1) from a name: scrambled (default) or weighted to the first characters. */
function variation(name: string, weighted: boolean): [number, number, number] {
  if (weighted) {
    // The first characters weigh most, so "foo_a" and "foo_b" get near colours.
    let v1 = 0
    let v2 = 0
    let max = 1
    let weight = 1
    const mod = 10
    const s = name.replace(/^[^`]*`/, '').replace(/\(.*$/, '')
    for (let i = 0; i < s.length && i < 8; i++) {
      const c = s.charCodeAt(i) % mod
      v1 += (c / (mod - 1)) * weight
      v2 += ((mod - 1 - c) / (mod - 1)) * weight
      max += weight
      weight *= 0.7
    }
    return [v1 / max, v2 / max, v2 / max]
  }
  // FNV-1a of the name, then three rounds of an integer mix for three draws.
  let h = 0x811c9dc5
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193)
  const out: [number, number, number] = [0, 0, 0]
  for (let k = 0; k < 3; k++) {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d)
    h = Math.imul(h ^ (h >>> 12), 0x297a2d39)
    h ^= h >>> 15
    out[k] = (h >>> 0) / 4294967296
  }
  return out
}

type Hue = Exclude<Palette, 'mem' | 'io' | 'wakeup' | 'chain' | 'java' | 'js' | 'perl'>

/** Which plain hue a name gets in the language-aware palettes. */
function hueOf(palette: Palette, name: string): Hue {
  switch (palette) {
    case 'java':
      if (name.endsWith('_[j]')) return 'green'
      if (name.endsWith('_[i]')) return 'aqua'
      if (name.endsWith('_[k]')) return 'orange'
      if (name.includes('::')) return 'yellow'
      if (name.includes('/') || (name.includes('.') && !name.startsWith('['))) return 'green'
      return 'red'
    case 'js':
      if (name.endsWith('_[j]')) return name.includes('/') ? 'green' : 'aqua'
      if (name.endsWith('_[k]')) return 'orange'
      if (name.includes('::')) return 'yellow'
      if (/\/.*\.js/.test(name)) return 'green'
      if (name.includes(':')) return 'aqua'
      return 'red'
    case 'perl':
      if (name.includes('::')) return 'yellow'
      if (name.includes('Perl') || name.includes('.pl')) return 'green'
      if (name.endsWith('_[k]')) return 'orange'
      return 'red'
    case 'chain':
      return name.endsWith('_[w]') ? 'aqua' : 'blue'
    case 'io':
    case 'wakeup':
      return 'blue'
    case 'mem':
      return 'green'
    default:
      return palette
  }
}

const clamp = (v: number) => Math.max(0, Math.min(255, Math.trunc(v)))

/** The colour of a frame named `name` in `palette`. */
export function frameColor(palette: Palette, name: string, hash = false): Rgb {
  if (name === '-') return [160, 160, 160] // a separator frame
  const [v1, v2, v3] = variation(name, hash)
  if (palette === 'hot') return [clamp(205 + 50 * v3), clamp(230 * v1), clamp(55 * v2)]
  if (palette === 'mem') return [0, clamp(190 + 50 * v2), clamp(210 * v1)]
  if (palette === 'io') return [clamp(80 + 60 * v1), clamp(80 + 60 * v1), clamp(190 + 55 * v2)]
  switch (hueOf(palette, name)) {
    case 'red':
      return [clamp(200 + 55 * v1), clamp(50 + 80 * v1), clamp(50 + 80 * v1)]
    case 'green':
      return [clamp(50 + 60 * v1), clamp(200 + 55 * v1), clamp(50 + 60 * v1)]
    case 'blue':
      return [clamp(80 + 60 * v1), clamp(80 + 60 * v1), clamp(205 + 50 * v1)]
    case 'yellow':
      return [clamp(175 + 55 * v1), clamp(175 + 55 * v1), clamp(50 + 20 * v1)]
    case 'purple':
      return [clamp(190 + 65 * v1), clamp(80 + 60 * v1), clamp(190 + 65 * v1)]
    case 'aqua':
      return [clamp(50 + 60 * v1), clamp(165 + 55 * v1), clamp(165 + 55 * v1)]
    case 'orange':
      return [clamp(190 + 65 * v1), clamp(90 + 65 * v1), 0]
    default:
      return [clamp(205 + 50 * v3), clamp(230 * v1), clamp(55 * v2)]
  }
}

/** A differential frame's colour: red where it grew, blue where it shrank, white when equal. */
export function diffColor(delta: number, maxDelta: number, negate: boolean): Rgb {
  const d = negate ? -delta : delta
  if (d === 0 || maxDelta === 0) return [250, 250, 250]
  const c = clamp((210 * (maxDelta - Math.abs(d))) / maxDelta)
  return d > 0 ? [255, c, c] : [c, c, 255]
}

/** The background gradient (top, bottom) that goes with a palette, or a flat #rrggbb. */
export function background(palette: Palette, bgcolors?: string): [string, string] {
  const which =
    bgcolors ??
    (palette === 'mem'
      ? 'green'
      : ['io', 'wakeup', 'chain'].includes(palette)
        ? 'blue'
        : ['red', 'green', 'blue', 'aqua', 'yellow', 'purple', 'orange'].includes(palette)
          ? 'grey'
          : 'yellow')
  switch (which) {
    case 'yellow':
      return ['#eeeeee', '#eeeeb0']
    case 'blue':
      return ['#eeeeee', '#e0e0ff']
    case 'green':
      return ['#eef2ee', '#e0ffe0']
    case 'grey':
      return ['#f8f8f8', '#e8e8e8']
    default:
      return [which, which]
  }
}

/** Parses a `--cp` palette map (`name->rgb(r,g,b)` lines). */
export function parsePaletteMap(text: string): Map<string, Rgb> {
  const map = new Map<string, Rgb>()
  for (const line of text.split('\n')) {
    const m = /^(.*)->rgb\((\d+),(\d+),(\d+)\)\s*$/.exec(line)
    if (m) map.set(m[1]!, [Number(m[2]), Number(m[3]), Number(m[4])])
  }
  return map
}

/** Writes a palette map back, sorted by name. */
export function formatPaletteMap(map: Map<string, Rgb>): string {
  return [...map.keys()]
    .sort()
    .map((k) => `${k}->rgb(${map.get(k)!.join(',')})\n`)
    .join('')
}
