/** HTTP/1.x start lines and header blocks (RFC 9112 §3–5), parsed leniently: what is known is kept. */

export interface Head {
  kind: 'req' | 'resp'
  method: string
  path: string
  status: number
  message: string
  major: number
  minor: number
  headers: Record<string, string>
  /** Lower-case name → value of the fields the framing and content_type read (`kept` below), no others. */
  lower: Map<string, string>
}

const reqLine = /^([A-Z][A-Z0-9_-]{0,19}) (\S+)(?: HTTP\/(\d)\.(\d))?/
const respLine = /^HTTP\/(\d)\.(\d) (\d{3})(?: (.*))?/

/** Methods that open a request when capture has to find a message start (resync, inference). */
export const methods = [
  'GET',
  'POST',
  'PUT',
  'DELETE',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'CONNECT',
  'TRACE',
  'PROPFIND',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'LOCK',
  'UNLOCK',
  'PURGE',
]

/** Whether `b` starts like a request ("GET /…") or a response ("HTTP/1.1 200"), as far as it goes. */
export function looksLikeStart(b: Buffer, kind: 'req' | 'resp'): boolean {
  if (kind === 'resp') {
    if (b.length < 5) return false
    const s = b.toString('latin1', 0, Math.min(b.length, 9))
    return 'HTTP/1.1 '.startsWith(s) || 'HTTP/1.0 '.startsWith(s)
  }
  const sp = b.indexOf(0x20)
  if (sp < 3 || sp > 9) return false
  const m = b.toString('latin1', 0, sp)
  if (!methods.includes(m)) return false
  const c = b[sp + 1]
  // Origin form "/…", absolute form "http://…", authority form for CONNECT, "*" for OPTIONS.
  return c === undefined || c === 0x2f || c === 0x68 || c === 0x2a || m === 'CONNECT'
}

/**
 * Parses the head text (start line and header lines, without the blank line). A head cut by a
 * capture gap parses too: the lines that are complete, and the start line as far as it goes.
 */
export function parseHead(text: string, kind: 'req' | 'resp'): Head | null {
  // Lines split on LF with a CR before it dropped, as split(/\r?\n/) would, without the array.
  let nl = text.indexOf('\n')
  const first = line(text, 0, nl < 0 ? text.length : nl)
  const head: Head = { kind, method: '', path: '', status: 0, message: '', major: 1, minor: 1, headers: {}, lower: new Map() }
  if (kind === 'req') {
    const m = reqLine.exec(first)
    if (!m) return null
    head.method = m[1]!
    head.path = m[2]!
    if (m[3] !== undefined) {
      head.major = Number(m[3])
      head.minor = Number(m[4])
    }
  } else {
    const m = respLine.exec(first)
    if (!m) return null
    head.major = Number(m[1])
    head.minor = Number(m[2])
    head.status = Number(m[3])
    head.message = m[4] ?? ''
  }
  while (nl >= 0) {
    const start = nl + 1
    nl = text.indexOf('\n', start)
    const l = line(text, start, nl < 0 ? text.length : nl)
    const colon = l.indexOf(':')
    if (colon <= 0) continue
    const name = l.slice(0, colon).trim()
    const value = l.slice(colon + 1).trim()
    if (name === '' || /[\s]/.test(name)) continue
    // Repeated fields join with ", " as RFC 9110 §5.3 allows (Set-Cookie included, as Pixie's JSON has one value per name).
    head.headers[name] = head.headers[name] === undefined ? value : `${head.headers[name]}, ${value}`
    // Lower-cased only when its length is a kept name's: most fields are never lower-cased.
    if (!keptLengths.has(name.length)) continue
    const low = name.toLowerCase()
    if (!kept.has(low)) continue
    const prev = head.lower.get(low)
    head.lower.set(low, prev === undefined ? value : `${prev}, ${value}`)
  }
  return head
}

const kept = new Set(['content-type', 'content-length', 'transfer-encoding'])
const keptLengths = new Set([...kept].map((n) => n.length))

/** text[start, end) without a CR at its end. */
const line = (text: string, start: number, end: number) => text.slice(start, end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end)

/** Body framing of a message (RFC 9112 §6.3). `bodyless` says the request was HEAD, or the status has no body. */
export function framing(h: Head, bodyless: boolean): { mode: 'none' | 'length' | 'chunked' | 'close'; length: number } {
  if (bodyless) return { mode: 'none', length: 0 }
  if (h.kind === 'resp' && ((h.status >= 100 && h.status < 200) || h.status === 204 || h.status === 304)) return { mode: 'none', length: 0 }
  const te = h.lower.get('transfer-encoding')
  if (te !== undefined && /(^|,)\s*chunked\s*$/i.test(te)) return { mode: 'chunked', length: 0 }
  const cl = h.lower.get('content-length')
  if (cl !== undefined) {
    // "12, 12" (a repeated field) is one length; anything else non-numeric is no length.
    const first = cl.split(',')[0]!.trim()
    if (/^\d{1,15}$/.test(first)) return { mode: 'length', length: Number(first) }
  }
  if (h.kind === 'req') return { mode: 'none', length: 0 }
  return { mode: 'close', length: 0 }
}

/** content_type: 1 JSON, 2 gRPC, 0 anything else (Pixie's HTTPContentType). */
export function contentType(value: string | undefined): number {
  if (!value) return 0
  const v = value.toLowerCase()
  if (v.startsWith('application/grpc')) return 2
  if (v.includes('json')) return 1
  return 0
}
