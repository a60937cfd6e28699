/** Host function of fs.js's `k6/experimental/csv`: a file's records, parsed once on the host. */
import type { HostBinder } from '../../engine/host-api.ts'
import { csvOptions, csvRows } from './csv.ts'

export function installFs(b: HostBinder, readBytes: (path: string) => Buffer): void {
  b.def('csv', ['s'], (j) => {
    const [path, options] = JSON.parse(j) as [string, Record<string, unknown> | null]
    return JSON.stringify(csvRows(readBytes(path).toString('utf8'), csvOptions(options)))
  })
}
