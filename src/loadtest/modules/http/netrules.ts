/**
 * k6's network options for `kiln run`, checked once (options.ts) and compiled per VU (transport):
 * `hosts` (names to addresses, `*.` wildcards, ports on either side), `blacklistIPs` (CIDR ranges
 * no request may reach: k6 error 1110), `blockHostnames` (names no request may even look up:
 * 1111), `noConnectionReuse`, `tlsVersion` ({min, max} or one version) and `tlsAuth` (client
 * certificates by domain).
 */
import net from 'node:net'
import type tls from 'node:tls'
import { ConfigError } from '../../errors.ts'

/** The options as the script (or --config, or flags) gave them: plain data, sent to worker threads. */
export interface NetOptions {
  hosts: Record<string, string>
  blacklistIPs: string[]
  blockHostnames: string[]
  noConnectionReuse: boolean
  tlsMin?: string
  tlsMax?: string
  tlsAuth: { domains: string[]; cert: string; key: string; password?: string }[]
  /** `localIPs` as IPv4 ranges [first, last] (numbers): VU n connects from the (n−1)th address, round robin. */
  localIPs?: [number, number][]
  /** k6's `dns` option: how long a VU keeps a name's addresses, which one it dials, which families. */
  dns?: DnsOptions
  /** `tlsCipherSuites` as OpenSSL names (TLS 1.2 ciphers and TLS 1.3 suites apart). */
  ciphers?: { tls12: string; tls13: string }
}

/**
 * k6's `tlsCipherSuites` names (Go's crypto/tls constants) to OpenSSL's. Go cannot choose TLS 1.3
 * suites, but k6 accepts their names: they restrict Node's TLS 1.3 list here.
 */
const CIPHER_SUITES: Record<string, string> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_AES_128_GCM_SHA256: 'TLS_AES_128_GCM_SHA256',
  TLS_AES_256_GCM_SHA384: 'TLS_AES_256_GCM_SHA384',
  TLS_CHACHA20_POLY1305_SHA256: 'TLS_CHACHA20_POLY1305_SHA256',
}

const ip4 = (s: string, what: string): number => {
  if (net.isIP(s) !== 4) throw new ConfigError(`${what}: '${s}' is not an IPv4 address (Kiln takes IPv4 addresses, ranges a-b and CIDRs)`)
  return s.split('.').reduce((a, p) => a * 256 + Number(p), 0)
}
const ip4Text = (n: number): string => [24, 16, 8, 0].map((b) => Math.floor(n / 2 ** b) % 256).join('.')

/** k6's `localIPs` ('10.0.0.2-10.0.0.5,10.0.1.0/30', or a list of those): ranges of source addresses. */
function localIPs(v: unknown): NetOptions['localIPs'] {
  if (v === undefined || v === null || v === '') return undefined
  const parts = (typeof v === 'string' ? v.split(',') : stringList(v, 'localIPs')).map((p) => p.trim()).filter(Boolean)
  return parts.map((p): [number, number] => {
    const slash = p.indexOf('/')
    if (slash >= 0) {
      const bits = Number(p.slice(slash + 1))
      if (!Number.isInteger(bits) || bits < 0 || bits > 32) throw new ConfigError(`localIPs: bad prefix length in '${p}'`)
      const size = 2 ** (32 - bits)
      const first = Math.floor(ip4(p.slice(0, slash), 'localIPs') / size) * size
      return [first, first + size - 1]
    }
    const dash = p.indexOf('-')
    const [a, b] =
      dash >= 0
        ? [ip4(p.slice(0, dash).trim(), 'localIPs'), ip4(p.slice(dash + 1).trim(), 'localIPs')]
        : [ip4(p, 'localIPs'), ip4(p, 'localIPs')]
    if (b < a) throw new ConfigError(`localIPs: '${p}' ends before it starts`)
    return [a, b]
  })
}

