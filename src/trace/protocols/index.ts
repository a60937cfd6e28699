/**
 * The protocol parsers behind the capture: `inferProtocol` names a connection's protocol from its
 * first bytes, `createParser` makes the parser for one connection. One folder per protocol.
 */
import type { Protocol } from '../types.ts'
import type { ParserOptions, ProtocolParser } from './common.ts'
import { DnsParser } from './dns/parser.ts'
import { Http1Parser } from './http1/parser.ts'
import { Http2Parser } from './http2/parser.ts'
import { MysqlParser } from './mysql/parser.ts'
import { PgsqlParser } from './pgsql/parser.ts'
import { RedisParser } from './redis/parser.ts'

export { inferProtocol, type Inferred, type Ports } from './infer.ts'
export type { ParserOptions, ProtocolParser } from './common.ts'

const parsers: Record<Protocol, (opts: ParserOptions) => ProtocolParser> = {
  http: (o) => new Http1Parser(o),
  http2: (o) => new Http2Parser(o),
  mysql: (o) => new MysqlParser(o),
  pgsql: (o) => new PgsqlParser(o),
  dns: (o) => new DnsParser(o),
  redis: (o) => new RedisParser(o),
}

/** A parser for one connection of `protocol`. */
export function createParser(protocol: Protocol, opts: ParserOptions = {}): ProtocolParser {
  return parsers[protocol](opts)
}
