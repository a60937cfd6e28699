/** `kiln pause`: pauses a running `kiln run --address` test. */
import { controlCommand, patchStatus, printStatus } from './control.ts'

export const { spec, run } = controlCommand('pause', 'Pause a running load test', {}, async (address) =>
  printStatus(await patchStatus(address, { paused: true })),
)
