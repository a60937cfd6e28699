/**
 * `-o/--out` outputs in k6's formats: `json=FILE` (NDJSON: a Metric line before each metric's
 * first Point) and `csv=FILE` (metric_name,timestamp,metric_value, system-tag columns, extra_tags);
 * `junit=FILE` and `markdown=FILE` (Kiln's) write the thresholds' outcome once the run is over.
 */
import { createWriteStream, writeFileSync, type WriteStream } from 'node:fs'
import { basename } from 'node:path'
import { createGzip } from 'node:zlib'
import { ConfigError } from '../errors.ts'
import type { Metric, Registry, Sample } from './metrics.ts'
import type { Threshold } from './thresholds.ts'
import { attachKilnOutput, type KilnOutput, type KilnRunMeta } from './kiln-output.ts'
import type { SummaryLike } from './report-data.ts'
import { junitXml } from './junit.ts'
import { markdownSummary } from './markdown.ts'

/** The indexable system tags, sorted: CSV columns between metric_value and extra_tags. */
const CSV_TAGS = [
  'check',
  'error',
  'error_code',
  'expected_response',
  'group',
  'method',
  'name',
  'proto',
  'scenario',
  'service',
  'status',
  'subproto',
  'tls_version',
  'url',
]

function open(file: string): { write(s: string): void; close(): Promise<void> } {
  const fsStream: WriteStream = createWriteStream(file)
  const gz = file.endsWith('.gz') ? createGzip() : null
  if (gz) gz.pipe(fsStream)
  const target = gz ?? fsStream
  let buf = ''
  return {
    write(s) {
      buf += s
      // 64 KiB batches: few syscalls at tens of thousands of samples per second.
      if (buf.length > 65536) {
        target.write(buf)
        buf = ''
      }
    },
    close: () =>
      new Promise<void>((res, rej) => {
        if (buf) target.write(buf)
        fsStream.on('finish', res).on('error', rej)
        target.end()
      }),
  }
}

/**
 * Writes every sample of `registry` as k6's JSON output lines (NDJSON): a Metric line before each
 * metric's first Point. `-o json=` and the REST API's sample stream (run/api.ts) both use it.
 */
export function jsonLines(registry: Registry, thresholds: () => Threshold[], write: (line: string) => void): void {
  const announced = new Set<string>()
  registry.onSample((s: Sample, m: Metric) => {
    if (!announced.has(m.name)) {
      announced.add(m.name)
      const ths = thresholds().filter((t) => t.metric === m.name || t.metric.startsWith(`${m.name}{`))
      const subs = m.submetrics.map((x) => ({ name: x.name, suffix: x.suffix, tags: x.tags }))
      const data = {
        name: m.name,
        type: m.type,
        contains: m.contains,
        thresholds: ths.map((t) => t.source),
        submetrics: subs.length ? subs : null,
      }
      write(JSON.stringify({ type: 'Metric', data, metric: m.name }) + '\n')
    }
    write(
      JSON.stringify({
        metric: s.metric,
        type: 'Point',
        data: { time: new Date(s.time).toISOString(), value: s.value, tags: s.tags },
      }) + '\n',
    )
  })
}

const csvField = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)

/** Subscribes the outputs named by `-o` flags; `close` flushes and closes them; `kiln` is the Kiln server's run, if any. */
export function attachOutputs(
  specs: string[],
  registry: Registry,
  thresholds: () => Threshold[],
  kiln?: KilnRunMeta & { warn: (s: string) => void },
  summary: () => SummaryLike | null = () => null,
): { close: () => Promise<void>; kiln: KilnOutput | null } {
  const closers: (() => Promise<void>)[] = []
  let stored: KilnOutput | null = null
  for (const spec of specs) {
    const eq = spec.indexOf('=')
    const kind = eq < 0 ? spec : spec.slice(0, eq)
    const arg = eq < 0 ? '' : spec.slice(eq + 1)
    if (kind === 'kiln') {
      if (!/^https?:\/\//.test(arg)) throw new ConfigError("output 'kiln' needs a server URL: -o kiln=http://localhost:4040")
      const o = attachKilnOutput(
        arg,
        registry,
        thresholds,
        { ...(kiln ?? { script: '', tags: {} }), summary },
        kiln?.warn ?? ((s) => process.stderr.write(s)),
      )
      // With two Kiln servers, profile thresholds and baselines read the first.
      stored ??= o
      closers.push(o.close)
      continue
    }
    if (kind === 'junit' || kind === 'markdown') {
      // End-of-run reports of the thresholds, written from the summary data.
      if (!arg) throw new ConfigError(`output '${kind}' needs a file: -o ${kind}=${kind === 'junit' ? 'thresholds.xml' : 'summary.md'}`)
      const title = kiln?.script ? basename(kiln.script) : undefined
      closers.push(async () => {
        const data = summary()
        if (data)
          writeFileSync(
            arg,
            kind === 'junit' ? junitXml(data, title ? { name: title } : {}) : markdownSummary(data, title ? { title } : {}),
          )
      })
      continue
    }
    if (kind === 'json') {
      if (!arg) throw new ConfigError("output 'json' needs a file: -o json=results.json")
      const f = open(arg)
      jsonLines(registry, thresholds, f.write)
      closers.push(f.close)
    } else if (kind === 'csv') {
      const file = arg.startsWith('fileName=') ? arg.slice('fileName='.length) : arg
      if (!file) throw new ConfigError("output 'csv' needs a file: -o csv=results.csv")
      const f = open(file)
      f.write(['metric_name', 'timestamp', 'metric_value', ...CSV_TAGS, 'extra_tags', 'metadata'].join(',') + '\n')
      registry.onSample((s: Sample) => {
        const extra = Object.entries(s.tags)
          .filter(([k]) => !CSV_TAGS.includes(k))
          .map(([k, v]) => `${k}=${v}`)
          .join('&')
        const row = [
          s.metric,
          String(Math.floor(s.time / 1000)),
          s.value.toFixed(6),
          ...CSV_TAGS.map((t) => csvField(s.tags[t] ?? '')),
          csvField(extra),
          '',
        ]
        f.write(row.join(',') + '\n')
      })
      closers.push(f.close)
    } else {
      throw new ConfigError(`unknown output '${kind}': Kiln supports json=FILE, csv=FILE, junit=FILE, markdown=FILE and kiln=URL`)
    }
  }
  return {
    close: async () => {
      for (const c of closers) await c()
    },
    kiln: stored,
  }
}
