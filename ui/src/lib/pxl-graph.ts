/**
 * The service graph of a PxL table with source and destination columns (what Pixie's Live UI
 * draws for px/net_flow_graph and px/service_stats): nodes, edges with request rate, error rate
 * and latency, and a layered layout (callers left of callees) as pure functions.
 */
import { type PxlTable, type PxlColumn, cellNumber, columnUnit } from './pxl-result.ts'

export interface GraphEdge {
  from: string
  to: string
  /** Requests (a count column summed, else the rows); null when the table has no way to tell. */
  requests: number
  /** Requests per second when the table has a rate column; null otherwise. */
  rps: number | null
  /** Errors as a share of requests (0–1), or null. */
  errorRate: number | null
  /** Latency in ns (the p99 column if any, else p50, else an average), or null. */
  latencyNs: number | null
  latencyLabel: string
  /** Bytes both ways (net flow graphs), or null. */
  bytes: number | null
}

export interface GraphNode {
  id: string
  /** Requests received and sent. */
  requestsIn: number
  requestsOut: number
  errorRateIn: number | null
}

export interface ServiceGraph {
  nodes: GraphNode[]
  edges: GraphEdge[]
}

const first = (names: readonly string[], res: RegExp[]) => {
  for (const re of res) {
    const k = names.findIndex((n) => re.test(n))
    if (k >= 0) return k
  }
  return -1
}

/** The metric columns of an edge table, by their names as Pixie's and the seed's scripts spell them. */
export function edgeMetricColumns(columns: readonly PxlColumn[]) {
  const lower = columns.map((c) => c.name.toLowerCase())
  const p99 = first(lower, [/(^|_)p99(_|$)/])
  const p50 = first(lower, [/(^|_)p50(_|$)/])
  const avg = first(lower, [/avg_latency|latency_avg|latency_mean|mean_latency|^latency_ms$|^latency$/])
  const lat = p99 >= 0 ? p99 : p50 >= 0 ? p50 : avg
  return {
    rps: first(lower, [/^(rps|request_throughput|requests_per_s(ec(ond)?)?|request_rate|req_rate|throughput(_total)?)$/]),
    count: first(lower, [/^(request_count|requests|num_requests|req_count|count|conn_count|num_conns)$/]),
    errors: first(lower, [/^(error_count|errors|num_errors|failures)$/]),
    errorRate: first(lower, [/^(error_rate|err_rate|failure_rate)$/]),
    latency: lat,
    latencyLabel: lat < 0 ? '' : lat === p99 ? 'p99' : lat === p50 ? 'p50' : 'avg',
    latencyMs: lat >= 0 && (/(^|_)ms(_|$)/.test(lower[lat]!) || columnUnit(columns[lat]!) === 'ms'),
    bytes: first(lower, [/^bytes_total$|^total_bytes$|^bytes$/]),
    bytesSent: lower.indexOf('bytes_sent'),
    bytesRecv: lower.indexOf('bytes_recv'),
  }
}

/** Nodes and edges from a table's rows; rows of the same pair (e.g. per time bin) are merged, weighting rates by requests. */
export function serviceGraph(t: PxlTable, from: number, to: number): ServiceGraph {
  const m = edgeMetricColumns(t.columns)
  const edges = new Map<string, GraphEdge & { errW: number; latW: number; errSum: number; latSum: number }>()
  for (const r of t.rows) {
    const a = String(r[from] ?? '')
    const b = String(r[to] ?? '')
    const key = JSON.stringify([a, b])
    let e = edges.get(key)
    const hasBytes = m.bytes >= 0 || (m.bytesSent >= 0 && m.bytesRecv >= 0)
    if (!e)
      edges.set(
        key,
        (e = {
          from: a,
          to: b,
          requests: 0,
          rps: m.rps >= 0 ? 0 : null,
          errorRate: null,
          latencyNs: null,
          latencyLabel: m.latencyLabel,
          bytes: hasBytes ? 0 : null,
          errW: 0,
          latW: 0,
          errSum: 0,
          latSum: 0,
        }),
      )
    const num = (k: number) => (k >= 0 ? cellNumber(r[k]) : NaN)
    if (hasBytes) e.bytes! += (m.bytes >= 0 ? num(m.bytes) : num(m.bytesSent) + num(m.bytesRecv)) || 0
    const count = m.count >= 0 ? num(m.count) : 1
    const n = Number.isFinite(count) ? count : 0
    e.requests += n
    if (m.rps >= 0 && Number.isFinite(num(m.rps))) e.rps! += num(m.rps)
    // Error share: a rate column, else errors / requests.
    const rate = m.errorRate >= 0 ? num(m.errorRate) : m.errors >= 0 && n > 0 ? num(m.errors) / n : NaN
    if (Number.isFinite(rate)) (e.errSum += rate * Math.max(n, 1e-9)), (e.errW += Math.max(n, 1e-9))
    const lat = num(m.latency) * (m.latencyMs ? 1e6 : 1)
    if (Number.isFinite(lat)) (e.latSum += lat * Math.max(n, 1e-9)), (e.latW += Math.max(n, 1e-9))
  }
  const out: GraphEdge[] = []
  for (const e of edges.values()) {
    const { errW, latW, errSum, latSum, ...edge } = e
    edge.errorRate = errW ? errSum / errW : null
    edge.latencyNs = latW ? latSum / latW : null
    out.push(edge)
  }
  const nodes = new Map<string, GraphNode & { errW: number; errSum: number }>()
  const node = (id: string) =>
    nodes.get(id) ?? nodes.set(id, { id, requestsIn: 0, requestsOut: 0, errorRateIn: null, errW: 0, errSum: 0 }).get(id)!
  for (const e of out) {
    node(e.from).requestsOut += e.requests
    const b = node(e.to)
    b.requestsIn += e.requests
    if (e.errorRate !== null) (b.errSum += e.errorRate * e.requests), (b.errW += e.requests)
  }
  return {
    nodes: [...nodes.values()].map(({ errW, errSum, ...n }) => ({ ...n, errorRateIn: errW ? errSum / errW : null })),
    edges: out,
  }
}

