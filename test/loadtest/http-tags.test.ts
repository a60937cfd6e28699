/**
 * The tags of a request's samples: k6's system tags, made once per distinct set and VU (http.ts
 * keeps them), so a reused set must be exactly what a fresh one would be, and change with the
 * status, the URL, the group, the user's tags and the scenario's tags.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { closeClient, newClient, request, type RequestSpec } from '../../src/loadtest/modules/http/http.ts'
import type { SampleSink, Tags } from '../../src/loadtest/results/metrics.ts'

test('request samples carry k6 system tags; repeated requests share one tag set, any change gives its own', async () => {
  const server = http.createServer((req, res) => {
    res.statusCode = req.url === '/missing' ? 404 : 200
    res.end('x')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const client = newClient({ userAgent: 'kiln-test', insecure: false, discardBodies: false, maxSockets: 2 })
  const seen: { metric: string; tags: Tags }[] = []
  const sink: SampleSink = { add: (metric, _v, tags) => void seen.push({ metric, tags }) }
  const spec = (path: string, tags: Tags = { group: '' }): RequestSpec => ({
    method: 'GET',
    url: base + path,
    headers: {},
    tags,
    timeoutMs: 5000,
    redirects: 10,
    responseType: 'text',
    expected: null,
  })
  const durationTags = async (path: string, baseTags: Tags, tags?: Tags): Promise<Tags> => {
    seen.length = 0
    await request(client, spec(path, tags), sink, baseTags)
    return seen.find((s) => s.metric === 'http_req_duration')!.tags
  }
  try {
    const scenario = { scenario: 'default' }
    const a = await durationTags('/a', scenario)
    assert.deepEqual(a, {
      scenario: 'default',
      proto: 'HTTP/1.1',
      status: '200',
      method: 'GET',
      url: `${base}/a`,
      name: `${base}/a`,
      group: '',
      expected_response: 'true',
    })
    assert.equal(await durationTags('/a', scenario), a, 'the same request reuses its tag set')
    assert.deepEqual(
      a,
      {
        scenario: 'default',
        proto: 'HTTP/1.1',
        status: '200',
        method: 'GET',
        url: `${base}/a`,
        name: `${base}/a`,
        group: '',
        expected_response: 'true',
      },
      'unchanged by reuse',
    )
    const missing = await durationTags('/missing', scenario)
    assert.deepEqual([missing.status, missing.expected_response, missing.error_code], ['404', 'false', '1404'])
    assert.equal((await durationTags('/b', scenario)).url, `${base}/b`)
    assert.deepEqual(await durationTags('/a', scenario, { group: '::login', name: 'home', kind: 'x' }), {
      ...a,
      group: '::login',
      name: 'home',
      kind: 'x',
    })
    const other = await durationTags('/a', { scenario: 'second' })
    assert.equal(other.scenario, 'second', 'a new scenario (new base tags) starts new tag sets')
    seen.length = 0
    await request(client, spec('/a', { group: '::g' }), sink, scenario)
    assert.deepEqual(seen.find((s) => s.metric === 'data_sent')!.tags, { scenario: 'default', group: '::g' })
  } finally {
    closeClient(client)
    server.close()
  }
})
