// A starter load test (as `kiln new` writes): GET the target, check it answers 200.
import http from 'k6/http'
import { check, sleep } from 'k6'

export const options = {
  vus: 30,
  duration: '1m',
  thresholds: { http_req_failed: ['rate<0.01'], http_req_duration: ['p(95)<500'] },
}

export default function () {
  const res = http.get(__ENV.TARGET_URL)
  check(res, { 'status is 200': (r) => r.status === 200 })
  sleep(1)
}
