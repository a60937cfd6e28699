/**
 * The `scrape:` section of the server's YAML config: targets whose Go-style pprof endpoints the
 * server pulls on an interval (Grafana Alloy's `pyroscope.scrape`, Parca's scrape configs).
 *
 * ```yaml
 * scrape:
 *   - url: http://127.0.0.1:6060          # base URL; the profile paths are appended
 *     labels: { service_name: checkout, env: prod }
 *     interval: 15s                        # default 15s
 *     seconds: 14                          # CPU profile length, default interval − 1 s
 *     timeout: 10s                         # per request, beyond `seconds` for CPU; default 10s
 *     profiles: [cpu, heap, goroutine, mutex, block, /debug/pprof/custom]
 *     headers: { authorization: Bearer s3cret }   # sent with every request
 * ```
 */
import { KilnError } from '../model/errors.ts'
import { parseDuration } from '../model/time.ts'

/** One profile to pull from a target. */
export interface ScrapeProfile {
  path: string
  /** Add `?seconds=N` and wait that long (CPU profiles). */
  seconds: boolean
  /** `__name__` of the series; derived from the sample types when absent. */
  metric?: string
  /** Sample types that count up since the program started: Kiln writes their deltas. */
  cumulative: string[]
}

export interface ScrapeTarget {
  url: string
  labels: Record<string, string>
  intervalMs: number
  seconds: number
  timeoutMs: number
  profiles: ScrapeProfile[]
  tenant: string
  /** Sent with every request, e.g. `authorization: Bearer …`. */
  headers: Record<string, string>
}

/** The profiles Go's net/http/pprof serves, by the names Alloy and Parca give them. */
export const knownProfiles: Record<string, ScrapeProfile> = {
  cpu: { path: '/debug/pprof/profile', seconds: true, cumulative: [] },
  heap: { path: '/debug/pprof/heap', seconds: false, cumulative: ['alloc_objects', 'alloc_space'] },
  allocs: { path: '/debug/pprof/allocs', seconds: false, cumulative: ['alloc_objects', 'alloc_space'] },
  goroutine: { path: '/debug/pprof/goroutine', seconds: false, metric: 'goroutines', cumulative: [] },
  mutex: { path: '/debug/pprof/mutex', seconds: false, metric: 'mutex', cumulative: ['contentions', 'delay'] },
  block: { path: '/debug/pprof/block', seconds: false, metric: 'block', cumulative: ['contentions', 'delay'] },
}
knownProfiles.process_cpu = knownProfiles.cpu!
knownProfiles.memory = knownProfiles.heap!

const defaultProfiles = ['cpu', 'heap', 'goroutine', 'mutex', 'block']
const targetKeys = ['url', 'labels', 'interval', 'seconds', 'timeout', 'profiles', 'tenant', 'headers']

function duration(v: unknown, where: string): number {
  if (typeof v === 'number' && v > 0) return v * 1000
  const ms = typeof v === 'string' ? parseDuration(v) : NaN
  if (!(ms > 0)) throw new KilnError('KILN_USAGE', `${where}: expected a duration such as 15s, got ${JSON.stringify(v)}`)
  return ms
}

function profileOf(v: unknown, where: string): ScrapeProfile {
  if (typeof v === 'string') {
    const known = knownProfiles[v]
    if (known) return known
    if (v.startsWith('/')) return { path: v, seconds: false, cumulative: [] }
    throw new KilnError(
      'KILN_USAGE',
      `${where}: unknown profile ${JSON.stringify(v)}: use ${Object.keys(knownProfiles).join(', ')} or a path starting with /`,
    )
  }
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const o = v as Record<string, unknown>
    if (typeof o.path !== 'string' || !o.path.startsWith('/'))
      throw new KilnError('KILN_USAGE', `${where}: a custom profile needs path: /debug/pprof/…`)
    const cumulative = o.cumulative ?? []
    if (!Array.isArray(cumulative) || !cumulative.every((c) => typeof c === 'string'))
      throw new KilnError('KILN_USAGE', `${where}: cumulative must be a list of sample types`)
    return { path: o.path, seconds: o.seconds === true, cumulative, ...(typeof o.metric === 'string' ? { metric: o.metric } : {}) }
  }
  throw new KilnError('KILN_USAGE', `${where}: a profile is a name (cpu, heap, …), a path, or { path, metric, seconds, cumulative }`)
}

function mapping(v: unknown, where: string, what: string): Record<string, string> {
  const out: Record<string, string> = {}
  if (v === undefined) return out
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new KilnError('KILN_USAGE', `${where}: expected a mapping of ${what}`)
  for (const [k, val] of Object.entries(v)) out[k] = String(val)
  return out
}

/** Validates the `scrape:` section; messages name the target and setting at fault. */
export function parseScrapeConfig(v: unknown, where = 'scrape'): ScrapeTarget[] {
  if (v === null || v === undefined) return []
  if (!Array.isArray(v)) throw new KilnError('KILN_USAGE', `${where}: expected a list of targets (- url: http://host:6060 …)`)
  return v.map((t: unknown, i) => {
    const at = `${where}[${i}]`
    if (typeof t !== 'object' || t === null || Array.isArray(t))
      throw new KilnError('KILN_USAGE', `${at}: expected a mapping with url, labels, interval, profiles`)
    const o = t as Record<string, unknown>
    for (const k of Object.keys(o))
      if (!targetKeys.includes(k)) throw new KilnError('KILN_USAGE', `${at}: unknown setting '${k}'; known: ${targetKeys.join(', ')}`)
    let url: URL
    try {
      url = new URL(String(o.url))
    } catch {
      throw new KilnError('KILN_USAGE', `${at}.url: expected an http:// URL, got ${JSON.stringify(o.url)}`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new KilnError('KILN_USAGE', `${at}.url: expected http:// or https://, got ${url.protocol}`)
    const labels = mapping(o.labels, `${at}.labels`, 'label names to values')
    const headers = mapping(o.headers, `${at}.headers`, 'header names to values (e.g. authorization: Bearer …)')
    const intervalMs = o.interval === undefined ? 15_000 : duration(o.interval, `${at}.interval`)
    const seconds = o.seconds === undefined ? Math.max(1, Math.floor(intervalMs / 1000) - 1) : Number(o.seconds)
    if (!(Number.isInteger(seconds) && seconds >= 1 && seconds * 1000 <= intervalMs))
      throw new KilnError(
        'KILN_USAGE',
        `${at}.seconds: expected whole seconds from 1 to the interval (${intervalMs / 1000}), got ${JSON.stringify(o.seconds)}`,
      )
    const timeoutMs = o.timeout === undefined ? 10_000 : duration(o.timeout, `${at}.timeout`)
    const list = o.profiles ?? defaultProfiles
    if (!Array.isArray(list) || list.length === 0) throw new KilnError('KILN_USAGE', `${at}.profiles: expected a list such as [cpu, heap]`)
    return {
      url: url.href.replace(/\/+$/, ''),
      labels,
      intervalMs,
      seconds,
      timeoutMs,
      profiles: list.map((p, j) => profileOf(p, `${at}.profiles[${j}]`)),
      tenant: o.tenant === undefined ? 'anonymous' : String(o.tenant),
      headers,
    }
  })
}