export interface LaidNode {
  id: string
  rank: number
  order: number
  x: number
  y: number
}

export interface GraphLayout {
  nodes: Map<string, LaidNode>
  width: number
  height: number
  ranks: string[][]
}

export interface LayoutOptions {
  nodeW: number
  nodeH: number
  gapX: number
  gapY: number
  pad: number
}

export const defaultLayout: LayoutOptions = { nodeW: 150, nodeH: 40, gapX: 110, gapY: 28, pad: 16 }

/** Boxes wide enough for the longest name (7.2 px a monospace character at 12 px, 26 at most) and gaps that hold two lines of edge label. */
export function layoutFor(ids: readonly string[]): LayoutOptions {
  const longest = Math.min(26, Math.max(0, ...ids.map((id) => id.length)))
  return { nodeW: Math.max(120, Math.ceil(24 + longest * 7.2)), nodeH: 40, gapX: 170, gapY: 34, pad: 16 }
}

/**
 * A layered layout: back edges of cycles are turned around (depth-first from the nodes with no
 * callers), each node's rank is its longest path from a root, and each rank is ordered by the
 * mean position of its neighbours in the rank before and after (4 sweeps each way), which keeps
 * crossings few for graphs of tens of services. Deterministic: ties keep the input order.
 */
export function layeredLayout(
  ids: readonly string[],
  edges: readonly { from: string; to: string }[],
  o: LayoutOptions = defaultLayout,
): GraphLayout {
  const index = new Map(ids.map((id, k) => [id, k]))
  const out: number[][] = ids.map(() => [])
  for (const e of edges) {
    const a = index.get(e.from)
    const b = index.get(e.to)
    if (a !== undefined && b !== undefined && a !== b && !out[a]!.includes(b)) out[a]!.push(b)
  }
  // Depth-first from roots (no incoming edge) then the rest; an edge to a node on the stack closes a cycle and is reversed.
  const indeg = ids.map(() => 0)
  for (const list of out) for (const b of list) indeg[b]!++
  const state = ids.map(() => 0) // 0 new, 1 on stack, 2 done
  const dag: number[][] = ids.map(() => [])
  const visit = (start: number) => {
    const stack: [number, number][] = [[start, 0]]
    state[start] = 1
    while (stack.length) {
      const top = stack[stack.length - 1]!
      const [v, k] = top
      if (k >= out[v]!.length) {
        state[v] = 2
        stack.pop()
        continue
      }
      top[1]++
      const w = out[v]![k]!
      if (state[w] === 1) dag[w]!.push(v)
      else {
        dag[v]!.push(w)
        if (state[w] === 0) {
          state[w] = 1
          stack.push([w, 0])
        }
      }
    }
  }
  for (let v = 0; v < ids.length; v++) if (indeg[v] === 0 && state[v] === 0) visit(v)
  for (let v = 0; v < ids.length; v++) if (state[v] === 0) visit(v)
  // Longest path from a root, in topological order (Kahn's, by index for ties).
  const din = ids.map(() => 0)
  for (const list of dag) for (const b of list) din[b]!++
  const rank = ids.map(() => 0)
  const queue = ids.map((_, k) => k).filter((k) => din[k] === 0)
  for (let q = 0; q < queue.length; q++) {
    const v = queue[q]!
    for (const w of dag[v]!) {
      rank[w] = Math.max(rank[w]!, rank[v]! + 1)
      if (--din[w]! === 0) queue.push(w)
    }
  }
  const ranks: number[][] = []
  for (let v = 0; v < ids.length; v++) (ranks[rank[v]!] ??= []).push(v)
  const preds: number[][] = ids.map(() => [])
  for (const [v, list] of dag.entries()) for (const w of list) preds[w]!.push(v)
  const pos = ids.map(() => 0)
  const place = () => ranks.forEach((layer) => layer.forEach((v, k) => (pos[v] = k)))
  place()
  const sweep = (layer: number[], nbrs: number[][]) => {
    const key = layer.map((v) => {
      const n = nbrs[v]!
      return n.length ? n.reduce((s, w) => s + pos[w]!, 0) / n.length : pos[v]!
    })
    const sorted = layer.map((v, k) => ({ v, k, b: key[k]! })).sort((a, b) => a.b - b.b || a.k - b.k)
    layer.splice(0, layer.length, ...sorted.map((s) => s.v))
    layer.forEach((v, k) => (pos[v] = k))
  }
  for (let it = 0; it < 4; it++) {
    for (let r = 1; r < ranks.length; r++) sweep(ranks[r]!, preds)
    for (let r = ranks.length - 2; r >= 0; r--) sweep(ranks[r]!, dag)
  }
  const tallest = Math.max(0, ...ranks.map((l) => l.length))
  const nodes = new Map<string, LaidNode>()
  for (const [r, layer] of ranks.entries()) {
    const shift = ((tallest - layer.length) * (o.nodeH + o.gapY)) / 2
    for (const [k, v] of layer.entries())
      nodes.set(ids[v]!, { id: ids[v]!, rank: r, order: k, x: o.pad + r * (o.nodeW + o.gapX), y: o.pad + shift + k * (o.nodeH + o.gapY) })
  }
  return {
    nodes,
    width: o.pad * 2 + ranks.length * o.nodeW + Math.max(0, ranks.length - 1) * o.gapX,
    height: o.pad * 2 + tallest * o.nodeH + Math.max(0, tallest - 1) * o.gapY,
    ranks: ranks.map((l) => l.map((v) => ids[v]!)),
  }
}

