/** The client side of k6's REST API: the `kiln status|pause|resume|scale|stats` commands. */
import http from 'node:http'
import { parseCommand, str, type CommandSpec, type OptionSpec, type Parsed } from './args.ts'
import { KilnError } from '../model/errors.ts'

/** One API call; returns the parsed JSON:API document or throws a KilnError saying what to check. */
export function apiCall(address: string, method: string, path: string, body?: unknown): Promise<{ data: unknown }> {
  const base = /^https?:\/\//.test(address) ? address : `http://${address}`
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), { method, headers: { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
      let text = ''
      res.on('data', (c: Buffer) => (text += c.toString()))
      res.on('end', () => {
        let doc: { data?: unknown; errors?: { title: string }[] }
        try {
          doc = JSON.parse(text) as typeof doc
        } catch {
          return reject(new KilnError('KILN_BAD_REQUEST', `${address} did not answer with JSON: is it a kiln run --address?`))
        }
        if ((res.statusCode ?? 500) >= 400)
          return reject(new KilnError('KILN_BAD_REQUEST', doc.errors?.map((e) => e.title).join('; ') ?? `HTTP ${res.statusCode}`))
        resolve({ data: doc.data })
      })
    })
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', (e) =>
      reject(
        new KilnError(
          'KILN_NOT_FOUND',
          `cannot reach a running test at ${address} (${e.message}): start it with kiln run --address ${address}`,
        ),
      ),
    )
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
}

const yamlish = (attrs: Record<string, unknown>): string =>
  Object.entries(attrs)
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join('\n') + '\n'

export const printStatus = (doc: { data: unknown }): void => {
  process.stdout.write(yamlish((doc.data as { attributes: Record<string, unknown> }).attributes))
}

export const patchStatus = (address: string, attributes: Record<string, unknown>): Promise<{ data: unknown }> =>
  apiCall(address, 'PATCH', '/v1/status', { data: { type: 'status', id: 'default', attributes } })

/** Builds a control command: `-a/--address` plus its own options, then `action`. */
export function controlCommand(
  name: string,
  summary: string,
  options: Record<string, OptionSpec>,
  action: (address: string, p: Parsed) => Promise<void>,
): { spec: CommandSpec; run: (argv: string[]) => Promise<number> } {
  const spec: CommandSpec = {
    name,
    usage: `kiln ${name} [OPTIONS]`,
    summary,
    options: {
      address: { type: 'string', short: 'a', arg: 'HOST:PORT', default: 'localhost:6565', help: 'the REST API of kiln run --address' },
      ...options,
    },
  }
  return {
    spec,
    run: async (argv) => {
      const p = parseCommand(spec, argv)
      if (!p) return 0
      await action(str(p, 'address') ?? 'localhost:6565', p)
      return 0
    },
  }
}
