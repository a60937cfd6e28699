/**
 * Recording rules made through the API, kept in the store so every Kiln server over the same
 * ClickHouse sees them and they survive a restart (rules from the YAML file are not stored: the
 * file is their home). One row per change; the newest row of a rule wins, a deleted one is a row too.
 */
import type { ClickHouseClient } from '@clickhouse/client'
import type { RecordingRule } from '../model/recording-rules.ts'

export class RuleStore {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly db: string,
  ) {}

  async init(): Promise<void> {
    await this.client.command({
      query: `CREATE TABLE IF NOT EXISTS ${this.db}.recording_rules (
        tenant LowCardinality(String),
        id String,
        rule String,
        deleted UInt8,
        updated DateTime64(3)
      ) ENGINE = ReplacingMergeTree(updated)
      ORDER BY (tenant, id)
      SETTINGS fsync_after_insert = 1, fsync_part_directory = 1`,
    })
  }

  async upsert(tenant: string, rule: RecordingRule): Promise<void> {
    await this.client.insert({
      table: `${this.db}.recording_rules`,
      values: [{ tenant, id: rule.id, rule: JSON.stringify(rule), deleted: 0, updated: Date.now() }],
      format: 'JSONEachRow',
    })
  }

  async delete(tenant: string, id: string): Promise<void> {
    await this.client.insert({
      table: `${this.db}.recording_rules`,
      values: [{ tenant, id, rule: '', deleted: 1, updated: Date.now() }],
      format: 'JSONEachRow',
    })
  }

  /** Every tenant's live rules. */
  async all(): Promise<{ tenant: string; rule: RecordingRule }[]> {
    const rs = await this.client.query({
      query: `SELECT tenant, argMax(rule, updated), argMax(deleted, updated) AS gone FROM ${this.db}.recording_rules GROUP BY tenant, id HAVING gone = 0 ORDER BY tenant, id`,
      format: 'JSONCompactEachRow',
    })
    const rows = (await rs.json()) as [string, string, number][]
    return rows.map(([tenant, rule]) => ({ tenant, rule: JSON.parse(rule) as RecordingRule }))
  }
}
