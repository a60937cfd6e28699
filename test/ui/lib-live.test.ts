/** The Live view's pure logic: PxL tokens, completion, arguments, widgets, tables, the service graph's layout and the URL. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { tokenize, lineColumn, offsetOf, type TokenKind } from '../../ui/src/lib/pxl-tokens.ts'
import { pxlCompletions, applyPxlCompletion, tablesRead, columnsMade, pxlSchema } from '../../ui/src/lib/pxl-complete.ts'
import { pxlDefs, runPlan, errorLocation, displaysAtTopLevel, readVis } from '../../ui/src/lib/pxl-args.ts'
import {
  chooseWidgets,
  formatCell,
  sortTable,
  chartsOf,
  edgeColumns,
  columnUnit,
  cellTimeMs,
  type PxlTable,
} from '../../ui/src/lib/pxl-result.ts'
import { serviceGraph, layeredLayout, edgePath, errorColor, edgeWidth, type GraphLayout } from '../../ui/src/lib/pxl-graph.ts'
import { liveToSearch, searchToLive, emptyLive } from '../../ui/src/lib/livestate.ts'
import { examples } from '../../ui/src/lib/pxl-examples.ts'
import { traceTables } from '../../src/model/trace-tables.ts'

const letter: Record<TokenKind, string> = {
  keyword: 'k',
  px: 'p',
  pxfn: 'f',
  defname: 'd',
  name: 'n',
  string: 's',
  number: '1',
  comment: '#',
  op: 'o',
  punct: '.',
  space: ' ',
  error: '!',
}

/** Each line of the text with a line under it: one letter per character naming its token's kind. */
function drawTokens(text: string): string {
  const marks = [...text].map(() => ' ')
  for (const t of tokenize(text)) for (let k = t.start; k < t.end; k++) if (text[k] !== '\n') marks[k] = letter[t.kind]
  const lines = text.split('\n')
  let off = 0
  return lines
    .map((l) => {
      const m = marks
        .slice(off, off + l.length)
        .join('')
        .trimEnd()
      off += l.length + 1
      return `${l}\n${m}`
    })
    .join('\n')
}

test('PxL tokens: keywords, the px module and its functions, strings, numbers, comments, operators', () => {
  const src = `import px  # tracing
def f(start_time: str = '-5m', n: int = 10):
    df = px.DataFrame(table='http_events', start_time=start_time)
    df = df[(df.resp_status >= 400) & ~(df.x == "a\\"b")]
    df.latency_ms = df.latency / 1.0e6
    return df.head(n)
px.display(f(), 'x'); x = r'''multi
line'''`
  assert.equal(
    drawTokens(src),
    `import px  # tracing
kkkkkk pp  #########
def f(start_time: str = '-5m', n: int = 10):
kkk d.nnnnnnnnnn. nnn o sssss. n. nnn o 11..
    df = px.DataFrame(table='http_events', start_time=start_time)
    nn o pp.fffffffff.nnnnnosssssssssssss. nnnnnnnnnnonnnnnnnnnn.
    df = df[(df.resp_status >= 400) & ~(df.x == "a\\"b")]
    nn o nn..nn.nnnnnnnnnnn oo 111. o o.nn.n oo ssssss..
    df.latency_ms = df.latency / 1.0e6
    nn.nnnnnnnnnn o nn.nnnnnnn o 11111
    return df.head(n)
    kkkkkk nn.nnnn.n.
px.display(f(), 'x'); x = r\'\'\'multi
pp.fffffff.n... sss.. n o sssssssss
line\'\'\'
sssssss`,
  )
  // Every character is in exactly one token, whatever the text.
  for (const text of ['', "'unterminated\nx = 1", '$ ` ?', 'px.', '"""open', '\\\n  x']) {
    const t = tokenize(text)
    assert.equal(t.map((x) => x.text).join(''), text)
    for (let k = 1; k < t.length; k++) assert.equal(t[k]!.start, t[k - 1]!.end)
  }
  assert.deepEqual(
    tokenize("'open\nx").map((t) => t.kind),
    ['error', 'space', 'name'],
    'an unterminated string stops at the line end',
  )
  assert.deepEqual(lineColumn('ab\ncd', 4), { line: 2, column: 2 })
  assert.equal(offsetOf('ab\ncd', 2, 2), 4)
  assert.equal(offsetOf('ab\ncd', 9, 1), 5)
})

