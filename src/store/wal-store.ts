/**
 * The write-ahead log wired to the embedded engine: the profile tables stop fsyncing their parts
 * (the log is fsynced instead) and remember recent insert tokens, and what the log holds from
 * before a crash is inserted again before the store takes writes.
 */
import type { ClickHouseClient } from '@clickhouse/client'
import { join, resolve } from 'node:path'
import type { InsertRows } from './client.ts'
import { randomUUID } from 'node:crypto'
import { insertMerged } from './wal-apply.ts'
import { FileSystemSync, readWal, Wal } from './wal.ts'
import { loggedSettings } from './schema.ts'

/** The tables a group commit writes (profiles through the samples' materialized view). */
const LOGGED = ['series', 'profiles', 'samples', 'stacks', 'functions']

/**
 * Opens the log of `dataDir`, after bringing the engine up to date with it: the records left by
 * the last process go in again (the engine skips those it has), then a checkpoint removes them.
 */
export async function openWal(
  dataDir: string,
  db: string,
  client: ClickHouseClient,
  insertRows: InsertRows,
): Promise<{ wal: Wal; replayed: number }> {
  // Tables made before the log fsynced every part: brought to the log's settings once (the
  // schema creates new ones with them).
  const rs = await client.query({
    query: `SELECT name, engine_full FROM system.tables WHERE database = {db:String} AND name IN {names:Array(String)}`,
    query_params: { db, names: LOGGED },
    format: 'JSONEachRow',
  })
  for (const { name, engine_full } of await rs.json<{ name: string; engine_full: string }>())
    if (!hasSettings(engine_full, loggedSettings))
      await client.command({ query: `ALTER TABLE ${db}.${name} MODIFY SETTING ${loggedSettings}` })
  const data = resolve(dataDir)
  const dir = join(data, 'kiln-wal')
  const { groups, loose } = readWal(dir)
  // A group under its own token: the engine keeps what it already has of it.
  for (const g of groups) await insertMerged(insertRows, g.records, g.token)
  // Commits no group names never reached the engine: all of them in one insert.
  if (loose.length) await insertMerged(insertRows, loose, `replay-${randomUUID()}`)
  const fs = new FileSystemSync()
  const wal = new Wal(
    dir,
    () => fs.sync(data),
    () => fs.close(),
  )
  await wal.checkpoint()
  return { wal, replayed: groups.reduce((n, g) => n + g.records.length, loose.length) }
}

/** Whether a table's engine clause (system.tables.engine_full) has every `name = value` of `settings`. */
export function hasSettings(engineFull: string, settings: string): boolean {
  const has = new Set(engineFull.slice(engineFull.indexOf(' SETTINGS ') + 1).split(/,\s*|SETTINGS\s+/))
  return settings.split(/,\s*/).every((s) => has.has(s.trim()))
}
