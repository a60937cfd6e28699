/** Name lookups for `kiln run`'s connections (HTTP and gRPC): k6's blacklistIPs and `dns` option. */
import net from 'node:net'
import dns from 'node:dns'
import type { NetRules } from './netrules.ts'

/** An Error with a code, as Node's network errors carry one (k6's error codes are derived from it). */
export function errno(message: string, code: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(message)
  e.code = code
  return e
}

/** k6 error 1110 for an address in blacklistIPs, or null. */
function blacklisted(rules: NetRules, ip: string): NodeJS.ErrnoException | null {
  const range = rules.blacklistedBy(ip)
  return range ? errno(`IP (${ip}) is in a blacklisted range (${range})`, 'KILN_BLACKLISTED_IP') : null
}

/**
 * Why a connection to `host` is refused before any lookup (HTTP, gRPC and WebSockets alike): the
 * name in blockHostnames (k6 error 1111), or the address dialled — written in the URL or given by
 * `hosts`, so never looked up — in blacklistIPs (1110). Null when it may go ahead.
 */
export function refusedBeforeLookup(rules: NetRules, host: string, dialled: string): NodeJS.ErrnoException | null {
  const pattern = rules.blockedBy(host)
  if (pattern) return errno(`hostname (${host}) is in a blocked pattern (${pattern})`, 'KILN_BLOCKED_HOSTNAME')
  return net.isIP(dialled) ? blacklisted(rules, dialled) : null
}

/**
 * DNS through the blacklist: an address in a blacklisted range fails the connection before it is
 * dialled (k6 error 1110). Node calls this with `all: true` (trying each address in turn).
 */
export function checkedLookup(rules: NetRules): net.LookupFunction {
  return (hostname, options, callback) => {
    const banned = (ip: string) => blacklisted(rules, ip)
    if (rules.dns) {
      return resolveWithPolicy(rules, hostname, (err, a) => {
        if (err || !a) return callback(err ?? errno(`lookup ${hostname}: no address`, 'ENOTFOUND'), '', 4)
        const bad = banned(a.address)
        if (bad) return callback(bad, '', 4)
        if ((options as dns.LookupOptions).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, [a])
        callback(null, a.address, a.family)
      })
    }
    dns.lookup(hostname, options, (err, address, family) => {
      if (err) return callback(err, address as string, family)
      if (Array.isArray(address)) {
        const bad = address.map((a) => banned(a.address)).find(Boolean)
        return bad ? callback(bad, '', 4) : (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, address)
      }
      const bad = banned(address)
      return bad ? callback(bad, '', 4) : callback(null, address, family)
    })
  }
}

/** A VU's looked-up names under k6's `dns` option: addresses kept for `ttl`, a round-robin cursor. */
const dnsCaches = new WeakMap<NetRules, Map<string, { addrs: dns.LookupAddress[]; until: number; next: number }>>()

/**
 * k6's `dns`: the name's addresses filtered and ordered by `policy` (preferIPv4 puts IPv4 first,
 * onlyIPv6 drops the others…), kept for `ttl`, and one of them dialled by `select`.
 */
function resolveWithPolicy(
  rules: NetRules,
  hostname: string,
  cb: (err: NodeJS.ErrnoException | null, a?: dns.LookupAddress) => void,
): void {
  const o = rules.dns!
  let cache = dnsCaches.get(rules)
  if (!cache) dnsCaches.set(rules, (cache = new Map()))
  const pick = (e: { addrs: dns.LookupAddress[]; next: number }): void => {
    if (!e.addrs.length) return cb(errno(`lookup ${hostname}: no address allowed by dns.policy ${o.policy}`, 'ENOTFOUND'))
    const i = o.select === 'first' ? 0 : o.select === 'random' ? Math.floor(Math.random() * e.addrs.length) : e.next++ % e.addrs.length
    cb(null, e.addrs[i])
  }
  const hit = cache.get(hostname)
  if (hit && hit.until > performance.now()) return pick(hit)
  dns.lookup(hostname, { all: true }, (err, all) => {
    if (err) return cb(err)
    const v4 = all.filter((a) => a.family === 4)
    const v6 = all.filter((a) => a.family === 6)
    const addrs =
      o.policy === 'onlyIPv4'
        ? v4
        : o.policy === 'onlyIPv6'
          ? v6
          : o.policy === 'preferIPv4'
            ? v4.length
              ? v4
              : v6
            : o.policy === 'preferIPv6'
              ? v6.length
                ? v6
                : v4
              : all
    const e = { addrs, until: performance.now() + o.ttlMs, next: 0 }
    cache.set(hostname, e)
    pick(e)
  })
}