test('completion: tables in px.DataFrame, columns of the tables read, px functions, methods, ctx keys, names', () => {
  const at = (text: string) => {
    const caret = text.indexOf('|')
    const t = text.replace('|', '')
    const c = pxlCompletions(t, caret, pxlSchema(traceTables))
    return c ? { prefix: c.prefix, labels: c.items.map((i) => i.label), apply: (label: string) => applyPxlCompletion(t, c, label) } : null
  }
  assert.deepEqual(at("df = px.DataFrame('ht|')")?.labels, ['http_events'])
  assert.deepEqual(at("df = px.DataFrame(table='my|', start_time='-5m')")?.labels, ['mysql_events'])
  assert.deepEqual(
    at("df = px.DataFrame('|")!.labels.slice(0, 3),
    ['http_events', 'dns_events', 'mysql_events'],
    'unterminated: still a table',
  )
  const cols = "df = px.DataFrame('http_events')\ndf = df[df.resp_st|]"
  assert.deepEqual(at(cols)?.labels, ['resp_status'])
  assert.deepEqual(at(cols)?.apply('resp_status'), { text: "df = px.DataFrame('http_events')\ndf = df[df.resp_status]", caret: 55 })
  assert.ok(at("df = px.DataFrame('http_events')\ndf.lat|")!.labels.includes('latency_ms'), "Kiln's derived columns")
  assert.ok(!at("df = px.DataFrame('http_events')\ndf.q|")?.labels.includes('query_text'), 'only the columns of the tables read')
  assert.deepEqual(at("df = px.DataFrame('http_events')\ndf.groupby(['req_me|'])")?.labels, ['req_method'])
  assert.deepEqual(at("df = px.DataFrame('http_events')\ndf.agg(n=('laten|', px.count))")?.labels, ['latency', 'latency_ms'])
  assert.deepEqual(
    at("df = px.DataFrame('http_events')\ndf.x = 1\ndf.y = df.|")!.labels.filter((l) => l === 'x' || l === 'groupby'),
    ['x', 'groupby'],
    'columns the script makes, then methods',
  )
  assert.deepEqual(at('px.quan|')?.labels, ['quantiles'])
  assert.ok(at('px.|')!.labels.includes('DataFrame'))
  assert.deepEqual(at("df.ctx['na|']")?.labels, ['namespace'])
  assert.deepEqual(at('lam|')?.labels, ['lambda'])
  assert.ok(at('my_df = 1\nmy|')!.labels.includes('my_df'))
  assert.equal(at("px.display(df, 'ht|')"), null, 'a display name is free text')
  assert.equal(at("start_time = '-5|'"), null)
  assert.equal(at('# a comment px.|'), null)
  assert.equal(at('x = 12|'), null)
  // With the compiler's catalog: its functions and columns.
  const cat = pxlSchema(traceTables, {
    tables: [
      {
        name: 'http_events',
        columns: [
          { name: 'latency', type: 'INT64' },
          { name: 'endpoint', type: 'STRING', derived: true, doc: 'path' },
        ],
      },
    ],
    functions: [{ name: 'px.upid_to_pod_name', sig: '(UINT128) → STRING', doc: 'pod' }],
    ctxKeys: ['pod'],
  })
  assert.deepEqual(pxlCompletions('px.upid_to_p', 12, cat)?.items, [
    { label: 'upid_to_pod_name', kind: 'function', detail: '(UINT128) → STRING — pod' },
  ])
  assert.deepEqual(pxlCompletions('df.en', 5, cat)?.items[0], { label: 'endpoint', kind: 'column', detail: 'STRING · http_events — path' })
  assert.deepEqual(tablesRead('a = px.DataFrame(\'http_events\')\nb = px.DataFrame(table="conn_stats")'), ['http_events', 'conn_stats'])
  assert.deepEqual(columnsMade("df.a = 1\ndf['b'] = 2\ndf = df.agg(c=('x', px.count), d=('y', px.sum))\nz = 1"), ['a', 'b', 'c', 'd'])
})

