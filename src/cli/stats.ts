/** `kiln stats`: the live metrics of a running `kiln run --address` test. */
import { controlCommand, apiCall } from './control.ts'

export const { spec, run } = controlCommand('stats', 'Show the live metrics of a running load test', {}, async (address) => {
  const doc = await apiCall(address, 'GET', '/v1/metrics')
  for (const m of doc.data as { id: string; attributes: { type: string; sample: Record<string, number> } }[]) {
    const sample = Object.entries(m.attributes.sample).map(([k, v]) => `${k}=${Number(v.toFixed(6))}`)
    process.stdout.write(`${m.id} (${m.attributes.type}): ${sample.join(' ')}\n`)
  }
})
