import type { ClickHouseClient } from '@clickhouse/client'
import type { TraceBatch } from '../model/trace-rows.ts'

/** Writes request-tracing rows (already checked by `checkTraceBatch`) into their tables. */
export class TraceStore {
  /** Rows written since start, by table (for /metrics). */
  readonly written = new Map<string, number>()

  constructor(
    private readonly client: ClickHouseClient,
    private readonly db: string,
  ) {}

  /** One insert per table; returns when the parts are fsynced, so an acknowledged batch survives a crash. */
  async insert(tenant: string, batch: TraceBatch): Promise<void> {
    await Promise.all(
      [...batch].map(async ([table, rows]) => {
        await this.client.insert({
          table: `${this.db}.${table}`,
          values: rows.map((r) => ({ tenant, ...r })),
          format: 'JSONEachRow',
          // Times arrive as `seconds.nanoseconds`; omitted columns take their defaults.
          clickhouse_settings: { date_time_input_format: 'best_effort', input_format_skip_unknown_fields: 0 },
        })
        this.written.set(table, (this.written.get(table) ?? 0) + rows.length)
      }),
    )
  }
}
