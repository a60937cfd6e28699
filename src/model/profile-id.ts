/**
 * Profile ids, as SelectSeries exemplars carry them and `profile_id_selector` takes them back.
 * Kiln stores no id per upload: a profile is its series and time, so its id is those two, 64 bits
 * each, written as a UUID (what Pyroscope's ids look like to Grafana, which passes them back
 * unread). The same series at the same millisecond is one profile.
 */
import { KilnError } from './errors.ts'

export interface ProfileRef {
  /** The series id, UInt64 as decimal text. */
  seriesId: string
  /** ms since the epoch. */
  timeMs: number
}

const hex16 = (v: bigint) => v.toString(16).padStart(16, '0')

/** The id of the profile of `seriesId` at `timeMs`. */
export function profileId(ref: ProfileRef): string {
  const h = hex16(BigInt(ref.seriesId)) + hex16(BigInt(ref.timeMs))
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** The profile a `profile_id_selector` entry names; a malformed one is a 400 naming it. */
export function parseProfileId(id: string): ProfileRef {
  if (!UUID.test(id))
    throw new KilnError(
      'KILN_BAD_REQUEST',
      `profile id ${JSON.stringify(id.slice(0, 60))} is not a Kiln profile id: pass one that SelectSeries returned in an exemplar (a UUID)`,
    )
  const h = id.replaceAll('-', '')
  return { seriesId: BigInt(`0x${h.slice(0, 16)}`).toString(), timeMs: Number(BigInt(`0x${h.slice(16)}`)) }
}
