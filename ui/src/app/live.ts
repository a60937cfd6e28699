import { traceTables, type TraceTable } from '../../../src/model/trace-tables.ts'
import { type LiveState, liveToSearch, searchToLive } from '../lib/livestate.ts'
import { runPlan, readVis, errorLocation, type Vis, type RunRequest, type ArgSpec } from '../lib/pxl-args.ts'
import { chooseWidgets, type PxlResult, type PxlTable } from '../lib/pxl-result.ts'
import { pxlSchema, type PxlCatalog, type PxlSchema } from '../lib/pxl-complete.ts'
import { examples, type PxlScript } from '../lib/pxl-examples.ts'
import { ApiError, get, post } from './api.ts'
import { PxlEditor } from './pxleditor.ts'
import { widget } from './livewidgets.ts'
import { h, mount } from './dom.ts'

/** What the Live page needs from the shell. */
export interface LiveCtx {
  /** Writes a Live URL (a new history entry unless `replace`) and shows it. */
  navigate: (search: string, replace?: boolean) => void
  refreshes: [string, string][]
}

/** A dashboard as GET /api/v1/pxl/dashboards lists it. */
export interface Dashboard {
  name: string
  title: string
  panels: { title: string; pxl_script: string; args?: Record<string, string> }[]
  error?: string
}

/** One run API call's outcome. */
type Outcome = { req: RunRequest; res: PxlResult } | { req: RunRequest; err: unknown }

const run = (script: string, r: { args?: Record<string, string>; func?: string }) =>
  post<PxlResult>('pxl/run', { script, args: r.args ?? {}, ...(r.func ? { func: r.func } : {}) })

async function listOrEmpty<T>(path: string, key: string): Promise<T[]> {
  try {
    const v = await get<T[] | Record<string, T[]>>(path, {})
    return Array.isArray(v) ? v : (v[key] ?? [])
  } catch (e) {
    // Not there yet (an older server): an empty list.
    if (e instanceof ApiError && e.status === 404) return []
    throw e
  }
}

/**
 * The Live view (`?page=live`): pick or edit a PxL script, set its arguments, run it; every
 * `px.display` (or vis.json widget) becomes a table, time-series charts or a service graph. With
 * `dashboard=NAME`, a dashboard's panels instead, each its own script.
 */
export class LivePage {
  readonly el = h('div', { class: 'live', 'data-testid': 'live' })
  private state: LiveState = searchToLive('')
  private scripts: PxlScript[] = [...examples]
  private dashboards: Dashboard[] = []
  private loaded: Promise<void> | null = null
  private editor: PxlEditor | null = null
  private readonly argsEl = h('div', { class: 'pxl-args', 'data-testid': 'pxl-args' })
  private readonly results = h('div', { class: 'pxl-results', 'data-testid': 'pxl-results' })
  private readonly errorEl = h('div', { class: 'pxl-error', role: 'alert', 'data-testid': 'pxl-error', hidden: true })
  private readonly status = h('span', { class: 'muted small', 'data-testid': 'pxl-status' })
  private shownKey = ''
  private gen = 0

  constructor(private readonly ctx: LiveCtx) {}

  /** Shows the Live URL `search`; runs the script when the script or its arguments changed. */
  async show(search: string): Promise<void> {
    this.loaded ??= this.load()
    await this.loaded
    const s = searchToLive(search)
    const key = JSON.stringify({ ...s, refresh: '' })
    const changed = key !== this.shownKey
    this.state = s
    this.shownKey = key
    if (s.dashboard) return changed ? this.showDashboard() : undefined
    if (changed || !this.editor) {
      this.renderEditorPage()
      return this.run()
    }
    this.renderToolbar()
  }

  /** Runs again with the same script and arguments (Refresh, auto-refresh). */
  rerun(): void {
    if (this.state.dashboard) void this.showDashboard()
    else void this.run()
  }

  private async load(): Promise<void> {
    const [scripts, dashboards] = await Promise.all([
      listOrEmpty<PxlScript>('pxl/scripts', 'scripts').catch(() => []),
      listOrEmpty<Dashboard>('pxl/dashboards', 'dashboards').catch(() => []),
    ])
    // The library's folders may name their description `short` (manifest.yaml) instead.
    const described = scripts.map((x) => ({ ...x, description: x.description ?? (x as { short?: string }).short ?? '' }))
    this.scripts = [...described, ...examples]
    this.dashboards = dashboards
  }

  /** The named script; with neither a name nor a text, the library's px/http_data (or the first example), vis.json included. */
  private get bundled(): PxlScript | undefined {
    const name =
      this.state.script ||
      (this.state.pxl || this.state.dashboard ? '' : (this.scripts.find((x) => x.name === 'px/http_data') ?? examples[0]!).name)
    return this.scripts.find((x) => x.name === name)
  }

