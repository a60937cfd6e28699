/** The HTTP client for a Kiln server (CLI commands, the agent, `kiln run -o kiln=`): tenant and token headers, clear errors when the server is down or says no. */
import { KilnError } from '../model/errors.ts'

export interface ClientOptions {
  server: string
  tenant?: string
  authToken?: string
}

export const defaultServer = (): string => process.env.KILN_SERVER ?? 'http://localhost:4040'

export async function request(opts: ClientOptions, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers)
  if (opts.tenant) headers.set('x-scope-orgid', opts.tenant)
  const token = opts.authToken ?? process.env.KILN_AUTH_TOKEN
  if (token) headers.set('authorization', `Bearer ${token}`)
  let url: URL
  try {
    url = new URL(path, opts.server)
  } catch {
    throw new KilnError('KILN_USAGE', `invalid server URL ${JSON.stringify(opts.server)}: use e.g. http://localhost:4040`)
  }
  let res: Response
  try {
    res = await fetch(url, { ...init, headers, signal: init.signal ?? AbortSignal.timeout(120_000) })
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message
    throw new KilnError(
      'KILN_STORE',
      `cannot reach Kiln at ${opts.server} (${cause}): is 'kiln server' running there? Set --server or KILN_SERVER.`,
    )
  }
  if (!res.ok) {
    const text = await res.text()
    let msg = text.slice(0, 500)
    try {
      const j = JSON.parse(text) as { message?: string }
      if (j.message) msg = j.message
    } catch {
      /* not JSON */
    }
    throw new KilnError(
      res.status === 401 ? 'KILN_UNAUTHORIZED' : res.status >= 500 ? 'KILN_STORE' : 'KILN_BAD_REQUEST',
      `server answered ${res.status}: ${msg}`,
    )
  }
  return res
}
