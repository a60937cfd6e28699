/** Reads the frames out of a Kiln SVG flame graph, for tests. */
export interface SvgFrame {
  depth: number
  name: string
  title: string
  x: number
  y: number
  w: number
  h: number
  fill: string
  text: string
}

const unesc = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')

export function framesOf(svg: string): SvgFrame[] {
  const out: SvgFrame[] = []
  const re =
    /<g data-d="(\d+)" data-name="([^"]*)"><title>([^<]*)<\/title><rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"[^>]* fill="([^"]+)"[^>]*\/><text[^>]*>([^<]*)<\/text><\/g>/g
  for (const m of svg.matchAll(re)) {
    out.push({
      depth: +m[1]!,
      name: unesc(m[2]!),
      title: unesc(m[3]!),
      x: +m[4]!,
      y: +m[5]!,
      w: +m[6]!,
      h: +m[7]!,
      fill: m[8]!,
      text: unesc(m[9]!),
    })
  }
  return out
}

export const frameNamed = (frames: SvgFrame[], name: string): SvgFrame => {
  const f = frames.find((x) => x.name === name)
  if (!f) throw new Error(`no frame ${name} in ${frames.map((x) => x.name).join(',')}`)
  return f
}

export const rgb = (fill: string): [number, number, number] => {
  const m = /^rgb\((\d+),(\d+),(\d+)\)$/.exec(fill)
  if (!m) throw new Error(`not rgb(): ${fill}`)
  return [+m[1]!, +m[2]!, +m[3]!]
}
