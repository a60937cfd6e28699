/** What the k6/browser tests share. */

/** The JSON a script printed as `RESULT …` from console.log, per line. */
export function results(stderr: string): any[] {
  return stderr
    .split('\n')
    .filter((l) => l.includes(' RESULT '))
    .map((l) => JSON.parse(l.slice(l.indexOf(' RESULT ') + 8).replace(/\s+source=console$/, '')))
}
