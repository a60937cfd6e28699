/** Mistakes in scripts: each is KILN_PXL (HTTP 400) with line:column, the offending name and the nearest valid names. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { compilePxl } from '../../src/pxl/index.ts'
import { KilnError } from '../../src/model/errors.ts'

function fails(script: string, message: RegExp, details: Record<string, unknown> = {}, opts: Parameters<typeof compilePxl>[1] = {}): void {
  assert.throws(
    () => compilePxl(script, opts),
    (e: unknown) => {
      assert.ok(e instanceof KilnError, String(e))
      assert.equal(e.code, 'KILN_PXL')
      assert.equal(e.status, 400)
      assert.match(e.message, message)
      for (const [k, v] of Object.entries(details)) assert.deepEqual(e.details?.[k], v, `${k} of ${e.message}`)
      assert.doesNotMatch(e.message, /\n\s+at /, 'no stack trace')
      return true
    },
  )
}

const pre = "import px\ndf = px.DataFrame('http_events')\n"

test('unknown table, column, function, method and ctx key name the nearest valid ones', () => {
  fails(
    "import px\ndf = px.DataFrame('http_event')",
    /^2:19: unknown table 'http_event' \(did you mean 'http_events'\?\); valid: http_events, dns_events/,
    { line: 2, column: 19, name: 'http_event', suggestions: ['http_events'] },
  )
  fails(pre + 'df = df[df.latncy > 1]\npx.display(df)', /^3:12: unknown column 'latncy' \(did you mean 'latency'\?\)/, {
    name: 'latncy',
    suggestions: ['latency'],
  })
  fails(
    pre + "df = df.groupby('service').agg(p=('latency', px.quantile))",
    /^3:49: unknown px function 'px.quantile' \(did you mean 'px.quantiles'\?\)/,
  )
  fails(
    pre + "df = df.groupby('service').agg(p=('latency', px.mean))\ndf.x = df.ctx['pod']",
    /^4:14: df.ctx\['pod'\] needs each row's process: .*keep 'upid' in the groupby keys/,
  )
  fails(pre + "df.x = df.ctx['podname']", /unknown ctx key 'podname' \(did you mean 'pod_name'/)
  fails(pre + 'df = df.sort_value("latency")', /unknown column 'sort_value' \(did you mean 'sort_values'\?|unknown column 'sort_value'/)
  fails('import pandas\n', /^1:1: module 'pandas' is not available; PxL scripts import px/)
  fails("df = px.DataFrame('http_events')", /^1:6: name 'px' is not defined: start the script with 'import px'/)
  fails(pre + 'px.display(dff)', /^3:12: unknown name 'dff' \(did you mean 'df'\?\)/)
})

test('type mismatches say what the function takes and what it got', () => {
  fails(pre + 'df = df[df.req_path > 5]\npx.display(df)', /^3:21: '>' expects \(T, T\) → BOOLEAN, got \(STRING, INT64\)/)
  fails(pre + "df = df[px.contains(df.latency, 'x')]", /^3:20: px\.contains expects \(STRING, STRING\) → BOOLEAN, got \(INT64, STRING\)/, {
    name: 'px.contains',
  })
  fails(pre + 'df = df[df.latency]', /^3:8: a filter needs a BOOLEAN expression .* got INT64/)
  fails(pre + "df = df.groupby('service').agg(m=('req_path', px.mean))", /px\.mean does not apply to STRING/)
  fails(pre + "df = df.groupby('service').agg(m=('latency', lambda x: x + 1))", /the function must aggregate its column/)
  fails(pre + 'df.m = df.latency.mean()', /an aggregate .* can only be computed inside \.agg\(\)/)
  fails(pre + "x = 'a' - 1", /'-' does not apply to a string and an integer/)
  fails(
    pre + "df = df.merge(df, left_on='req_path', right_on='latency')",
    /merge key 'req_path' is STRING on the left and 'latency' is INT64 on the right/,
  )
  fails(pre + "df = df.append(df[['latency']])", /append needs the same columns/)
})

test('calls: wrong arguments, recursion, and scripts that display nothing', () => {
  fails(pre + "df = df.head('ten')", /head takes a number of rows, got a string/)
  fails(
    pre + "df = px.DataFrame('http_events', start_time='5m')",
    /start_time '5m' is in the future; a relative time is negative, e.g. '-5m'/,
  )
  fails(pre + "df = px.DataFrame('http_events', start_time='yesterday')", /neither a relative time/)
  fails(pre + "df = px.DataFrame('http_events', tabel='x')", /unknown argument of px\.DataFrame\(\) 'tabel' \(did you mean 'table'\?\)/)
  fails('import px\ndef f(x):\n    return f(x)\ndf = f(1)', /calls nested deeper than 40 \(does 'f' call itself\?\)/)
  fails(pre, /the script displays nothing: add px\.display/)
  fails('import px\ndef a():\n    return 1\ndef b():\n    return 2\n', /name the function to run .*: a, b/)
  fails(
    'import px\ndef a(n: int):\n    return px.DataFrame("http_events").head(n)\n',
    /a\(n\) is an integer, got 'x'/,
    {},
    { args: { n: 'x' } },
  )
  fails('import px\ndef a(n: int):\n    return px.DataFrame("http_events").head(n)\n', /unknown function 'b'/, {}, { func: 'b' })
  fails(pre + 'px.display(df.latency)', /px\.display shows a DataFrame, got a column expression/)
  fails(pre + "px.display(df, 'x', 'y', 'z')", /takes at most 3 arguments/)
  fails("import px\npx.display(px.DataFrame('http_events', select=[]))", /^2:40: select lists at least one column/)
  fails(pre + 'px.display(df[[]])', /a DataFrame keeps at least one column/)
})
