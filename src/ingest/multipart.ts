import { KilnError } from '../model/errors.ts'

export interface Part {
  name: string
  filename?: string
  contentType?: string
  data: Buffer
}

/** Parses a buffered multipart/form-data body (RFC 7578). */
export function parseMultipart(body: Buffer, contentType: string): Part[] {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType)
  const boundary = m?.[1] ?? m?.[2]
  if (!boundary) throw new KilnError('KILN_BAD_REQUEST', 'multipart/form-data body without a boundary in its Content-Type')
  const delim = Buffer.from(`--${boundary}`)
  const parts: Part[] = []
  let pos = body.indexOf(delim)
  if (pos < 0) throw new KilnError('KILN_BAD_REQUEST', 'multipart body does not contain its boundary; is the Content-Type right?')
  for (;;) {
    pos += delim.length
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break // closing --boundary--
    if (body[pos] === 0x0d) pos += 2
    else if (body[pos] === 0x0a) pos += 1
    const headerEnd = body.indexOf('\r\n\r\n', pos)
    if (headerEnd < 0) throw new KilnError('KILN_BAD_REQUEST', 'multipart part without the blank line after its headers (truncated body?)')
    const headers = body.subarray(pos, headerEnd).toString('utf8').split('\r\n')
    const next = body.indexOf(delim, headerEnd + 4)
    if (next < 0) throw new KilnError('KILN_BAD_REQUEST', 'multipart body ends without its closing boundary (truncated body?)')
    let end = next
    if (body[end - 2] === 0x0d && body[end - 1] === 0x0a) end -= 2
    const part: Part = { name: '', data: body.subarray(headerEnd + 4, end) }
    for (const h of headers) {
      const [k, ...rest] = h.split(':')
      const v = rest.join(':').trim()
      if (k?.toLowerCase() === 'content-disposition') {
        part.name = /\bname="([^"]*)"/i.exec(v)?.[1] ?? ''
        const fn = /\bfilename="([^"]*)"/i.exec(v)?.[1]
        if (fn !== undefined) part.filename = fn
      } else if (k?.toLowerCase() === 'content-type') part.contentType = v
    }
    parts.push(part)
    pos = next
  }
  return parts
}
