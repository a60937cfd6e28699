/**
 * Folded stacks, the text formats of Pyroscope's /ingest: `groups` (`a;b;c 100`, one stack and
 * its count per line, FlameGraph's collapsed format) and `lines` (one stack per line, each
 * counting 1). Both are UTF-8 text; a frame name may contain spaces, so the count is whatever
 * follows the last space.
 */
import { KilnError } from '../model/errors.ts'
import { sniffText } from './sniff.ts'
import { ProfileBuilder, defaultLimits, defaultTypeIndex, toFolded, type Limits, type Profile, type ValueType } from '../model/profile.ts'

export interface FoldedOptions {
  /** The one sample type of the result (default samples/count: the server renames it by app suffix). */
  sampleType?: ValueType
  limits?: Limits
}

const samplesCount: ValueType = { type: 'samples', unit: 'count' }
const utf8 = new TextDecoder('utf-8', { fatal: true })
const COUNT_RE = /^\d+(\.\d+)?$/

/** Decodes folded stacks `a;b;c 100`; null when the bytes are not text. */
export function decodeFolded(bytes: Uint8Array, opts: FoldedOptions = {}): Profile | null {
  return decodeText(bytes, opts, 'folded', (line, n) => {
    const sp = line.lastIndexOf(' ')
    const count = sp < 0 ? '' : line.slice(sp + 1)
    if (!COUNT_RE.test(count)) {
      const found = sp < 0 ? 'no space before a count' : `found ${JSON.stringify(count.slice(0, 40))}`
      throw new KilnError('KILN_BAD_FOLDED', `line ${n}: expected a count after the stack (${found}); each line is 'a;b;c 100'`)
    }
    return [line.slice(0, sp), Number(count)]
  })
}

/** Decodes Pyroscope's `lines` format: one stack per line, each counting 1; null when not text. */
export function decodeLines(bytes: Uint8Array, opts: FoldedOptions = {}): Profile | null {
  return decodeText(bytes, opts, 'lines', (line) => [line, 1])
}

function decodeText(
  bytes: Uint8Array,
  opts: FoldedOptions,
  format: string,
  split: (line: string, lineNumber: number) => [stack: string, count: number],
): Profile | null {
  if (!sniffText(bytes)) return null
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    throw new KilnError('KILN_BAD_FOLDED', `${format} text is not valid UTF-8; send the stacks as UTF-8`)
  }
  const limits = opts.limits ?? defaultLimits
  const b = new ProfileBuilder(
    { sampleTypes: [opts.sampleType ?? samplesCount], periodType: opts.sampleType ?? samplesCount, period: 0, timeMs: 0, durationNanos: 0 },
    limits,
  )
  let n = 0
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf('\n', start)
    if (end < 0) end = text.length
    n++
    const line = text.slice(start, end).trimEnd()
    start = end + 1
    if (line.trim() === '') continue
    const [stack, count] = split(line, n)
    if (stack === '') throw new KilnError('KILN_BAD_FOLDED', `line ${n}: the stack before the count is empty`)
    const frames = stack.split(';').map((name) => b.fn(name))
    // The builder says where only when it will reject the line: a string per line costs time.
    const rejected = frames.length > limits.maxStackDepth || !Number.isFinite(count)
    b.add(frames, [count], undefined, rejected ? `line ${n}` : undefined)
  }
  return b.build()
}

/** Encodes one sample type (default: the default one) as folded stacks, sorted and merged. */
export function encodeFolded(p: Profile, typeIndex = defaultTypeIndex(p)): Uint8Array {
  return new TextEncoder().encode(toFolded(p, typeIndex))
}