  /** The script shown: the URL's text, else the named script's, else the library's px/http_data or the first example. */
  private get text(): string {
    return this.state.pxl || this.bundled?.script || ''
  }

  private get vis(): Vis | null {
    return this.bundled?.vis ? readVis(this.bundled.vis) : null
  }

  private go(patch: Partial<LiveState>, replace = false): void {
    this.ctx.navigate(liveToSearch({ ...this.state, ...patch }), replace)
  }

  private readonly toolbar = h('div', { class: 'toolbar live-toolbar' })

  private renderToolbar(): void {
    const s = this.state
    const current = s.dashboard ? '' : s.script || (s.pxl ? '' : (this.scripts.find((x) => x.name === 'px/http_data') ?? examples[0]!).name)
    const group = (label: string, list: PxlScript[]) =>
      list.length
        ? h(
            'optgroup',
            { label },
            list.map((x) => h('option', { value: x.name, selected: x.name === current, title: x.description }, x.name)),
          )
        : null
    const lib = this.scripts.filter((x) => !x.name.startsWith('examples/'))
    const picker = h(
      'select',
      {
        'data-testid': 'pxl-script',
        title: 'A bundled script',
        onchange: (e: Event) => this.go({ script: (e.target as HTMLSelectElement).value, pxl: '', func: '', args: {}, dashboard: '' }),
      },
      h('option', { value: '', selected: !current, disabled: true }, s.pxl && !s.script ? '(edited script)' : 'Pick a script…'),
      group('Script library', lib),
      group(
        'Examples',
        this.scripts.filter((x) => x.name.startsWith('examples/')),
      ),
    )
    const desc = this.bundled?.description ?? ''
    const dash = this.dashboards.length
      ? h(
          'select',
          {
            'data-testid': 'pxl-dashboard',
            title: 'Dashboards (kiln server --dashboards DIR)',
            onchange: (e: Event) => this.go({ dashboard: (e.target as HTMLSelectElement).value }),
          },
          h('option', { value: '', selected: !s.dashboard }, s.dashboard ? '← Script editor' : 'Dashboards…'),
          this.dashboards.map((d) => h('option', { value: d.name, selected: d.name === s.dashboard }, d.title || d.name)),
        )
      : null
    const refresh = h(
      'label',
      { class: 'small', title: 'Run again every …' },
      'Auto-refresh ',
      h(
        'select',
        { 'data-testid': 'auto-refresh', onchange: (e: Event) => this.go({ refresh: (e.target as HTMLSelectElement).value }, true) },
        this.ctx.refreshes.map(([v, l]) => h('option', { value: v, selected: v === s.refresh }, l)),
      ),
    )
    mount(
      this.toolbar,
      s.dashboard
        ? h(
            'a',
            { href: '?page=live', class: 'back', onclick: (e: Event) => (e.preventDefault(), this.go({ dashboard: '' })) },
            '← Script editor',
          )
        : [h('b', { class: 'small' }, 'Script'), picker, desc ? h('span', { class: 'muted small desc', title: desc }, desc) : null],
      h('span', { class: 'spacer' }),
      dash,
      refresh,
      s.dashboard
        ? null
        : h('button', { class: 'primary-btn', 'data-testid': 'pxl-run', title: 'Run (Ctrl+Enter)', onclick: () => this.submit() }, '▶ Run'),
    )
  }

  private renderEditorPage(): void {
    const text = this.text
    if (!this.editor)
      this.editor = new PxlEditor({
        value: text,
        schema: () => loadSchema(),
        onChange: () => this.renderArgs(),
        onRun: () => this.submit(),
      })
    else this.editor.value = text
    this.renderToolbar()
    this.renderArgs()
    mount(
      this.el,
      this.toolbar,
      h('div', { class: 'live-top' }, h('div', { class: 'live-editor' }, this.editor.el, this.errorEl), this.argsEl),
      h('div', { class: 'live-status' }, this.status),
      this.results,
    )
  }

