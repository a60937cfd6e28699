/**
 * The Live view's URL: `?page=live` with the script (a bundled script's name, or the text itself
 * once edited), the function to run, its arguments (`arg.NAME=value`), auto-refresh, or a
 * dashboard's name. A copied link runs the same script with the same arguments.
 */

export interface LiveState {
  /** A bundled script's name (`px/http_data`) or a built-in example's ("" = none). */
  script: string
  /** The script's text when it is not (or no longer) a bundled one as shipped. */
  pxl: string
  /** For a script of functions without top-level displays: the one to run ("" = the last). */
  func: string
  args: Record<string, string>
  /** Auto-refresh interval (`5s` … `5m`; "" = off). */
  refresh: string
  /** A dashboard shown instead of the editor ("" = the editor). */
  dashboard: string
}

export const emptyLive: LiveState = { script: '', pxl: '', func: '', args: {}, refresh: '', dashboard: '' }

/** The query string of a Live state (always with `page=live`; empty parts left out). */
export function liveToSearch(s: LiveState): string {
  const p = new URLSearchParams({ page: 'live' })
  if (s.dashboard) p.set('dashboard', s.dashboard)
  if (s.script) p.set('script', s.script)
  if (s.pxl) p.set('pxl', s.pxl)
  if (s.func) p.set('func', s.func)
  for (const [k, v] of Object.entries(s.args)) p.set(`arg.${k}`, v)
  if (s.refresh) p.set('refresh', s.refresh)
  return `?${p}`
}

/** A Live state from a query string; anything else in it is ignored. */
export function searchToLive(search: string): LiveState {
  const p = new URLSearchParams(search)
  const args: Record<string, string> = {}
  for (const [k, v] of p) if (k.startsWith('arg.') && k.length > 4) args[k.slice(4)] = v
  return {
    script: p.get('script') ?? '',
    pxl: p.get('pxl') ?? '',
    func: p.get('func') ?? '',
    args,
    refresh: p.get('refresh') ?? '',
    dashboard: p.get('dashboard') ?? '',
  }
}