/**
 * An edge's SVG path between two laid-out boxes: a curve from the caller's right side to the
 * callee's left side, or, when the callee is not to the right (a cycle, a call within a rank),
 * a loop under the boxes so it never runs through them.
 */
export function edgePath(a: LaidNode, b: LaidNode, o: LayoutOptions = defaultLayout): { d: string; mid: [number, number] } {
  const f = (n: number) => Number(n.toFixed(1))
  if (b.rank > a.rank) {
    const [x1, y1, x2, y2] = [a.x + o.nodeW, a.y + o.nodeH / 2, b.x, b.y + o.nodeH / 2]
    const dx = (x2 - x1) / 2
    // The label sits 60% along the curve, where the edges fanning out of one caller are already apart.
    const t = 0.6
    const bez = (p0: number, p1: number, p2: number, p3: number) =>
      (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t ** 2 * p2 + t ** 3 * p3
    return {
      d: `M${f(x1)},${f(y1)} C${f(x1 + dx)},${f(y1)} ${f(x2 - dx)},${f(y2)} ${f(x2)},${f(y2)}`,
      mid: [f(bez(x1, x1 + dx, x2 - dx, x2)), f(bez(y1, y1, y2, y2))],
    }
  }
  const [x1, y1, x2, y2] = [a.x + o.nodeW / 2, a.y + o.nodeH, b.x + o.nodeW / 2 + (a === b ? 20 : 0), b.y + o.nodeH]
  const low = Math.max(y1, y2) + o.gapY * 0.9
  return {
    d: `M${f(x1)},${f(y1)} C${f(x1)},${f(low)} ${f(x2)},${f(low)} ${f(x2)},${f(y2)}`,
    mid: [f((x1 + x2) / 2), f(low - o.gapY * 0.2)],
  }
}

/** An edge's colour by error rate: green under 1%, amber to 5%, red above; grey when unknown. */
export function errorColor(rate: number | null): string {
  if (rate === null) return 'var(--muted)'
  if (rate < 0.01) return '#59a14f'
  if (rate < 0.05) return '#f28e2b'
  return '#e15759'
}

/** An edge's stroke width by its share of the busiest edge's requests: 1.5 to 6 px. */
export function edgeWidth(requests: number, max: number): number {
  return max > 0 ? Number((1.5 + 4.5 * Math.sqrt(Math.max(0, requests) / max)).toFixed(2)) : 1.5
}
