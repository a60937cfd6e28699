import { KilnError } from '../model/errors.ts'

/**
 * Caps the stack frames a decoder builds from one input. A 5-byte pprof sample can point at a
 * location with 4,000 inlined lines, and one speedscope event can repeat a 4,000-frame stack, so a
 * 1 MB body could otherwise expand to gigabytes of stacks while every single stack stays within
 * the depth limit. Real profiles stay well under 16 frames per input byte.
 */
export function frameBudget(inputBytes: number): (frames: number, where: { toString(): string }) => void {
  const max = (1 << 20) + 16 * inputBytes
  let used = 0
  return (frames, where) => {
    used += frames
    if (used > max) {
      throw new KilnError(
        'KILN_LIMIT',
        `${where}: the stacks add up to more than ${max} frames for a ${inputBytes}-byte profile; no real profile repeats its stacks this much`,
      )
    }
  }
}
