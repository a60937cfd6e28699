/** What `kiln run` prints while it runs: k6's banner and its plain progress lines. */
import { performance } from 'node:perf_hooks'
import { describe, scenarioDuration, scenarioVUs, type Scenario } from './options.ts'
import { formatDuration } from './duration.ts'

/** The VUs a test needs at most and its longest possible duration (incl. graceful stops). */
export function requirements(sc: Scenario[]): { maxVUs: number; totalDurationMs: number } {
  return {
    maxVUs: sc.reduce((a, s) => a + (s.executor.endsWith('arrival-rate') ? s.maxVUs : scenarioVUs(s)), 0),
    totalDurationMs: Math.max(...sc.map((s) => s.startTimeMs + scenarioDuration(s) + s.gracefulStopMs)),
  }
}

/** k6's header: execution, script, output, then one line per scenario. */
export function bannerText(script: string, sc: Scenario[], outputs: string[]): string {
  const req = requirements(sc)
  return [
    '',
    `     execution: local`,
    `        script: ${script}`,
    `        output: ${outputs.length ? outputs.join(', ') : '-'}`,
    '',
    `     scenarios: (${(100 * (sc[0]?.segment?.length ?? 1)).toFixed(2)}%) ${sc.length} scenario${sc.length > 1 ? 's' : ''}, ${req.maxVUs} max VUs, ${formatDuration(req.totalDurationMs)} max duration (incl. graceful stop):`,
    ...sc.map((s) => `              * ${s.name}: ${describe(s)}`),
    '',
    '',
  ].join('\n')
}

interface RunView {
  scenario: Scenario
  ctx: { start: number } | null
  done: number
  interrupted: number
  finished: boolean
}

/** `running (00m03.0s), 10/10 VUs, 152 complete and 0 interrupted iterations`, then a bar per scenario. */
export function progressText(elapsedMs: number, active: number, allocated: number, runs: RunView[]): string {
  const t = elapsedMs / 1000
  const done = runs.reduce((a, r) => a + r.done, 0)
  const intr = runs.reduce((a, r) => a + r.interrupted, 0)
  const head = `running (${String(Math.floor(t / 60)).padStart(2, '0')}m${(t % 60).toFixed(1).padStart(4, '0')}s), ${active}/${allocated} VUs, ${done} complete and ${intr} interrupted iterations\n`
  const bars = runs.map((r) => {
    const total = scenarioDuration(r.scenario)
    const el = r.ctx ? performance.now() - r.ctx.start : 0
    const frac = r.finished ? 1 : Math.min(1, el / (total || 1))
    const bar = '='.repeat(Math.round(frac * 40)).padEnd(40, '-')
    return `${r.scenario.name.padEnd(10)} [${bar}] ${Math.round(frac * 100)}%  ${r.done} iters  ${formatDuration(Math.round(el / 100) * 100)}/${formatDuration(total)}\n`
  })
  return head + bars.join('')
}
