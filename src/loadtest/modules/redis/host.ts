/** Host functions of redis.js: a client is defined in the init code, each command settles one event-loop operation. */
import type { HostBinder } from '../../engine/host-api.ts'
import type { EventLoop } from '../../engine/eventloop.ts'
import type { ClientSpec, RedisClients } from './redis.ts'

/** What of its VU the Redis host functions use. */
export interface RedisBridge {
  loop: EventLoop
  /** The VU's clients, made on first use. */
  clients(): RedisClients
}

export function installRedis(b: HostBinder, v: RedisBridge): void {
  b.def('redisClient', ['n', 's'], (id, j) => v.clients().define(id, JSON.parse(j) as ClientSpec))
  b.def('redisCommand', ['n', 'n', 's'], (op, id, j) => v.loop.op(op, v.clients().command(id, JSON.parse(j) as string[])))
}