test('completion never throws or hangs on any text and caret', () => {
  const bits = ['px', '.', 'DataFrame', '(', "'", '"', '[', ']', ')', 'df', '=', ' ', '\n', '#', 'ctx', ',', 'x', "'''", '1']
  let seed = 7
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31)
  for (let n = 0; n < 2000; n++) {
    const text = Array.from({ length: Math.floor(rnd() * 14) }, () => bits[Math.floor(rnd() * bits.length)]).join('')
    pxlCompletions(text, Math.floor(rnd() * (text.length + 1)), pxlSchema(traceTables))
    pxlDefs(text)
  }
})

test("a script's arguments: typed def parameters, or vis.json variables feeding each widget's function", () => {
  const lib = `import px
def http_data(start_time: str, svc: px.Service = 'default/cart', n: int = 10):
    return px.DataFrame('http_events', start_time=start_time).head(n)

def other():
    pass
`
  assert.deepEqual(pxlDefs(lib), [
    {
      name: 'http_data',
      line: 2,
      params: [
        { name: 'start_time', type: 'str', default: '', description: '' },
        { name: 'svc', type: 'px.Service', default: 'default/cart', description: '' },
        { name: 'n', type: 'int', default: '10', description: '' },
      ],
    },
    { name: 'other', line: 5, params: [] },
  ])
  assert.equal(displaysAtTopLevel(lib), false)
  const plan = runPlan(lib, null, { start_time: '-5m' }, 'http_data')
  assert.deepEqual(plan.requests, [{ func: 'http_data', args: { start_time: '-5m', svc: 'default/cart', n: '10' }, widgets: [] }])
  assert.deepEqual(plan.funcs, ['http_data', 'other'])
  assert.equal(runPlan(lib, null, {}).requests[0]!.func, 'other', 'the last function by default')
  // Top-level displays: the script runs as a whole, no arguments.
  assert.deepEqual(runPlan(examples[0]!.script, null, {}), { args: [], requests: [{ args: {}, widgets: [] }], funcs: [] })
  assert.ok(displaysAtTopLevel("import px; df = px.DataFrame('http_events'); px.display(df)"), 'the seed dashboard one-liner')
  // vis.json: variables are the arguments; widgets sharing a function and arguments share one run.
  const vis = readVis(
    JSON.stringify({
      variables: [
        { name: 'start_time', type: 'PX_STRING', defaultValue: '-5m', description: 'window' },
        { name: 'svc', type: 'PX_SERVICE', defaultValue: { value: 'x' } },
        { name: 'role', validValues: ['1', '2'], defaultValue: '2' },
      ],
      globalFuncs: [
        {
          outputName: 'stats',
          func: {
            name: 'http_data',
            args: [
              { name: 'start_time', variable: 'start_time' },
              { name: 'svc', variable: 'svc' },
            ],
          },
        },
      ],
      widgets: [
        {
          name: 'Latency',
          globalFuncOutputName: 'stats',
          displaySpec: { '@type': 'types.px.dev/px.vispb.TimeseriesChart', timeseries: [{ value: 'latency', series: 'service' }] },
        },
        { name: 'Table', globalFuncOutputName: 'stats', displaySpec: { '@type': 'types.px.dev/px.vispb.Table' } },
        { name: 'Other', func: { name: 'other', args: [{ name: 'n', value: '3' }] } },
      ],
    }),
  )
  const v = runPlan(lib, vis, { svc: 'ns/api' })
  assert.deepEqual(
    v.args.map((a) => [a.name, a.type, a.default, a.options]),
    [
      ['start_time', 'PX_STRING', '-5m', undefined],
      ['svc', 'PX_SERVICE', 'x', undefined],
      ['role', '', '2', ['1', '2']],
    ],
  )
  assert.deepEqual(
    v.requests.map((r) => [r.func, r.args, r.widgets.map((w) => w.name)]),
    [
      ['http_data', { start_time: '-5m', svc: 'ns/api' }, ['Latency', 'Table']],
      ['other', { n: '3' }, ['Other']],
    ],
  )
  assert.equal(readVis('{not json'), null)
})

test('errors point at their line and column', () => {
  assert.deepEqual(errorLocation("line 4, column 12: unknown column 'latncy' (did you mean 'latency'?)"), { line: 4, column: 12 })
  assert.deepEqual(errorLocation('syntax error at 3:7: expected )'), { line: 3, column: 7 })
  assert.deepEqual(errorLocation('script.pxl:5:2: unknown table'), { line: 5, column: 2 })
  assert.deepEqual(errorLocation('Line 2: bad indent'), { line: 2, column: 1 })
  assert.equal(errorLocation('no location here'), null)
})

