/**
 * Span ids as profiles carry them: the pprof label `span_id`, 16 hex digits (an OpenTelemetry
 * span id, 8 bytes), attached per sample by Pyroscope's Go SDK (otelpyroscope), the OpenTelemetry
 * span-profile integrations and @kiln/node. The store keeps them as UInt64, 0 for none.
 */
import { KilnError } from './errors.ts'

/** The pprof label that names a sample's span. */
export const SPAN_ID_LABEL = 'span_id'

const HEX16 = /^[0-9a-fA-F]{16}$/

/** A span id's UInt64 as decimal text (what the store binds and writes); undefined when it is not 16 hex digits or is all zeros (OpenTelemetry's invalid span). */
export function spanIdValue(hex: string): string | undefined {
  if (!HEX16.test(hex)) return undefined
  const v = BigInt(`0x${hex}`)
  return v === 0n ? undefined : v.toString()
}

/** A query's span selector as store values; a malformed id is a 400 naming it. */
export function spanSelector(ids: readonly string[]): string[] {
  return ids.map((id) => {
    const v = spanIdValue(id)
    if (v === undefined)
      throw new KilnError(
        'KILN_BAD_REQUEST',
        `span id ${JSON.stringify(id.slice(0, 40))} is not a span id: give 16 hex digits (8 bytes, not all zero), as OpenTelemetry prints them`,
      )
    return v
  })
}
