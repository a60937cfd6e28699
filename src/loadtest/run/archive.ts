/**
 * `kiln archive` bundles: a ustar file with `metadata.json` (script path, options) and every file
 * the script's init read (modules, open()), stored under `files/<absolute path>`. `kiln run x.tar`
 * reads them from memory, so the archive runs on another machine without the original tree.
 */
import { ScriptError } from '../errors.ts'

const BLOCK = 512

function header(name: string, size: number): Buffer {
  const h = Buffer.alloc(BLOCK)
  let prefix = ''
  let base = name
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 155)
    if (cut <= 0 || Buffer.byteLength(name.slice(cut + 1)) > 100) throw new ScriptError(`path too long for an archive: ${name}`)
    prefix = name.slice(0, cut)
    base = name.slice(cut + 1)
  }
  const put = (s: string, off: number, len: number): void => void h.write(s, off, len, 'utf8')
  const oct = (n: number, len: number): string => n.toString(8).padStart(len - 1, '0') + '\0'
  put(base, 0, 100)
  put(oct(0o644, 8), 100, 8)
  put(oct(0, 8), 108, 8)
  put(oct(0, 8), 116, 8)
  put(oct(size, 12), 124, 12)
  put(oct(Math.floor(Date.now() / 1000), 12), 136, 12)
  put('        ', 148, 8) // checksum field counts as spaces while summing
  put('0', 156, 1)
  put('ustar\0', 257, 6)
  put('00', 263, 2)
  put(prefix, 345, 155)
  let sum = 0
  for (const b of h) sum += b
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8)
  return h
}

/** Writes a tar of `entries` (name → bytes). */
export function writeTar(entries: Map<string, Buffer>): Buffer {
  const parts: Buffer[] = []
  for (const [name, data] of entries) {
    parts.push(header(name, data.length), data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK))
  }
  parts.push(Buffer.alloc(BLOCK * 2))
  return Buffer.concat(parts)
}

/** Reads a tar into name → bytes; throws a ScriptError on a damaged archive. */
export function readTar(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  let off = 0
  while (off + BLOCK <= buf.length) {
    const h = buf.subarray(off, off + BLOCK)
    if (h.every((b) => b === 0)) break
    const str = (a: number, len: number): string => h.toString('utf8', a, a + len).replace(/\0.*$/s, '')
    let sum = 0
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!
    const size = parseInt(str(124, 12).trim() || '0', 8)
    if (parseInt(str(148, 8).trim(), 8) !== sum || !Number.isFinite(size) || size < 0 || off + BLOCK + size > buf.length) {
      throw new ScriptError(`damaged archive: bad tar header at byte ${off}`)
    }
    const prefix = str(345, 155)
    const name = (prefix ? prefix + '/' : '') + str(0, 100)
    const type = str(156, 1)
    if (type === '0' || type === '') out.set(name, Buffer.from(buf.subarray(off + BLOCK, off + BLOCK + size)))
    off += BLOCK + Math.ceil(size / BLOCK) * BLOCK
  }
  return out
}

export interface ArchiveMeta {
  filename: string // absolute path of the main script
  options: Record<string, unknown>
  kiln: string
}

/** Bundles the script and the files it read. */
export function makeArchive(meta: ArchiveMeta, files: Map<string, Buffer>): Buffer {
  const entries = new Map<string, Buffer>([['metadata.json', Buffer.from(JSON.stringify(meta, null, 2))]])
  // Remote modules (by URL) go under remote/, so an archive runs without the network.
  for (const [abs, data] of files) entries.set(/^https?:\/\//i.test(abs) ? `remote/${abs}` : `files${abs}`, data)
  return writeTar(entries)
}

/** Opens an archive: its metadata and its files by absolute path. */
export function openArchive(buf: Buffer): { meta: ArchiveMeta; files: Map<string, Buffer> } {
  const tar = readTar(buf)
  const m = tar.get('metadata.json')
  if (!m) throw new ScriptError('not a Kiln archive: metadata.json is missing (make one with kiln archive)')
  const meta = JSON.parse(m.toString()) as ArchiveMeta
  const files = new Map<string, Buffer>()
  for (const [name, data] of tar) {
    if (name.startsWith('files/')) files.set(name.slice('files'.length), data)
    else if (name.startsWith('remote/')) files.set(name.slice('remote/'.length), data)
  }
  if (!files.has(meta.filename)) throw new ScriptError(`damaged archive: the script ${meta.filename} is missing`)
  return { meta, files }
}
