/**
 * Dashboards for the Live view: a directory (`kiln server --dashboards DIR`, YAML `dashboards:`)
 * of YAML or JSON files, each a dashboard `{title, panels: [{title, pxl_script, args?}]}`, or a
 * Kubernetes ConfigMap whose `data` holds several as JSON/YAML texts (as the seed's
 * pixie-dashboard.yaml does). Read on each request, so an edited file shows on reload.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, extname, join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { KilnError } from '../model/errors.ts'
import { sendJson, type Router } from './http.ts'
import type { Context } from './context.ts'

export interface DashboardPanel {
  title: string
  pxl_script: string
  args?: Record<string, string>
}

export interface Dashboard {
  name: string
  title: string
  panels: DashboardPanel[]
  /** What is wrong with the file, when it could not be read (the others still list). */
  error?: string
}

export function mountDashboards(router: Router, ctx: Context): void {
  const dir = ctx.config.dashboards
  if (dir && !(existsSync(dir) && statSync(dir).isDirectory())) throw new KilnError('KILN_USAGE', `--dashboards ${dir}: not a directory`)
  router.on('GET', '/api/v1/pxl/dashboards', (_req, res) => sendJson(res, 200, dir ? loadDashboards(dir) : []))
}

/** Every dashboard in a directory, by name (file name without extension, or ConfigMap key). */
export function loadDashboards(dir: string): Dashboard[] {
  const out: Dashboard[] = []
  for (const f of readdirSync(dir).sort()) {
    if (!/\.(ya?ml|json)$/i.test(f)) continue
    const name = basename(f, extname(f))
    let doc: unknown
    try {
      doc = parseYaml(readFileSync(join(dir, f), 'utf8'))
    } catch (e) {
      out.push({ name, title: name, panels: [], error: `${f}: ${(e as Error).message.split('\n')[0]}` })
      continue
    }
    const data = (doc as { data?: unknown } | null)?.data
    if (data && typeof data === 'object' && !Array.isArray(data) && !(doc as { panels?: unknown }).panels) {
      // A ConfigMap: one dashboard per data key.
      for (const [key, text] of Object.entries(data as Record<string, unknown>)) {
        const sub = basename(key, extname(key))
        try {
          out.push(readDashboard(sub, typeof text === 'string' ? parseYaml(text) : text, `${f}, data.${key}`))
        } catch (e) {
          out.push({ name: sub, title: sub, panels: [], error: (e as Error).message })
        }
      }
      continue
    }
    try {
      out.push(readDashboard(name, doc, f))
    } catch (e) {
      out.push({ name, title: name, panels: [], error: (e as Error).message })
    }
  }
  return out
}

/** One dashboard from a parsed document; a message naming the file and panel when it is not one. */
export function readDashboard(name: string, doc: unknown, where: string): Dashboard {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${where}: expected a mapping with title and panels`)
  const d = doc as { title?: unknown; panels?: unknown }
  if (!Array.isArray(d.panels)) throw new Error(`${where}: expected panels: a list of {title, pxl_script}`)
  const panels = d.panels.map((p: unknown, k): DashboardPanel => {
    const q = (p ?? {}) as Record<string, unknown>
    const script = q.pxl_script ?? q.pxlScript ?? q.script
    if (typeof script !== 'string' || !script.trim()) throw new Error(`${where}: panel ${k + 1} has no pxl_script`)
    const args =
      q.args && typeof q.args === 'object' && !Array.isArray(q.args)
        ? Object.fromEntries(Object.entries(q.args).map(([a, v]) => [a, String(v)]))
        : undefined
    return { title: String(q.title ?? `Panel ${k + 1}`), pxl_script: script, ...(args ? { args } : {}) }
  })
  return { name, title: String(d.title ?? name), panels }
}
