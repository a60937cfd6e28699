/**
 * HTTP/1.x start lines and header blocks (RFC 9112 §3–5), parsed leniently: what is known is kept.
 * A Head is never changed once parsed: a reader hands the same one out again for a repeated head.
 */

export interface Head {
  kind: 'req' | 'resp'
  method: string
  path: string
  status: number
  message: string
  major: number
  minor: number
  /** The header fields as a JSON object's text, name → value, repeated names joined with ", " (the row's req_headers/resp_headers). */
  headersJson: string
  /** The fields the framing and content_type read, whatever their case (repeated ones joined). */
  contentType: string | undefined
  contentLength: string | undefined
  transferEncoding: string | undefined
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
  const head: Head = {
    kind,
    method: '',
    path: '',
    status: 0,
    message: '',
    major: 1,
    minor: 1,
    headersJson: '{}',
    contentType: undefined,
    contentLength: undefined,
    transferEncoding: undefined,
  }
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
  // Name and value pairs, turned into the JSON text at once: an object per head (its names made
  // property keys) and JSON.stringify of it cost twice as much.
  const fields: string[] = []
  while (nl >= 0) {
    const start = nl + 1
    nl = text.indexOf('\n', start)
    const l = line(text, start, nl < 0 ? text.length : nl)
    const colon = l.indexOf(':')
    if (colon <= 0) continue
    const name = l.slice(0, colon).trim()
    const value = l.slice(colon + 1).trim()
    if (name === '' || hasSpace(name)) continue
    fields.push(name, value)
    // Compared case-blind only when its length is a kept name's: most fields are never lower-cased.
    if (name.length === 12) {
      if (name.toLowerCase() === 'content-type') head.contentType = join(head.contentType, value)
    } else if (name.length === 14) {
      if (name.toLowerCase() === 'content-length') head.contentLength = join(head.contentLength, value)
    } else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') head.transferEncoding = join(head.transferEncoding, value)
  }
  if (fields.length) head.headersJson = headersJson(fields)
  return head
}

/**
 * `{"name":"value",…}` as JSON.stringify writes it for an object built in this order. Repeated
 * fields join with ", " as RFC 9110 §5.3 allows (Set-Cookie included, as Pixie's JSON has one value
 * per name), and names that are array indices go first in an object: both rare, both left to an object.
 */
function headersJson(fields: string[]): string {
  let json = '{'
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!
    for (let j = 0; j < i; j += 2) if (fields[j] === name) return viaObject(fields)
    if (isIndex(name)) return viaObject(fields)
    json += `${i ? ',' : ''}${quote(name)}:${quote(fields[i + 1]!)}`
  }
  return `${json}}`
}

function viaObject(fields: string[]): string {
  const o: Record<string, string> = {}
  for (let i = 0; i < fields.length; i += 2) {
    const [name, value] = [fields[i]!, fields[i + 1]!]
    o[name] = o[name] === undefined ? value : `${o[name]}, ${value}`
  }
  return JSON.stringify(o)
}

const isIndex = (name: string) => /^(0|[1-9]\d{0,9})$/.test(name) && Number(name) < 4294967295
// Latin-1 text needs JSON escapes only for these (no lone surrogates there).
const needsEscape = /["\\\u0000-\u001f]/
const quote = (s: string) => (needsEscape.test(s) ? JSON.stringify(s) : `"${s}"`)

const join = (prev: string | undefined, value: string) => (prev === undefined ? value : `${prev}, ${value}`)

/** Whether a name holds whitespace as /\s/ sees it in Latin-1 text (heads are decoded as Latin-1): a char loop, not a regex per field. */
function hasSpace(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i)
    if (c === 32 || (c >= 9 && c <= 13) || c === 160) return true
  }
  return false
}

/** text[start, end) without a CR at its end. */
const line = (text: string, start: number, end: number) => text.slice(start, end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end)

/** Body framing of a message (RFC 9112 §6.3). `bodyless` says the request was HEAD, or the status has no body. */
export function framing(h: Head, bodyless: boolean): { mode: 'none' | 'length' | 'chunked' | 'close'; length: number } {
  if (bodyless) return { mode: 'none', length: 0 }
  if (h.kind === 'resp' && ((h.status >= 100 && h.status < 200) || h.status === 204 || h.status === 304)) return { mode: 'none', length: 0 }
  const te = h.transferEncoding
  if (te !== undefined && /(^|,)\s*chunked\s*$/i.test(te)) return { mode: 'chunked', length: 0 }
  const cl = h.contentLength
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