const httpStats: PxlTable = {
  name: 'stats',
  columns: [
    { name: 'time_', type: 'TIME64NS' },
    { name: 'service', type: 'STRING' },
    { name: 'latency_p99', type: 'FLOAT64' },
    { name: 'error_rate', type: 'FLOAT64' },
    { name: 'rps', type: 'FLOAT64' },
    { name: 'pid', type: 'INT64' },
  ],
  rows: [
    ['1767261600000000000', 'cart', 12e6, 0, 5, 1],
    ['1767261610000000000', 'cart', 30e6, 0.1, 7, 1],
    ['1767261600000000000', 'web', 2e6, 0, 20, 2],
  ],
}

test('widgets: a graph for source and destination columns, a chart for time_, always the table; vis.json specs decide when given', () => {
  assert.deepEqual(chooseWidgets(httpStats), [{ kind: 'chart', time: 0, values: [2, 3, 4], series: 1 }, { kind: 'table' }])
  const edges: PxlTable = {
    name: 'g',
    columns: [
      { name: 'requestor', type: 'STRING' },
      { name: 'responder', type: 'STRING' },
      { name: 'rps', type: 'FLOAT64' },
    ],
    rows: [['a', 'b', 1]],
  }
  assert.deepEqual(chooseWidgets(edges), [{ kind: 'graph', from: 0, to: 1 }, { kind: 'table' }])
  assert.deepEqual(
    edgeColumns([
      { name: 'source_service', type: 'STRING' },
      { name: 'x', type: 'INT64' },
      { name: 'dest_service', type: 'STRING' },
    ]),
    { from: 0, to: 2 },
  )
  assert.deepEqual(
    edgeColumns([
      { name: 'src_pod', type: 'STRING' },
      { name: 'dst_pod', type: 'STRING' },
    ]),
    { from: 0, to: 1 },
  )
  assert.equal(
    edgeColumns([
      { name: 'source_service', type: 'STRING' },
      { name: 'dest_port', type: 'INT64' },
    ]),
    null,
  )
  assert.deepEqual(chooseWidgets({ name: 't', columns: [{ name: 'service', type: 'STRING' }], rows: [] }), [{ kind: 'table' }])
  assert.deepEqual(
    chooseWidgets(httpStats, { '@type': 'types.px.dev/px.vispb.TimeseriesChart', timeseries: [{ value: 'rps', series: 'service' }] }),
    [{ kind: 'chart', time: 0, values: [4], series: 1 }],
  )
  assert.deepEqual(
    chooseWidgets(edges, { '@type': 'types.px.dev/px.vispb.Graph', adjacencyList: { fromColumn: 'requestor', toColumn: 'responder' } }),
    [{ kind: 'graph', from: 0, to: 1 }],
  )
  assert.deepEqual(chooseWidgets(edges, { '@type': 'types.px.dev/px.vispb.Table' }), [{ kind: 'table' }])
  // Charts: one per value column, a line per series value in time order.
  const c = chartsOf(httpStats, { kind: 'chart', time: 0, values: [2, 4], series: 1 })
  assert.deepEqual([c.from, c.until], [Date.UTC(2026, 0, 1, 10, 0, 0), Date.UTC(2026, 0, 1, 10, 0, 10)])
  assert.deepEqual(
    c.charts.map((ch) => [ch.column.name, ch.unit, ch.series.map((s) => `${s.labels.service}: ${s.points.map((p) => p[1]).join(' ')}`)]),
    [
      ['latency_p99', 'ns', ['cart: 12000000 30000000', 'web: 2000000']],
      ['rps', 'rate', ['cart: 5 7', 'web: 20']],
    ],
  )
})

