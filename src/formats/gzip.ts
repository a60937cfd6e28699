/**
 * Gzip at the edge of every decoder: SDKs send pprof gzipped, users upload `.json.gz`. Inflating
 * is where a small body becomes a large one, so the output size is capped before it is allocated.
 */
import { gunzipSync, gzipSync } from 'node:zlib'
import { KilnError } from '../model/errors.ts'

/**
 * 64 MiB of decompressed profile: the largest pprof the fixtures' SDKs send is under 1 MiB, and
 * a 64 MiB body already decodes to millions of samples. A 1 MiB bomb would otherwise inflate to 1 GiB.
 */
export const defaultMaxBytes = 64 << 20

export interface GunzipOptions {
  /** Largest decompressed size accepted; more is KILN_TOO_LARGE. */
  maxBytes?: number
}

/** True when the bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b
}

/** Gunzips when the gzip magic is there, else returns the bytes as they are. */
export function maybeGunzip(bytes: Uint8Array, opts: GunzipOptions = {}): Uint8Array {
  if (!isGzip(bytes)) return bytes
  const maxBytes = opts.maxBytes ?? defaultMaxBytes
  try {
    const out = gunzipSync(bytes, { maxOutputLength: Math.max(1, maxBytes) })
    return new Uint8Array(out.buffer, out.byteOffset, out.length)
  } catch (e) {
    const code = (e as { code?: string }).code
    if (code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
      throw new KilnError(
        'KILN_TOO_LARGE',
        `gzip body inflates to more than ${maxBytes} bytes; send a smaller profile or raise the decompressed-size limit`,
      )
    }
    const what = code === 'Z_BUF_ERROR' ? 'is truncated (unexpected end of data)' : `is corrupt (${(e as Error).message})`
    throw new KilnError('KILN_BAD_GZIP', `gzip body of ${bytes.length} bytes ${what}; send the whole file, or send it uncompressed`)
  }
}

/** Gzips bytes (level 6, zlib's default: what Go's and Node's SDKs send). */
export function gzip(bytes: Uint8Array): Uint8Array {
  const out = gzipSync(bytes)
  return new Uint8Array(out.buffer, out.byteOffset, out.length)
}
