/** Formatting lives in the model so that the CLI prints the same units as the UI. */
export * from '../../../src/model/units.ts'

/** A time as typed in the range inputs: unix ms (what drag-to-zoom stores) shown as ISO UTC, anything else as is. */
export function timeText(t: string): string {
  if (!/^\d{12,14}$/.test(t)) return t
  // Whole minutes drop the seconds: 2026-01-01T10:00Z (both V8 and the server's parseTime read it).
  return new Date(Number(t))
    .toISOString()
    .replace(/:00\.000Z$/, 'Z')
    .replace(/\.000Z$/, 'Z')
}
