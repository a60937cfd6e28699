/**
 * HTTP authentication from credentials in the URL, as k6 does it: `basic` (the default) sends
 * them at once; `digest` (RFC 7616) sends the request without them, answers the server's 401
 * challenge, and sends it again authorized; `ntlm` (ntlm.ts) negotiates, then answers the
 * challenge on the same connection.
 */
import { createHash, randomBytes } from 'node:crypto'
import { authenticateMessage, negotiateMessage, parseChallengeMessage, type Challenge } from './ntlm.ts'

export interface Credentials {
  user: string
  pass: string
  kind: 'basic' | 'digest' | 'ntlm'
}

/** Takes the credentials out of `url` (they are never sent as part of it). */
export function takeCredentials(url: URL, kind: string | undefined): Credentials | null {
  if (!url.username && !url.password) return null
  const c: Credentials = {
    user: decodeURIComponent(url.username),
    pass: decodeURIComponent(url.password),
    kind: kind === 'digest' || kind === 'ntlm' ? kind : 'basic',
  }
  url.username = ''
  url.password = ''
  return c
}

export const basicAuthorization = (c: Credentials): string => 'Basic ' + Buffer.from(`${c.user}:${c.pass}`).toString('base64')

/** The parameters of a `Digest` challenge in WWW-Authenticate headers; null when there is none. */
export function parseDigestChallenge(header: string | string[] | undefined): Record<string, string> | null {
  for (const h of [header ?? []].flat()) {
    const m = /(?:^|,\s*)Digest\s+(.*)$/i.exec(h)
    if (!m) continue
    const params: Record<string, string> = {}
    const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g
    for (let p = re.exec(m[1]!); p; p = re.exec(m[1]!))
      params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!
    if (params.nonce !== undefined) return params
  }
  return null
}

const HASHES: Record<string, string> = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' }

/** The Authorization header answering `challenge` (RFC 7616 §3.4), or null for an algorithm or qop it cannot do. */
export function digestAuthorization(
  c: Credentials,
  challenge: Record<string, string>,
  o: { method: string; uri: string; body?: Buffer; nc?: number; cnonce?: string },
): string | null {
  const algorithm = challenge.algorithm ?? 'MD5'
  const sess = /-sess$/i.test(algorithm)
  const alg = HASHES[algorithm.replace(/-sess$/i, '').toUpperCase()]
  if (!alg) return null
  const H = (s: string | Buffer): string => createHash(alg).update(s).digest('hex')
  const qops = (challenge.qop ?? '')
    .split(',')
    .map((q) => q.trim())
    .filter(Boolean)
  const qop = qops.includes('auth') ? 'auth' : qops.includes('auth-int') ? 'auth-int' : qops.length ? null : ''
  if (qop === null) return null
  const realm = challenge.realm ?? ''
  const nonce = challenge.nonce ?? ''
  const cnonce = o.cnonce ?? randomBytes(8).toString('hex')
  const nc = (o.nc ?? 1).toString(16).padStart(8, '0')
  let ha1 = H(`${c.user}:${realm}:${c.pass}`)
  if (sess) ha1 = H(`${ha1}:${nonce}:${cnonce}`)
  const ha2 = qop === 'auth-int' ? H(`${o.method}:${o.uri}:${H(o.body ?? Buffer.alloc(0))}`) : H(`${o.method}:${o.uri}`)
  const response = qop ? H(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : H(`${ha1}:${nonce}:${ha2}`)
  const q = (s: string): string => `"${s.replace(/(["\\])/g, '\\$1')}"`
  const parts = [
    `username=${q(c.user)}`,
    `realm=${q(realm)}`,
    `nonce=${q(nonce)}`,
    `uri=${q(o.uri)}`,
    `algorithm=${algorithm}`,
    `response=${q(response)}`,
  ]
  if (challenge.opaque !== undefined) parts.push(`opaque=${q(challenge.opaque)}`)
  if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce=${q(cnonce)}`)
  return 'Digest ' + parts.join(', ')
}

/**
 * One request's authentication: the Authorization header of each send, and whether a response
 * was the challenge step (a 401 that k6 does not count as failed, followed by the answer).
 */
export class AuthFlow {
  private digest: Record<string, string> | null = null
  private ntlm: Challenge | null = null

  constructor(private readonly c: Credentials) {}

  header(method: string, url: URL, body: Buffer | undefined): string | null {
    switch (this.c.kind) {
      case 'basic':
        return basicAuthorization(this.c)
      case 'digest':
        return this.digest ? digestAuthorization(this.c, this.digest, { method, uri: url.pathname + url.search, body }) : null
      case 'ntlm':
        return 'NTLM ' + (this.ntlm ? authenticateMessage(this.c.user, this.c.pass, this.ntlm) : negotiateMessage())
    }
  }

  /** Takes in a response; true when it carried the challenge and the request goes again. */
  challenged(status: number, wwwAuthenticate: string | string[] | undefined): boolean {
    if (status !== 401 || this.digest || this.ntlm) return false
    if (this.c.kind === 'digest') this.digest = parseDigestChallenge(wwwAuthenticate)
    if (this.c.kind === 'ntlm') this.ntlm = parseChallengeMessage(wwwAuthenticate)
    return !!(this.digest || this.ntlm)
  }
}
