import { timeText } from './format.ts'

/** The command that sends a first profile to this server (`origin`: the page's own, e.g. `http://10.0.0.5:8080`). */
export function firstProfileCommand(origin: string): string {
  return `curl -X POST --data-binary 'main;work 100' '${origin}/ingest?name=myapp.cpu&format=folded'`
}

/** The command that stores a first load-test run on this server. */
export function firstRunCommand(origin: string): string {
  return `kiln run -o kiln=${origin} --profile '{service_name="api"}' script.js`
}

/** "No data between … and …; latest data at …" (times as the range inputs show them, UTC). */
export function noDataText(from: number, until: number, newest: number): string {
  const t = (ms: number) => timeText(String(Math.floor(ms / 1000) * 1000))
  return `No data between ${t(from)} and ${t(until)}; latest data at ${t(newest)}.`
}

/** The range to offer when the chosen one is empty: the hour up to the latest data (and a minute past it). */
export function rangeAround(newest: number): { from: string; until: string } {
  return { from: String(newest - 3600_000), until: String(newest + 60_000) }
}
