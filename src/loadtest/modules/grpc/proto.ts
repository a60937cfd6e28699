/**
 * `k6/net/grpc` definitions: .proto files parsed by protobufjs (once per thread and set of files)
 * or a protoset, gRPC status codes by k6's names, and messages as ProtoJSON (protobufjs's
 * ext/protojson, with unpopulated fields filled in as k6's protojson `EmitUnpopulated` does).
 */
import { isAbsolute, join } from 'node:path'
import protobuf from 'protobufjs'
import protojson from 'protobufjs/ext/protojson.js'
import 'protobufjs/ext/descriptor.js' // adds Root.fromDescriptor (protosets)

/** gRPC status codes by k6's constant names (`grpc.StatusOK` …). */
export const CODES = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
] as const
export const Code = Object.fromEntries(CODES.map((n, i) => [n, i])) as Record<(typeof CODES)[number], number>

export interface MethodDef {
  request: protobuf.Type
  response: protobuf.Type
  stream: boolean
}
export type Methods = Map<string, MethodDef>

/** Parsed sets of .proto files on this thread, by import paths + files: VUs on a thread share them. */
const loaded = new Map<string, Methods>()

export function methodsOf(root: protobuf.Root): Methods {
  root.resolveAll()
  const out: Methods = new Map()
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const o of ns.nestedArray) {
      if (o instanceof protobuf.Service) {
        for (const m of o.methodsArray) {
          m.resolve()
          out.set(`/${o.fullName.slice(1)}/${m.name}`, {
            request: m.resolvedRequestType!,
            response: m.resolvedResponseType!,
            stream: !!(m.requestStream || m.responseStream),
          })
        }
      }
      if (o instanceof protobuf.Namespace) walk(o)
    }
  }
  walk(root)
  return out
}

/**
 * `client.load(importPaths, ...files)`: each file (and each file it imports) is looked up in the
 * import paths (the script's folder when there are none; relative ones against it, as `read` does);
 * google/protobuf/*.proto come with protobufjs. Throws with the file and line of a parse error.
 */
export function loadProtos(read: (path: string) => Buffer, importPaths: string[], files: string[]): Methods {
  const key = JSON.stringify([importPaths, files])
  const known = loaded.get(key)
  if (known) return known
  const paths = importPaths.length ? importPaths : ['.']
  const root = new protobuf.Root()
  const seen = new Set<string>()
  const find = (name: string): [string, Buffer] => {
    const tried: string[] = []
    for (const p of isAbsolute(name) ? [''] : paths) {
      const full = p ? join(p, name) : name
      try {
        return [full, read(full)]
      } catch (e) {
        tried.push((e as Error).message)
      }
    }
    throw new Error(`${name}: cannot find the file in the import paths [${paths.join(', ')}] (${tried.join('; ')})`)
  }
  const add = (name: string): void => {
    if (seen.has(name)) return
    seen.add(name)
    const common = protobuf.common.get(name)
    if (common) {
      root.addJSON(common.nested!)
      return
    }
    const [full, src] = find(name)
    let parsed: protobuf.IParserResult
    try {
      parsed = protobuf.parse(src.toString('utf8'), root, { keepCase: true, alternateCommentMode: true })
    } catch (e) {
      throw new Error(`${full}: ${(e as Error).message}`)
    }
    for (const i of [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])]) add(i)
  }
  for (const f of files) add(f)
  let methods: Methods
  try {
    methods = methodsOf(root)
  } catch (e) {
    throw new Error(`${files.join(', ')}: ${(e as Error).message}`)
  }
  loaded.set(key, methods)
  return methods
}

/** `client.loadProtoset(path)`: a serialised FileDescriptorSet (`protoc --descriptor_set_out --include_imports`). */
export function loadProtoset(read: (path: string) => Buffer, path: string): Methods {
  const key = `protoset:${path}`
  const known = loaded.get(key)
  if (known) return known
  let buf: Buffer
  try {
    buf = read(path)
  } catch (e) {
    throw new Error(`couldn't open protoset: ${(e as Error).message}`)
  }
  let methods: Methods
  try {
    methods = methodsOf(protobuf.Root.fromDescriptor(buf, { keepCase: true }))
  } catch (e) {
    throw new Error(`couldn't unmarshal protoset file ${path}: ${(e as Error).message}`)
  }
  loaded.set(key, methods)
  return methods
}

/** protojson with `EmitUnpopulated`: every field that is not in a oneof, at its default when unset. */
export function withDefaults(type: protobuf.Type, json: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const f of type.fieldsArray) {
    f.resolve()
    const k = f.jsonName ?? f.name
    const rt = f.resolvedType
    const msg = rt instanceof protobuf.Type && !rt.fullName.startsWith('.google.protobuf.') ? rt : null
    if (k in json) {
      const v = json[k]
      if (msg && v && typeof v === 'object') {
        if (f.map)
          out[k] = Object.fromEntries(
            Object.entries(v as Record<string, Record<string, unknown>>).map(([mk, mv]) => [mk, withDefaults(msg, mv)]),
          )
        else if (Array.isArray(v)) out[k] = v.map((x) => withDefaults(msg, x as Record<string, unknown>))
        else out[k] = withDefaults(msg, v as Record<string, unknown>)
      } else out[k] = v
      continue
    }
    if (f.partOf) continue // oneof members and proto3 `optional` fields stay absent when unset
    if (f.map) out[k] = {}
    else if (f.repeated) out[k] = []
    else if (rt instanceof protobuf.Enum) out[k] = rt.valuesById[0] ?? 0
    else if (rt) out[k] = null
    else if (f.type === 'bool') out[k] = false
    else if (f.type === 'string' || f.type === 'bytes') out[k] = ''
    else out[k] = f.long ? '0' : 0
  }
  return out
}

/** A reply message as k6 shows it: protojson with lowerCamelCase names and unpopulated fields. */
export function replyJson(type: protobuf.Type, bytes: Uint8Array): Record<string, unknown> {
  return withDefaults(type, protojson.toJson(type, type.decode(bytes)) as Record<string, unknown>)
}

export const encodeRequest = (type: protobuf.Type, json: string): Uint8Array => {
  try {
    return type.encode(protojson.fromJson(type, JSON.parse(json))).finish()
  } catch (e) {
    throw new Error(`unable to serialise request object to protocol buffer: ${(e as Error).message}`)
  }
}