test('cells read by PxL type and column name; sorting by number, time or text, empty cells last', () => {
  const c = (name: string, type: string) => ({ name, type })
  assert.equal(formatCell('1767261600123456789', c('time_', 'TIME64NS')), '2026-01-01 10:00:00.123')
  assert.equal(cellTimeMs(1767261600123), 1767261600123, 'ms pass as ms')
  assert.equal(cellTimeMs('2026-01-01T10:00:00Z'), Date.UTC(2026, 0, 1, 10))
  assert.equal(formatCell(12_500_000, c('latency', 'INT64')), '12.5 ms')
  assert.equal(formatCell(42.25, c('latency_ms', 'FLOAT64')), '42.3 ms')
  assert.equal(formatCell(0.0512, c('error_rate', 'FLOAT64')), '5.1%')
  assert.equal(formatCell(3 * 1024 * 1024, c('bytes_recv', 'INT64')), '3 MiB')
  assert.equal(formatCell(12.5, c('rps', 'FLOAT64')), '12.5/s')
  assert.equal(formatCell('9007199254740993', c('n', 'INT64')), '9007199254740993', 'every digit of a 64-bit integer')
  assert.equal(formatCell(2 / 3, c('x', 'FLOAT64')), '0.6667')
  assert.equal(formatCell(200, c('resp_status', 'INT64')), '200')
  assert.equal(formatCell(true, c('encrypted', 'BOOLEAN')), 'true')
  assert.equal(formatCell(null, c('x', 'STRING')), '')
  assert.equal(columnUnit(c('avg_latency', 'FLOAT64')), 'ns')
  assert.equal(columnUnit({ name: 'x', type: 'FLOAT64', semanticType: 'ST_PERCENT' }), 'fraction', "the compiler's semantic type")
  assert.equal(columnUnit({ name: 'p99_ms', type: 'FLOAT64', semanticType: 'ST_DURATION_NS' }), 'ms', 'a name in ms wins')
  const rows = [
    ['b', 10],
    ['a', null],
    ['c', 9],
    ['d', '9007199254740993'],
    ['e', '9007199254740992'],
  ]
  assert.deepEqual(
    sortTable(rows, 1, 'INT64', 'desc').map((r) => r[0]),
    ['d', 'e', 'b', 'c', 'a'],
  )
  assert.deepEqual(
    sortTable(rows, 1, 'INT64', 'asc').map((r) => r[0]),
    ['c', 'b', 'e', 'd', 'a'],
  )
  assert.deepEqual(
    sortTable(rows, 0, 'STRING', 'desc').map((r) => r[0]),
    ['e', 'd', 'c', 'b', 'a'],
  )
  assert.deepEqual(
    sortTable(httpStats.rows, 0, 'TIME64NS', 'asc').map((r) => r[1]),
    ['cart', 'web', 'cart'],
    'ties keep their order',
  )
})

/** A layout drawn as a grid: one column per rank, one row per position in the rank. */
function drawLayout(l: GraphLayout): string {
  const width = Math.max(...[...l.nodes.keys()].map((n) => n.length)) + 3
  const rows = Math.max(...l.ranks.map((r) => r.length))
  const out: string[] = []
  for (let k = 0; k < rows; k++)
    out.push(
      l.ranks
        .map((r) => (r[k] ? `[${r[k]}]` : '').padEnd(width))
        .join('')
        .trimEnd(),
    )
  return out.join('\n')
}

