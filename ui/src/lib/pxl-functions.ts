/**
 * What the Live view's editor completes besides tables and columns: the `px.*` functions a PxL
 * script calls, the DataFrame methods, and the friendlier derived columns Kiln adds to Pixie's
 * tables (issue 10 §1). Signatures are shown next to each suggestion.
 */

export interface PxFunction {
  name: string
  sig: string
  doc: string
}

const f = (name: string, sig: string, doc: string): PxFunction => ({ name, sig, doc })

export const pxFunctions: readonly PxFunction[] = [
  f('DataFrame', "(table, select=[…], start_time='-5m', end_time=None)", 'rows of a table'),
  f('display', '(df, name)', 'show a table in the results'),
  f('debug', '(df, name)', 'show an intermediate table'),
  f('count', '', 'aggregate: number of rows'),
  f('sum', '', 'aggregate: sum'),
  f('mean', '', 'aggregate: average'),
  f('min', '', 'aggregate: minimum'),
  f('max', '', 'aggregate: maximum'),
  f('any', '', 'aggregate: any one value'),
  f('quantiles', '', 'aggregate: p01 … p99 (pluck with px.pluck_float64)'),
  f('bin', '(column, size)', 'round times down to a window'),
  f('now', '()', 'the current time'),
  f('seconds', '(n)', 'a duration'),
  f('minutes', '(n)', 'a duration'),
  f('hours', '(n)', 'a duration'),
  f('milliseconds', '(n)', 'a duration'),
  f('microseconds', '(n)', 'a duration'),
  f('parse_duration', "('5m')", 'a duration from text'),
  f('parse_time', "('2026-01-01T00:00:00Z')", 'a time from text'),
  f('contains', '(s, substr)', 'whether s contains substr'),
  f('regex_match', '(pattern, s)', 'whether s matches the whole pattern'),
  f('replace', '(pattern, s, replacement)', 'regex replacement'),
  f('pluck', '(json, key)', 'a value of a JSON object'),
  f('pluck_float64', '(json, key)', 'a number of a JSON object'),
  f('pluck_int64', '(json, key)', 'an integer of a JSON object'),
  f('length', '(s)', 'length of a string'),
  f('substring', '(s, start, length)', 'part of a string'),
  f('tolower', '(s)', 'lower case'),
  f('toupper', '(s)', 'upper case'),
  f('strip_prefix', '(prefix, s)', 's without the prefix'),
  f('select', '(cond, a, b)', 'a where cond holds, else b'),
  f('equals_any', '(value, [a, b])', 'whether value is one of the list'),
  f('upid_to_pod_name', '(upid)', 'pod of a process'),
  f('upid_to_service_name', '(upid)', 'service of a process'),
  f('upid_to_namespace', '(upid)', 'namespace of a process'),
  f('upid_to_node_name', '(upid)', 'node of a process'),
  f('upid_to_container_name', '(upid)', 'container of a process'),
  f('upid_to_cmdline', '(upid)', 'command line of a process'),
  f('upid_to_pid', '(upid)', 'pid of a process'),
  f('upid_to_hostname', '(upid)', 'host of a process'),
  f('Service', '', 'argument type: a service (ns/name)'),
  f('Pod', '', 'argument type: a pod (ns/name)'),
  f('Namespace', '', 'argument type: a namespace'),
  f('Node', '', 'argument type: a node'),
  f('Container', '', 'argument type: a container'),
]

export const dataFrameMethods: readonly PxFunction[] = [
  f('groupby', "(['col', …])", 'group rows; follow with .agg'),
  f('agg', "(name=('col', px.count), …)", 'aggregate each group'),
  f('merge', "(right, how='inner', left_on=[…], right_on=[…], suffixes=['', '_x'])", 'join two tables'),
  f('drop', "(['col', …])", 'remove columns'),
  f('head', '(n)', 'the first n rows'),
  f('append', '(other)', 'rows of both tables'),
  f('sort_values', "('col', ascending=False)", 'order rows'),
  f('ctx', "['service']", 'process metadata: namespace, service, pod, node, container, pid, cmdline'),
]

/** Columns Kiln derives on top of Pixie's (issue 10 §1), completed like stored ones. */
export const derivedColumns: Record<string, { name: string; type: string; desc: string }[]> = {
  http_events: [
    { name: 'endpoint', type: 'STRING', desc: 'request path without the query string' },
    { name: 'latency_ms', type: 'FLOAT64', desc: 'latency in milliseconds' },
    { name: 'source_service', type: 'STRING', desc: 'the calling service' },
    { name: 'dest_service', type: 'STRING', desc: 'the called service' },
  ],
  mysql_events: [
    { name: 'query_text', type: 'STRING', desc: 'statement text' },
    { name: 'latency_ms', type: 'FLOAT64', desc: 'latency in milliseconds' },
  ],
}

/** The `df.ctx[…]` keys. */
export const ctxKeys = ['namespace', 'service', 'pod', 'node', 'container', 'pid', 'cmdline']
