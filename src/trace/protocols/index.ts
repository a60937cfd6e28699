/**
 * The protocol parsers behind the capture: `inferProtocol` names a connection's protocol from its
 * first bytes, `createParser` makes the parser for one connection. One folder per protocol.
 */
import type { DataEvent, Protocol, TraceRecord } from '../types.ts'
import { GuardedParser, type ParserOptions, type ProtocolParser } from './common.ts'
import { DnsParser } from './dns/parser.ts'
import { Http1Parser } from './http1/parser.ts'
import { MysqlParser } from './mysql/parser.ts'
import { PgsqlParser } from './pgsql/parser.ts'
import { RedisParser } from './redis/parser.ts'

export { inferProtocol, type Inferred, type Ports } from './infer.ts'
export type { ParserOptions, ProtocolParser } from './common.ts'

/** A protocol whose parser is not written yet: it holds nothing and records nothing. */
class Opaque extends GuardedParser {
  constructor(readonly protocol: Protocol) {
    super()
  }
  buffered(): number {
    return 0
  }
  protected onEvent(_ev: DataEvent, _out: TraceRecord[]): void {}
  protected onEnd(_t: bigint, _out: TraceRecord[]): void {}
  protected reset(): void {}
}

const parsers: Record<Protocol, (opts: ParserOptions) => ProtocolParser> = {
  http: (o) => new Http1Parser(o),
  http2: () => new Opaque('http2'),
  mysql: (o) => new MysqlParser(o),
  pgsql: (o) => new PgsqlParser(o),
  dns: (o) => new DnsParser(o),
  redis: (o) => new RedisParser(o),
}

/** A parser for one connection of `protocol`. */
export function createParser(protocol: Protocol, opts: ParserOptions = {}): ProtocolParser {
  return parsers[protocol](opts)
}