test('service graph: edges merged per pair with requests, error share and latency; nodes sum their traffic', () => {
  const t: PxlTable = {
    name: 'service_graph',
    columns: [
      { name: 'source_service', type: 'STRING' },
      { name: 'dest_service', type: 'STRING' },
      { name: 'request_count', type: 'INT64' },
      { name: 'error_count', type: 'INT64' },
      { name: 'avg_latency', type: 'FLOAT64' },
    ],
    rows: [
      ['web', 'cart', 90, 9, 20e6],
      ['web', 'cart', 10, 1, 120e6],
      ['cart', 'db', '50', 0, 1e6],
    ],
  }
  const g = serviceGraph(t, 0, 1)
  assert.deepEqual(g.edges, [
    { from: 'web', to: 'cart', requests: 100, rps: null, errorRate: 0.1, latencyNs: 30e6, latencyLabel: 'avg', bytes: null },
    { from: 'cart', to: 'db', requests: 50, rps: null, errorRate: 0, latencyNs: 1e6, latencyLabel: 'avg', bytes: null },
  ])
  assert.deepEqual(g.nodes, [
    { id: 'web', requestsIn: 0, requestsOut: 100, errorRateIn: null },
    { id: 'cart', requestsIn: 100, requestsOut: 50, errorRateIn: 0.1 },
    { id: 'db', requestsIn: 50, requestsOut: 0, errorRateIn: 0 },
  ])
  // Raw rows (no count column): each row is one request; latency in ms columns reads as ms.
  const raw = serviceGraph(
    {
      name: 'r',
      columns: [
        { name: 'requestor', type: 'STRING' },
        { name: 'responder', type: 'STRING' },
        { name: 'latency_ms', type: 'FLOAT64' },
        { name: 'error_rate', type: 'FLOAT64' },
      ],
      rows: [
        ['a', 'b', 2, 0],
        ['a', 'b', 4, 0.5],
      ],
    },
    0,
    1,
  )
  assert.deepEqual(raw.edges[0], {
    from: 'a',
    to: 'b',
    requests: 2,
    rps: null,
    errorRate: 0.25,
    latencyNs: 3e6,
    latencyLabel: 'avg',
    bytes: null,
  })
  // Net flow graphs: bytes both ways; latency from p99_ms when there is one.
  const flow = serviceGraph(
    {
      name: 'f',
      columns: [
        { name: 'from_entity', type: 'STRING' },
        { name: 'to_entity', type: 'STRING' },
        { name: 'bytes_sent', type: 'INT64' },
        { name: 'bytes_recv', type: 'INT64' },
        { name: 'p50_ms', type: 'FLOAT64' },
        { name: 'p99_ms', type: 'FLOAT64' },
      ],
      rows: [['a', 'b', 10, 5, 1, 9]],
    },
    0,
    1,
  )
  assert.deepEqual(flow.edges[0], {
    from: 'a',
    to: 'b',
    requests: 1,
    rps: null,
    errorRate: null,
    latencyNs: 9e6,
    latencyLabel: 'p99',
    bytes: 15,
  })
  assert.equal(errorColor(0.1), '#e15759')
  assert.equal(errorColor(0.001), '#59a14f')
  assert.equal(errorColor(null), 'var(--muted)')
  assert.equal(edgeWidth(100, 100), 6)
  assert.equal(edgeWidth(0, 100), 1.5)
})

test('layered layout: callers left of callees, cycles broken, crossings untangled', () => {
  const edges = (s: string) => s.split(' ').map((p) => ({ from: p.split('>')[0]!, to: p.split('>')[1]! }))
  const shop = ['web', 'cart', 'catalog', 'redis', 'mysql', 'auth']
  assert.equal(
    drawLayout(layeredLayout(shop, edges('web>cart web>catalog cart>redis catalog>mysql web>auth cart>auth'))),
    `[web]     [cart]    [redis]
          [catalog] [auth]
                    [mysql]`,
  )
  // Crossing edges at first (a1>b2, a2>b1): the barycenter sweeps put each callee next to its caller.
  assert.equal(drawLayout(layeredLayout(['a1', 'a2', 'b1', 'b2'], edges('a1>b2 a2>b1'))), `[a1] [b2]\n[a2] [b1]`)
  // A cycle: one edge turns around for ranking; every node still gets a place.
  const cyc = layeredLayout(['a', 'b', 'c'], edges('a>b b>c c>a a>a'))
  assert.equal(drawLayout(cyc), '[a] [b] [c]')
  const [a, c] = [cyc.nodes.get('a')!, cyc.nodes.get('c')!]
  assert.deepEqual([a.x, a.y, cyc.width, cyc.height], [16, 16, 16 * 2 + 3 * 150 + 2 * 110, 16 * 2 + 40])
  assert.match(edgePath(a, cyc.nodes.get('b')!).d, /^M166,36 C221,36 221,36 276,36$/, 'left to right: right side to left side')
  assert.ok(edgePath(c, a).mid[1] > a.y + 40, 'a back edge loops under the boxes')
  assert.equal(layeredLayout([], []).width, 32)
})

test('the Live URL holds the script, its function and arguments, auto-refresh and the dashboard', () => {
  const s = { ...emptyLive, script: 'px/http_data', args: { start_time: '-15m', svc: 'ns/cart' }, refresh: '10s' }
  assert.equal(liveToSearch(s), '?page=live&script=px%2Fhttp_data&arg.start_time=-15m&arg.svc=ns%2Fcart&refresh=10s')
  assert.deepEqual(searchToLive(liveToSearch(s)), s)
  const text = { ...emptyLive, pxl: "import px\npx.display(px.DataFrame('http_events'))", func: 'f' }
  assert.deepEqual(searchToLive(liveToSearch(text)), text)
  assert.deepEqual(searchToLive('?page=live&dashboard=http-overview&service=x&arg.=1'), { ...emptyLive, dashboard: 'http-overview' })
})
