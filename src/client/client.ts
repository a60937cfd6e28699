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
  const url = serverUrl(opts.server, path)
  let res: Response
  try {
    res = await fetch(url, { ...init, headers, signal: init.signal ?? AbortSignal.timeout(120_000) })
  } catch (e) {
    throw unreachable(opts.server, (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message)
  }
  if (!res.ok) throw refusal(res.status, await res.text())
  return res
}

/** `path` on the server, or a usage error saying what a server URL looks like. */
export function serverUrl(server: string, path: string): URL {
  try {
    return new URL(path, server)
  } catch {
    throw new KilnError('KILN_USAGE', `invalid server URL ${JSON.stringify(server)}: use e.g. http://localhost:4040`)
  }
}

/** The server could not be reached (`cause`: the socket error's code or message); a queue retries these. */
export function unreachable(server: string, cause: string): KilnError {
  return new KilnError(
    'KILN_STORE',
    `cannot reach Kiln at ${server} (${cause}): is 'kiln server' running there? Set --server or KILN_SERVER.`,
  )
}

/** A non-2xx answer as an error: the server's JSON message when it sent one; 5xx retryable, 4xx not. */
export function refusal(status: number, text: string): KilnError {
  let msg = text.slice(0, 500)
  try {
    const j = JSON.parse(text) as { message?: string }
    if (j.message) msg = j.message
  } catch {
    /* not JSON */
  }
  return new KilnError(
    status === 401 ? 'KILN_UNAUTHORIZED' : status >= 500 ? 'KILN_STORE' : 'KILN_BAD_REQUEST',
    `server answered ${status}: ${msg}`,
  )
}