  /** The argument fields: the vis.json's variables, or the typed parameters of the function to run. */
  private renderArgs(): void {
    const text = this.editor?.value ?? this.text
    const plan = runPlan(text, this.vis, this.state.args, this.state.func)
    const field = (a: ArgSpec) =>
      h(
        'label',
        { class: 'pxl-arg', title: a.description || null },
        h('span', { class: 'arg-name' }, a.name, a.type ? h('span', { class: 'muted' }, `: ${a.type}`) : null),
        a.options?.length
          ? h(
              'select',
              { 'data-arg': a.name, onchange: () => this.submit() },
              a.options.map((v) => h('option', { value: v, selected: v === (this.state.args[a.name] ?? a.default) }, v || '(any)')),
            )
          : h('input', {
              'data-arg': a.name,
              value: this.state.args[a.name] ?? a.default,
              placeholder: a.default || (a.type.includes('Service') || a.type === 'PX_SERVICE' ? 'ns/name' : ''),
              spellcheck: 'false',
              onkeydown: (e: KeyboardEvent) => e.key === 'Enter' && this.submit(),
            }),
      )
    const showFuncs = !this.vis && plan.requests[0]?.func !== undefined && plan.funcs.length > 1
    mount(
      this.argsEl,
      h('div', { class: 'pxl-args-title' }, 'Arguments'),
      showFuncs
        ? h(
            'label',
            { class: 'pxl-arg' },
            h('span', { class: 'arg-name' }, 'function'),
            h(
              'select',
              { 'data-testid': 'pxl-func', 'data-arg-func': '' },
              plan.funcs.map((f) => h('option', { value: f, selected: f === plan.requests[0]!.func }, f)),
            ),
          )
        : null,
      plan.args.length
        ? plan.args.map(field)
        : h(
            'div',
            { class: 'muted small' },
            plan.requests[0]?.func
              ? `${plan.requests[0].func}() takes no arguments.`
              : 'This script takes no arguments; a script of functions (def f(start_time: str, …)) or a vis.json asks for them here.',
          ),
      h('div', { class: 'muted small pxl-hint' }, 'Ctrl+Enter runs · Ctrl+Space completes tables, columns and px functions'),
    )
  }

  /** Run: the editor's text and the fields' values go into the URL (one history entry), which runs them. */
  private submit(): void {
    const text = this.editor?.value ?? ''
    const plan = runPlan(text, this.vis, {}, this.state.func)
    const args: Record<string, string> = {}
    for (const a of plan.args) {
      const v = this.argsEl.querySelector<HTMLInputElement | HTMLSelectElement>(`[data-arg="${CSS.escape(a.name)}"]`)?.value ?? ''
      if (v !== a.default) args[a.name] = v
    }
    const func = this.argsEl.querySelector<HTMLSelectElement>('[data-arg-func]')?.value ?? this.state.func
    const same = text === this.bundled?.script
    const next = { ...this.state, pxl: same ? '' : text, func: func === plan.funcs.at(-1) ? '' : func, args }
    if (liveToSearch(next) === liveToSearch(this.state)) return void this.run()
    this.go(next)
  }

  private async run(): Promise<void> {
    const gen = ++this.gen
    const text = this.editor?.value ?? this.text
    if (this.state.script && !this.bundled && !this.state.pxl) {
      const lib = this.scripts.filter((x) => !x.name.startsWith('examples/')).length
      this.showError(
        new ApiError(
          'KILN_NOT_FOUND',
          `no script named ${this.state.script} on this server (${lib ? `it has ${lib}; pick one above` : 'it lists no bundled scripts'})`,
          404,
        ),
      )
      mount(this.results)
      this.status.textContent = ''
      return
    }
    const plan = runPlan(text, this.vis, this.state.args, this.state.func)
    this.status.textContent = 'Running…'
    this.results.classList.add('loading')
    const t0 = performance.now()
    const outcomes: Outcome[] = await Promise.all(
      plan.requests.map((req) =>
        run(text, req).then(
          (res) => ({ req, res }),
          (err: unknown) => ({ req, err }),
        ),
      ),
    )
    if (gen !== this.gen) return
    this.results.classList.remove('loading')
    const failed = outcomes.find((o): o is { req: RunRequest; err: unknown } => 'err' in o)
    this.showError(failed?.err ?? null)
    const sections: HTMLElement[] = []
    let compile = 0
    let runMs = 0
    let tables = 0
    for (const o of outcomes) {
      if ('err' in o) continue
      compile += o.res.compileMs ?? 0
      runMs += o.res.runMs ?? 0
      tables += o.res.tables.length
      if (o.req.widgets.length) {
        const t = o.res.tables[0]
        if (t) for (const w of o.req.widgets) sections.push(display(t, w.name, chooseWidgets(t, w.spec), `${w.name}`))
      } else for (const t of o.res.tables) sections.push(display(t, t.name, chooseWidgets(t), t.name))
    }
    if (!failed && !sections.length)
      sections.push(
        h('div', { class: 'empty-result muted' }, 'The script displayed nothing: add ', h('code', null, "px.display(df, 'name')"), '.'),
      )
    mount(this.results, sections)
    this.status.textContent = failed
      ? ''
      : `${tables} table${tables === 1 ? '' : 's'} · compiled in ${Math.round(compile)} ms · ran in ${Math.round(runMs)} ms · ${Math.round(performance.now() - t0)} ms in all · ${new Date().toISOString().slice(11, 19)} UTC`
  }

