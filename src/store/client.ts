import { createClient, type ClickHouseClient } from '@clickhouse/client'
import { mkdirSync } from 'node:fs'
import { resolve } from 'node:path'
import { KilnError } from '../model/errors.ts'

export interface StoreOptions {
  /** Directory of the embedded engine's data (chDB). */
  dataDir: string
  /** http(s)://user:pass@host:8123 of a ClickHouse server or cluster; replaces the embedded engine. */
  clickhouseUrl?: string
  /** Database holding Kiln's tables. */
  database?: string
}

// Every 64-bit id (hashes) stays exact in JSON only as a string.
const settings = { output_format_json_quote_64bit_integers: 1 } as const

/** Opens the ClickHouse engine: chDB embedded in this process, or a ClickHouse server over HTTP. */
export async function openClient(opts: StoreOptions): Promise<{ client: ClickHouseClient; kind: 'chdb' | 'http' }> {
  if (opts.clickhouseUrl) {
    const client = createClient({ url: opts.clickhouseUrl, clickhouse_settings: settings, request_timeout: 60_000 })
    try {
      await client.ping()
    } catch (e) {
      throw new KilnError('KILN_STORE', `cannot reach ClickHouse at ${redact(opts.clickhouseUrl)}: ${(e as Error).message}`)
    }
    return { client, kind: 'http' }
  }
  const dir = resolve(opts.dataDir)
  try {
    mkdirSync(dir, { recursive: true })
  } catch (e) {
    throw new KilnError('KILN_STORE', `cannot create data directory ${dir}: ${(e as Error).message}`)
  }
  // Loaded lazily: the native engine is only needed when it is used.
  const { createChdbConnection } = await import('chdb/connection')
  let connection
  try {
    connection = createChdbConnection({ path: dir })
  } catch (e) {
    throw new KilnError('KILN_STORE', `cannot open the embedded ClickHouse engine in ${dir}: ${(e as Error).message}. Is another Kiln process using this --data-dir?`)
  }
  const client = createClient({ connection, clickhouse_settings: settings } as Parameters<typeof createClient>[0])
  return { client, kind: 'chdb' }
}

function redact(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return url
  }
}

/** Quotes a string as a ClickHouse literal. */
export function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}
