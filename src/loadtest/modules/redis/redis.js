// Runs inside each VU's QuickJS runtime (evaluated on first import): `k6/experimental/redis` and
// `k6/x/redis`. A Client is an id; every method sends one command through the event loop and
// returns a promise of the reply, shaped as k6 shapes it (numbers, booleans, a hash as an
// object). A nil reply (a missing key, an empty list) rejects with `redis: nil`, as in k6.
;(function () {
  const H = globalThis.__kh
  const L = globalThis.__k6loop
  const U = globalThis.__k6util
  const ID = Symbol('kiln.redis.client')
  let nextClient = 1

  /** Redis arguments are strings: numbers in decimal, booleans as 1/0 (as go-redis writes them). */
  function arg(v, what) {
    if (typeof v === 'string') return v
    if (typeof v === 'number' || typeof v === 'bigint') return String(v)
    if (typeof v === 'boolean') return v ? '1' : '0'
    throw new TypeError(`redis: ${what} must be a string, number or boolean, not ${v === null ? 'null' : typeof v}`)
  }
  /** `del('a', 'b')` and `del(['a', 'b'])` alike (k6's docs show both). */
  const flat = (list) => list.flatMap((v) => (Array.isArray(v) ? v : [v]))

  const str = (v) => v
  const num = (v) => Number(v)
  const bool = (v) => v === 1 || v === '1' || v === true
  const hash = (v) => {
    if (!Array.isArray(v)) return v
    const o = {}
    for (let i = 0; i + 1 < v.length; i += 2) o[v[i]] = v[i + 1]
    return o
  }

  function send(client, decode, name, args) {
    let json
    try {
      json = JSON.stringify([name, ...args.map((a, i) => arg(a, `argument ${i + 1} of ${name.toLowerCase()}`))])
    } catch (e) {
      return Promise.reject(e)
    }
    return L.op(
      (op) => H.redisCommand(op, client[ID], json),
      (payload) => decode(JSON.parse(payload)),
    )
  }

  /** The options object's TLS parts (ArrayBuffers) as base64 for the host. */
  function specOf(options) {
    if (typeof options === 'string') return { url: options }
    if (!options || typeof options !== 'object') throw new TypeError('redis.Client needs a redis:// URL or an options object')
    const spec = withTls(options)
    const c = options.cluster
    if (c && Array.isArray(c.nodes))
      spec.cluster = Object.assign({}, c, { nodes: c.nodes.map((n) => (n && typeof n === 'object' ? withTls(n) : n)) })
    return spec
  }

  /** A copy of options whose socket.tls ArrayBuffers are base64. */
  function withTls(options) {
    const out = Object.assign({}, options)
    const tls = options.socket && options.socket.tls
    if (tls) {
      const b64 = (b) => U.b64encode(b, 'std')
      out.socket = Object.assign({}, options.socket, {
        tls: { ca: (tls.ca || []).map(b64), cert: tls.cert && b64(tls.cert), key: tls.key && b64(tls.key) },
      })
    }
    return out
  }

  class Client {
    constructor(options) {
      const id = nextClient++
      H.redisClient(id, JSON.stringify(specOf(options)))
      Object.defineProperty(this, ID, { value: id })
    }
    set(key, value, expiration) {
      const ex = Number(expiration) > 0 ? ['EX', expiration] : []
      return send(this, str, 'SET', [key, value, ...ex])
    }
    get(key) {
      return send(this, str, 'GET', [key])
    }
    getSet(key, value) {
      return send(this, str, 'GETSET', [key, value])
    }
    getDel(key) {
      return send(this, str, 'GETDEL', [key])
    }
    del(...keys) {
      return send(this, num, 'DEL', flat(keys))
    }
    exists(...keys) {
      return send(this, num, 'EXISTS', flat(keys))
    }
    incr(key) {
      return send(this, num, 'INCR', [key])
    }
    incrBy(key, n) {
      return send(this, num, 'INCRBY', [key, n])
    }
    decr(key) {
      return send(this, num, 'DECR', [key])
    }
    decrBy(key, n) {
      return send(this, num, 'DECRBY', [key, n])
    }
    randomKey() {
      return send(this, str, 'RANDOMKEY', [])
    }
    mget(...keys) {
      return send(this, str, 'MGET', flat(keys))
    }
    expire(key, seconds) {
      return send(this, bool, 'EXPIRE', [key, seconds])
    }
    ttl(key) {
      return send(this, num, 'TTL', [key])
    }
    persist(key) {
      return send(this, bool, 'PERSIST', [key])
    }
    lpush(key, ...values) {
      return send(this, num, 'LPUSH', [key, ...flat(values)])
    }
    rpush(key, ...values) {
      return send(this, num, 'RPUSH', [key, ...flat(values)])
    }
    lpop(key) {
      return send(this, str, 'LPOP', [key])
    }
    rpop(key) {
      return send(this, str, 'RPOP', [key])
    }
    lrange(key, start, stop) {
      return send(this, str, 'LRANGE', [key, start, stop])
    }
    lindex(key, index) {
      return send(this, str, 'LINDEX', [key, index])
    }
    lset(key, index, element) {
      return send(this, str, 'LSET', [key, index, element])
    }
    lrem(key, count, value) {
      return send(this, num, 'LREM', [key, count, value])
    }
    llen(key) {
      return send(this, num, 'LLEN', [key])
    }
    hset(key, field, value) {
      return send(this, num, 'HSET', [key, field, value])
    }
    hsetnx(key, field, value) {
      return send(this, bool, 'HSETNX', [key, field, value])
    }
    hget(key, field) {
      return send(this, str, 'HGET', [key, field])
    }
    hdel(key, ...fields) {
      return send(this, num, 'HDEL', [key, ...flat(fields)])
    }
    hgetall(key) {
      return send(this, hash, 'HGETALL', [key])
    }
    hkeys(key) {
      return send(this, str, 'HKEYS', [key])
    }
    hvals(key) {
      return send(this, str, 'HVALS', [key])
    }
    hlen(key) {
      return send(this, num, 'HLEN', [key])
    }
    hincrby(key, field, n) {
      return send(this, num, 'HINCRBY', [key, field, n])
    }
    sadd(key, ...members) {
      return send(this, num, 'SADD', [key, ...flat(members)])
    }
    srem(key, ...members) {
      return send(this, num, 'SREM', [key, ...flat(members)])
    }
    sismember(key, member) {
      return send(this, bool, 'SISMEMBER', [key, member])
    }
    smembers(key) {
      return send(this, str, 'SMEMBERS', [key])
    }
    srandmember(key) {
      return send(this, str, 'SRANDMEMBER', [key])
    }
    spop(key) {
      return send(this, str, 'SPOP', [key])
    }
    sendCommand(command, ...args) {
      if (typeof command !== 'string' || command === '') return Promise.reject(new TypeError('redis: sendCommand needs a command name'))
      return send(this, str, command, flat(args))
    }
  }

  const redis = { Client }
  for (const name of ['k6/experimental/redis', 'k6/x/redis']) {
    // This file is evaluated on first use: replace the loading getter (vu.ts).
    Object.defineProperty(globalThis.__k6mods, name, {
      value: { default: redis, Client },
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
})()