/** The source address of VU `vu` (1, 2, …): k6 hands the pool's addresses out in order, round robin. */
export function localAddress(ranges: NetOptions['localIPs'], vu: number): string | undefined {
  if (!ranges?.length) return undefined
  const total = ranges.reduce((n, [a, b]) => n + b - a + 1, 0)
  let i = (Math.max(1, vu) - 1) % total
  for (const [a, b] of ranges) {
    if (i <= b - a) return ip4Text(a + i)
    i -= b - a + 1
  }
  return undefined
}

export interface DnsOptions {
  /** ms; Infinity for k6's 'inf'. */
  ttlMs: number
  select: 'first' | 'random' | 'roundRobin'
  policy: 'preferIPv4' | 'preferIPv6' | 'onlyIPv4' | 'onlyIPv6' | 'any'
}
const DNS_SELECT = ['first', 'random', 'roundRobin'] as const
const DNS_POLICY = ['preferIPv4', 'preferIPv6', 'onlyIPv4', 'onlyIPv6', 'any'] as const

/** k6's `dns`: {ttl, select, policy} or 'ttl=5m,select=random,policy=preferIPv4' (K6_DNS, --dns); k6's defaults. */
function dnsOptions(v: unknown): DnsOptions | undefined {
  if (v === undefined || v === null || v === '') return undefined
  const o: Record<string, unknown> =
    typeof v === 'string'
      ? Object.fromEntries(v.split(',').map((kv) => kv.split('=').map((x) => x.trim()) as [string, string]))
      : isObj(v)
        ? v
        : {}
  if (typeof v !== 'string' && !isObj(v)) throw new ConfigError(`dns must be {ttl, select, policy}, got ${JSON.stringify(v)}`)
  for (const k of Object.keys(o))
    if (!['ttl', 'select', 'policy'].includes(k)) throw new ConfigError(`dns: unknown field '${k}' (ttl, select, policy)`)
  const ttl = o.ttl === undefined ? '5m' : String(o.ttl)
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(ttl)
  const ttlMs = ttl === 'inf' ? Infinity : m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'ms') as 'ms'] : NaN
  if (Number.isNaN(ttlMs)) throw new ConfigError(`dns.ttl: '${ttl}' is not a duration or 'inf'`)
  const select = (o.select ?? 'random') as DnsOptions['select']
  if (!DNS_SELECT.includes(select)) throw new ConfigError(`dns.select must be one of ${DNS_SELECT.join(', ')}, got '${String(select)}'`)
  const policy = (o.policy ?? 'preferIPv4') as DnsOptions['policy']
  if (!DNS_POLICY.includes(policy)) throw new ConfigError(`dns.policy must be one of ${DNS_POLICY.join(', ')}, got '${String(policy)}'`)
  return { ttlMs, select, policy }
}

function cipherSuites(v: unknown): NetOptions['ciphers'] {
  if (v === undefined || v === null) return undefined
  const names = stringList(v, 'tlsCipherSuites')
  const tls12: string[] = []
  const tls13: string[] = []
  for (const n of names) {
    const o = CIPHER_SUITES[n]
    if (!o) throw new ConfigError(`tlsCipherSuites: unknown cipher suite '${n}'; known: ${Object.keys(CIPHER_SUITES).join(', ')}`)
    ;(o.startsWith('TLS_') ? tls13 : tls12).push(o)
  }
  return { tls12: tls12.join(':'), tls13: tls13.join(':') }
}

const TLS_VERSIONS: Record<string, string> = { 'tls1.0': 'TLSv1', 'tls1.1': 'TLSv1.1', 'tls1.2': 'TLSv1.2', 'tls1.3': 'TLSv1.3' }

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Reads a list option given as an array or a comma-separated string (as the flags and K6_* give it). */
export function stringList(v: unknown, name: string): string[] {
  if (v === undefined || v === null) return []
  if (typeof v === 'string')
    return v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[]
  throw new ConfigError(`${name} must be a list of strings, got ${JSON.stringify(v)}`)
}

