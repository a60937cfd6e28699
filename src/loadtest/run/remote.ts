/**
 * Remote modules (`import x from 'https://…'`), as k6 loads them: fetched once by the host before
 * any VU starts, then served from memory to every VU for the whole run (and stored by
 * `kiln archive`, so an archive runs offline). The imports are found by scanning the sources
 * for static import/export-from/require specifiers, following local and remote modules.
 */
import { dirname, resolve } from 'node:path'
import { ScriptError } from '../errors.ts'

const isRemote = (s: string): boolean => /^https?:\/\//i.test(s)

/** The source with its comments blanked (strings kept), so a commented-out import is not one. */
function withoutComments(source: string): string {
  return source.replace(
    /("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)|\/\*[\s\S]*?\*\/|\/\/[^\n]*/g,
    (_m, str: string | undefined) => str ?? ' ',
  )
}

/** Import specifiers of a module's source (static imports, re-exports, require()). */
export function specifiers(source: string): string[] {
  const out = new Set<string>()
  source = withoutComments(source)
  const re =
    /(?:^|[^\w$.])(?:import|export)\s*(?:[\w$*{}\s,]*?\sfrom\s*)?(['"])([^'"\n]+)\1|(?:^|[^\w$.])require\s*\(\s*(['"])([^'"\n]+)\3\s*\)/g
  for (const m of source.matchAll(re)) out.add((m[2] ?? m[4])!)
  return [...out]
}

/** Where `spec` imported from `base` (a path or a URL) points; null for k6's own modules. */
export function resolveModule(base: string, spec: string): string | null {
  if (spec.startsWith('k6')) return null
  if (/^[a-z][a-z0-9+.-]*:/i.test(spec)) return spec
  if (isRemote(base)) return new URL(spec, base).href
  return resolve(dirname(base), spec)
}

/** Fetches one remote module (30 s at most); errors name the URL and what to do. */
async function fetchModule(url: string): Promise<string> {
  let res: Response
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(30_000), redirect: 'follow' })
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause
    throw new ScriptError(
      `cannot load the remote module '${url}': ${cause?.code ?? cause?.message ?? (e as Error).message}; check that it is reachable, or download it next to the script and import the local path`,
    )
  }
  if (!res.ok) throw new ScriptError(`cannot load the remote module '${url}': the server answered ${res.status} ${res.statusText}`)
  return await res.text()
}

/**
 * Finds and fetches every remote module the script reaches into `cache` (URL → source).
 * `have(url)` serves modules already at hand (an archive's); `read(path)` reads local modules.
 * A module that cannot be fetched goes to `failed` (URL → message): the VU's loader reports it if
 * the module is really imported (the scan may also see an import inside a string).
 */
export async function fetchRemoteModules(
  script: { path: string; source: string },
  read: (path: string) => string,
  cache: Map<string, string>,
  failed: Map<string, string>,
  have: (url: string) => string | undefined = () => undefined,
): Promise<void> {
  const seen = new Set<string>([script.path])
  const queue: [string, string][] = [[script.path, script.source]]
  for (let item = queue.pop(); item; item = queue.pop()) {
    const [base, source] = item
    for (const spec of specifiers(source)) {
      const target = resolveModule(base, spec)
      if (!target || seen.has(target)) continue
      seen.add(target)
      if (isRemote(target)) {
        let src = cache.get(target) ?? have(target)
        try {
          src ??= await fetchModule(target)
        } catch (e) {
          failed.set(target, (e as Error).message)
          continue
        }
        cache.set(target, src)
        queue.push([target, src])
      } else if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) {
        try {
          queue.push([target, read(target)])
        } catch {
          // A missing local module is reported by the VU's loader, with the importing file.
        }
      }
    }
  }
}
