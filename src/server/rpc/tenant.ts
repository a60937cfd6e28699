/** The tenant an RPC was admitted for, handed from the server to the service implementations. */
import { createContextKey, type HandlerContext } from '@connectrpc/connect'

export const tenantKey = createContextKey('anonymous', { description: 'the tenant the request was admitted for' })

/** The tenant of a call (X-Scope-OrgID under --multitenancy, else "anonymous"). */
export const tenantOf = (call: HandlerContext): string => call.values.get(tenantKey)
