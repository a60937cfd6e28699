/** Socket capture: the libbpf program and loader (bpf/), the event stream, connection tracking, the TraceSource. */
export { SocketSource, type SocketSourceOptions } from './socket-source.ts'
export { buildLoader, defaultCacheDir } from './build.ts'
