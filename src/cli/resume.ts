/** `kiln resume`: resumes a paused (or `--paused`) `kiln run --address` test. */
import { controlCommand, patchStatus, printStatus } from './control.ts'

export const { spec, run } = controlCommand('resume', 'Resume a paused load test', {}, async (address) =>
  printStatus(await patchStatus(address, { paused: false })),
)