/** `name`, `name:port`, `1.2.3.4:port`, `::1` or `[::1]:port` as host and port (null: any). */
function hostPort(s: string): { host: string; port: number | null } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s)
  if (v6) return { host: v6[1]!, port: v6[2] === undefined ? null : Number(v6[2]) }
  if ((s.match(/:/g) ?? []).length > 1) return { host: s, port: null }
  const m = /^(.*):(\d+)$/.exec(s)
  return m ? { host: m[1]!, port: Number(m[2]) } : { host: s, port: null }
}

/** Validates the network options of a consolidated options object; throws ConfigError (exit 104). */
export function netOptions(o: Record<string, unknown>): NetOptions {
  const hosts: Record<string, string> = {}
  if (o.hosts !== undefined && o.hosts !== null) {
    if (!isObj(o.hosts))
      throw new ConfigError(`hosts must map names to addresses, e.g. { "test.example": "127.0.0.1" }, got ${JSON.stringify(o.hosts)}`)
    for (const [k, v] of Object.entries(o.hosts)) {
      if (typeof v !== 'string' || !net.isIP(hostPort(v).host))
        throw new ConfigError(`hosts: '${k}' must map to an IP address (with an optional :port), got ${JSON.stringify(v)}`)
      hosts[k.toLowerCase()] = v
    }
  }
  const blacklistIPs = stringList(o.blacklistIPs, 'blacklistIPs')
  for (const c of blacklistIPs) cidr(c)
  const blockHostnames = stringList(o.blockHostnames, 'blockHostnames').map((p) => p.toLowerCase())
  for (const p of blockHostnames) {
    if (!/^(\*\.)?[a-z0-9.-]+$/.test(p) && p !== '*')
      throw new ConfigError(`blockHostnames: '${p}' must be a hostname, with an optional leading *. wildcard`)
  }
  let tlsMin: string | undefined
  let tlsMax: string | undefined
  const tv = o.tlsVersion
  const version = (v: unknown, what: string): string => {
    const name = TLS_VERSIONS[String(v)]
    if (!name) throw new ConfigError(`${what} must be one of ${Object.keys(TLS_VERSIONS).join(', ')}, got ${JSON.stringify(v)}`)
    return name
  }
  if (typeof tv === 'string') tlsMin = tlsMax = version(tv, 'tlsVersion')
  else if (isObj(tv)) {
    if (tv.min !== undefined) tlsMin = version(tv.min, 'tlsVersion.min')
    if (tv.max !== undefined) tlsMax = version(tv.max, 'tlsVersion.max')
  } else if (tv !== undefined && tv !== null) throw new ConfigError(`tlsVersion must be a version or {min, max}, got ${JSON.stringify(tv)}`)
  const tlsAuth: NetOptions['tlsAuth'] = []
  if (o.tlsAuth !== undefined && o.tlsAuth !== null) {
    if (!Array.isArray(o.tlsAuth)) throw new ConfigError('tlsAuth must be a list of {domains, cert, key}')
    for (const [i, a] of o.tlsAuth.entries()) {
      if (!isObj(a) || typeof a.cert !== 'string' || typeof a.key !== 'string')
        throw new ConfigError(`tlsAuth[${i}] needs cert and key (PEM text, e.g. from open())`)
      tlsAuth.push({
        domains: stringList(a.domains, `tlsAuth[${i}].domains`).map((d) => d.toLowerCase()),
        cert: a.cert,
        key: a.key,
        ...(typeof a.password === 'string' ? { password: a.password } : {}),
      })
    }
  }
  const ciphers = cipherSuites(o.tlsCipherSuites)
  const local = localIPs(o.localIPs)
  const dnsOpts = dnsOptions(o.dns)
  return {
    hosts,
    blacklistIPs,
    blockHostnames,
    noConnectionReuse: o.noConnectionReuse === true,
    ...(tlsMin ? { tlsMin } : {}),
    ...(tlsMax ? { tlsMax } : {}),
    tlsAuth,
    ...(ciphers ? { ciphers } : {}),
    ...(local ? { localIPs: local } : {}),
    ...(dnsOpts ? { dns: dnsOpts } : {}),
  }
}

