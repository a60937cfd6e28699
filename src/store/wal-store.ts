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
import { DEDUP_WINDOW, readWal, syncFileSystem, Wal } from './wal.ts'

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
  // Also for data directories made before the log: their tables fsynced every part.
  for (const t of LOGGED)
    await client.command({
      query: `ALTER TABLE ${db}.${t} MODIFY SETTING fsync_after_insert = 0, fsync_part_directory = 0, non_replicated_deduplication_window = ${DEDUP_WINDOW}`,
    })
  const data = resolve(dataDir)
  const dir = join(data, 'kiln-wal')
  const { groups, loose } = readWal(dir)
  // A group under its own token: the engine keeps what it already has of it.
  for (const g of groups) await insertMerged(insertRows, g.records, g.token)
  // Commits no group names never reached the engine: all of them in one insert.
  if (loose.length) await insertMerged(insertRows, loose, `replay-${randomUUID()}`)
  const wal = new Wal(dir, () => syncFileSystem(data))
  await wal.checkpoint()
  return { wal, replayed: groups.reduce((n, g) => n + g.records.length, loose.length) }
}
