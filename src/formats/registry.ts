/**
 * Format detection: a registry of `{ name, sniff, decode }`. The sniffs are disjoint by
 * construction (binary pprof, a JSON object, other text), so their order does not matter;
 * `lines` cannot be told from folded text by content and is only chosen by name.
 */
import { KilnError } from '../model/errors.ts'
import type { Profile, ValueType } from '../model/profile.ts'
import { maybeGunzip } from './gzip.ts'
import { decodePprof, sniffPprof, type DecodeOptions } from './pprof.ts'
import { decodeSpeedscope, sniffJsonObject } from './speedscope.ts'
import { decodeFolded, decodeLines } from './folded.ts'
import { sniffText } from './sniff.ts'
import { decodeJfr, sniffJfr } from './jfr.ts'

export interface AnyOptions extends DecodeOptions {
  /** A format name (`pprof`, `folded`/`groups`, `lines`, `speedscope`) or a file name. */
  nameHint?: string
  /** Sample type for the text formats, which do not carry one. */
  sampleType?: ValueType
}

export interface Format {
  name: string
  /** File name endings (after any `.gz`), longest first. */
  extensions: readonly string[]
  /** Cheap content check on gunzipped bytes; true for at most one format. */
  sniff(bytes: Uint8Array): boolean
  /** null: not this format; throws a located KilnError: this format, but broken. */
  decode(bytes: Uint8Array, opts?: AnyOptions): Profile | null
}

// Text that is not a JSON object (sniffPprof is false for all text).
const sniffFolded = (b: Uint8Array): boolean => sniffText(b) && !sniffJsonObject(b)

export const formats = {
  pprof: {
    name: 'pprof',
    extensions: ['.pb', '.pprof', '.prof', '.pb.gz'],
    sniff: sniffPprof,
    decode: (b, o) => (sniffPprof(b) ? decodePprof(b, o) : null),
  },
  speedscope: {
    name: 'speedscope',
    extensions: ['.speedscope.json'],
    sniff: sniffJsonObject,
    decode: (b, o) => decodeSpeedscope(b, o),
  },
  folded: {
    name: 'folded',
    extensions: ['.folded', '.collapsed', '.txt'],
    sniff: sniffFolded,
    decode: (b, o) => (sniffFolded(b) ? decodeFolded(b, o) : null),
  },
  jfr: {
    name: 'jfr',
    extensions: ['.jfr'],
    sniff: sniffJfr,
    // A recording holds several profiles (CPU, allocations, locks): this gives the first; decodeJfr gives all.
    decode: (b, o) => {
      if (!sniffJfr(b)) return null
      const first = decodeJfr(b, o)[0]
      if (!first)
        throw new KilnError(
          'KILN_BAD_JFR',
          'the JFR recording holds no samples (no execution, allocation or lock events); record with profiling enabled',
        )
      return first.profile
    },
  },
  lines: {
    name: 'lines',
    extensions: ['.lines'],
    sniff: () => false,
    decode: (b, o) => (sniffFolded(b) ? decodeLines(b, o) : null),
  },
} as const satisfies Record<string, Format>

export type FormatName = keyof typeof formats
const formatList: readonly Format[] = Object.values(formats)

// Pyroscope's `format=` values that name the same thing differently.
const aliases: Record<string, FormatName> = {
  jfr: 'jfr',
  groups: 'folded',
  collapsed: 'folded',
  speedscope: 'speedscope',
  pprof: 'pprof',
  folded: 'folded',
  lines: 'lines',
}

/** The format a name says: a format name (`groups`, `pprof`, …) or a file name by its ending. */
export function formatForName(name: string): FormatName | undefined {
  const n = name.toLowerCase()
  if (Object.hasOwn(aliases, n)) return aliases[n]
  const base = n.endsWith('.gz') ? n.slice(0, -3) : n
  for (const [key, f] of Object.entries(formats)) if (f.extensions.some((e) => base.endsWith(e))) return key as FormatName
  return undefined
}

/** The format the content says (gunzipped bytes), or undefined. */
export function sniffFormat(bytes: Uint8Array): FormatName | undefined {
  const f = formatList.find((x) => x.sniff(bytes))
  return f?.name as FormatName | undefined
}

/** Decodes any known format, gunzipping first; a name hint picks the format, else the content does. */
export function decodeAny(input: Uint8Array, opts: AnyOptions = {}): { format: FormatName; profile: Profile } {
  const bytes = maybeGunzip(input, opts)
  if (bytes.length === 0)
    throw new KilnError('KILN_BAD_FORMAT', 'the profile is empty (0 bytes); send pprof, folded stacks or speedscope JSON')
  const sniffed = sniffFormat(bytes)
  const hinted = opts.nameHint ? formatForName(opts.nameHint) : undefined
  const format = hinted ?? sniffed
  if (!format) throw new KilnError('KILN_BAD_FORMAT', 'cannot tell the format: the content is not pprof, speedscope JSON or folded text')
  const profile = formats[format].decode(bytes, opts)
  if (profile) return { format, profile }
  const looks =
    sniffed && sniffed !== format
      ? `it looks like ${sniffed}`
      : sniffed
        ? 'it is JSON but not a speedscope file ($schema, shared.frames, profiles)'
        : 'it is none of pprof, speedscope JSON or folded text'
  throw new KilnError('KILN_BAD_FORMAT', `the profile is not ${format}: ${looks}; fix the format or leave it out to detect it`)
}