function cidr(c: string): { text: string; list: net.BlockList } {
  const [ip, bits] = c.split('/')
  const family = net.isIP(ip ?? '')
  const n = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits)
  if (!family || !Number.isInteger(n) || n < 0 || n > (family === 6 ? 128 : 32))
    throw new ConfigError(`blacklistIPs: '${c}' is not an IP range; write it as CIDR, e.g. 10.0.0.0/8`)
  const list = new net.BlockList()
  list.addSubnet(ip!, n, family === 6 ? 'ipv6' : 'ipv4')
  return { text: c, list }
}

/** The rules a VU's transport applies to every connection. */
export interface NetRules {
  /** The address to dial for a URL's host and port (the name stays in Host, SNI and tags). */
  target(host: string, port: number): { host: string; port: number }
  /** The blocked pattern `host` matches, or null. */
  blockedBy(host: string): string | null
  /** The blacklisted range `ip` is in, or null. */
  blacklistedBy(ip: string): string | null
  noReuse: boolean
  /** k6's `dns` option, if given. */
  dns?: DnsOptions
  /** The address this VU's connections start from (`localIPs`), if any. */
  localAddress?: string
  /** tls.connect options for a host: versions and a client certificate. */
  tls(host: string): {
    minVersion?: tls.SecureVersion
    maxVersion?: tls.SecureVersion
    cert?: string
    key?: string
    passphrase?: string
    ciphers?: string
  }
}

const matches = (pattern: string, host: string): boolean =>
  pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : pattern === '*' || pattern === host

export function netRules(o: NetOptions | undefined, vu = 0): NetRules {
  const local = localAddress(o?.localIPs, vu)
  const hosts = Object.entries(o?.hosts ?? {}).map(([k, v]) => ({ from: hostPort(k), to: hostPort(v) }))
  const ranges = (o?.blacklistIPs ?? []).map(cidr)
  const blocked = o?.blockHostnames ?? []
  const auth = o?.tlsAuth ?? []
  return {
    target(host, port) {
      const h = host.toLowerCase()
      // An entry with the port wins over one without; exact names over wildcards.
      const hit =
        hosts.find((e) => e.from.port === port && e.from.host === h) ??
        hosts.find((e) => e.from.port === null && e.from.host === h) ??
        hosts.find((e) => e.from.port === port && matches(e.from.host, h)) ??
        hosts.find((e) => e.from.port === null && matches(e.from.host, h))
      return hit ? { host: hit.to.host, port: hit.to.port ?? port } : { host, port }
    },
    blockedBy: (host) => blocked.find((p) => matches(p, host.toLowerCase())) ?? null,
    blacklistedBy(ip) {
      const family = net.isIP(ip) === 6 ? 'ipv6' : 'ipv4'
      return ranges.find((r) => r.list.check(ip, family))?.text ?? null
    },
    noReuse: o?.noConnectionReuse === true,
    ...(local ? { localAddress: local } : {}),
    ...(o?.dns ? { dns: o.dns } : {}),
    tls(host) {
      const a = auth.find((x) => x.domains.some((d) => matches(d, host.toLowerCase())))
      return {
        ...(o?.tlsMin ? { minVersion: o.tlsMin as tls.SecureVersion } : {}),
        ...(o?.tlsMax ? { maxVersion: o.tlsMax as tls.SecureVersion } : {}),
        ...(a ? { cert: a.cert, key: a.key, ...(a.password ? { passphrase: a.password } : {}) } : {}),
        // One list, as Node takes it: it hands TLS 1.3 suite names to OpenSSL apart from the others.
        ...(o?.ciphers ? { ciphers: [o.ciphers.tls13, o.ciphers.tls12].filter(Boolean).join(':') } : {}),
      }
    },
  }
}