  private showError(e: unknown): void {
    if (!e) {
      this.errorEl.hidden = true
      this.editor?.markError(null)
      return
    }
    const code = e instanceof ApiError ? e.code : 'ERROR'
    const msg = (e as Error).message ?? String(e)
    const at = errorLocation(msg)
    mount(
      this.errorEl,
      h('b', null, code),
      ' ',
      at ? h('span', { class: 'pxl-error-at', 'data-testid': 'pxl-error-at' }, `line ${at.line}, column ${at.column}`) : null,
      h('span', { class: 'pxl-error-msg' }, msg),
    )
    this.errorEl.hidden = false
    this.editor?.markError(at)
  }

  private async showDashboard(): Promise<void> {
    const gen = ++this.gen
    const d = this.dashboards.find((x) => x.name === this.state.dashboard)
    this.renderToolbar()
    if (!d) {
      mount(
        this.el,
        this.toolbar,
        h(
          'div',
          { class: 'empty' },
          h('h2', null, `No dashboard “${this.state.dashboard}”`),
          h(
            'p',
            null,
            this.dashboards.length ? `Known: ${this.dashboards.map((x) => x.name).join(', ')}.` : 'Start the server with ',
            h('code', null, 'kiln server --dashboards DIR'),
            ' (a directory of YAML or JSON files of panels).',
          ),
        ),
      )
      return
    }
    const panels = d.panels.map((p, k) => {
      const body = h('div', { class: 'panel-body loading' }, h('span', { class: 'muted small' }, 'Running…'))
      const edit = h(
        'a',
        {
          class: 'small',
          href: liveToSearch({ ...this.state, dashboard: '', script: '', pxl: p.pxl_script, args: p.args ?? {}, func: '' }),
          title: 'Open this panel’s script in the editor',
          onclick: (e: Event) => (
            e.preventDefault(), this.go({ dashboard: '', script: '', pxl: p.pxl_script, args: p.args ?? {}, func: '' })
          ),
        },
        'Edit script',
      )
      return {
        p,
        el: h(
          'section',
          { class: 'panel', 'data-testid': 'dashboard-panel', 'data-panel': String(k) },
          h('div', { class: 'panel-head' }, h('h3', null, p.title || `Panel ${k + 1}`), h('span', { class: 'spacer' }), edit),
          body,
        ),
        body,
      }
    })
    mount(
      this.el,
      this.toolbar,
      h(
        'div',
        { class: 'run-head' },
        h('h2', { class: 'page-title', 'data-testid': 'dashboard-title' }, d.title || d.name),
        h('span', { class: 'muted small' }, `${d.panels.length} panel${d.panels.length === 1 ? '' : 's'}`),
      ),
      d.error ? h('div', { class: 'pxl-error', role: 'alert' }, h('b', null, 'KILN_DASHBOARD'), ' ', d.error) : null,
      h(
        'div',
        { class: 'dashboard' },
        panels.map((x) => x.el),
      ),
    )
    await Promise.all(
      panels.map(async ({ p, body }) => {
        try {
          const res = await run(p.pxl_script, { args: p.args })
          if (gen !== this.gen) return
          body.classList.remove('loading')
          // A panel shows each table's most telling widget: a graph or chart when there is one, else the table.
          mount(
            body,
            res.tables.length
              ? res.tables.map((t) => widget(t, chooseWidgets(t)[0]!, `${d.name}/${p.title}/${t.name}`))
              : h('span', { class: 'muted small' }, 'No px.display in this script.'),
          )
        } catch (e) {
          if (gen !== this.gen) return
          body.classList.remove('loading')
          const at = errorLocation((e as Error).message ?? '')
          mount(
            body,
            h(
              'div',
              { class: 'pxl-error', role: 'alert' },
              h('b', null, e instanceof ApiError ? e.code : 'ERROR'),
              ' ',
              at ? h('span', { class: 'pxl-error-at' }, `line ${at.line}, column ${at.column}`) : null,
              h('span', { class: 'pxl-error-msg' }, (e as Error).message),
            ),
          )
        }
      }),
    )
  }
}

/** Completion's schema: the compiler's catalog when the server has one, else the tracing tables (the API's, or the model's). */
async function loadSchema(): Promise<PxlSchema> {
  const [tables, catalog] = await Promise.all([
    get<TraceTable[]>('trace/tables', {}).catch(() => traceTables),
    get<PxlCatalog>('pxl/catalog', {}).catch(() => null),
  ])
  return pxlSchema(tables, catalog)
}

/** One display: its name, row count and widgets. */
function display(t: PxlTable, title: string, widgets: ReturnType<typeof chooseWidgets>, key: string): HTMLElement {
  return h(
    'section',
    { class: 'pxl-display', 'data-display': title },
    h(
      'div',
      { class: 'pxl-display-head' },
      h('h3', null, title),
      h('span', { class: 'muted small' }, `${t.rows.length} row${t.rows.length === 1 ? '' : 's'} · ${t.columns.length} columns`),
    ),
    widgets.map((w) => widget(t, w, key)),
  )
}
