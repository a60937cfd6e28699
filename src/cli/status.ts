/** `kiln status`: the state of a running `kiln run --address` test (k6's REST API). */
import { controlCommand, apiCall, printStatus } from './control.ts'

export const { spec, run } = controlCommand('status', 'Show the status of a running load test', {}, async (address) =>
  printStatus(await apiCall(address, 'GET', '/v1/status')),
)
