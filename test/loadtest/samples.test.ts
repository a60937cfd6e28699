/** Samples packed on a worker thread and unpacked on the main one come out as they went in, also across a table reset. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SampleBatch, SampleTables } from '../../src/loadtest/results/samples.ts'

test('packed samples unpack to the same metric, value, tags and time, in order; the tag table starts over past its bound', () => {
  const batch = new SampleBatch()
  const tables = new SampleTables()
  const sent: [string, number, Record<string, string>, number][] = []
  const got: typeof sent = []
  const ship = (): void => {
    const p = batch.take()
    // What the message carries: a structured clone of the batch.
    if (p) tables.unpack(structuredClone(p), (m, v, t, time) => got.push([m, v, t, time]))
  }
  const shared = { method: 'GET', status: '200' }
  for (let i = 0; i < 25_000; i++) {
    // One tag set per request, shared by its samples (as http.ts records them), and many unique
    // ones (a URL per request) so that the table passes its 10,000 bound twice.
    const tags = i % 3 === 0 ? shared : { url: `/item/${i}`, status: '200' }
    for (const m of ['http_reqs', 'http_req_duration']) {
      batch.add(m, i / 7, tags, 1_700_000_000_000 + i)
      sent.push([m, i / 7, { ...tags }, 1_700_000_000_000 + i])
    }
    if (i % 1_000 === 999) ship()
  }
  ship()
  assert.equal(batch.take(), null, 'nothing left')
  assert.equal(got.length, sent.length)
  assert.deepEqual(got, sent)
})
