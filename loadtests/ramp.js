// Ramp the arrival rate from START_RATE to MAX_RATE over DURATION to find where the gateway
// stops keeping up: the run aborts when the error rate or p99 crosses its threshold, and the
// summary's achieved rate is the maximum it sustained.
import http from 'k6/http';
import { check } from 'k6';
import { BASE_URL, setupRoutes, waitForRoute, TREND_STATS } from './lib/setup.js';
import { summary } from './lib/summary.js';

export const options = {
  summaryTrendStats: TREND_STATS,
  scenarios: {
    ramp: {
      executor: 'ramping-arrival-rate',
      startRate: Number(__ENV.START_RATE || 100),
      timeUnit: '1s',
      preAllocatedVUs: Number(__ENV.VUS || 100),
      maxVUs: Number(__ENV.MAX_VUS || 500),
      stages: [{ target: Number(__ENV.MAX_RATE || 5000), duration: __ENV.DURATION || '60s' }],
    },
  },
  thresholds: {
    http_req_failed: [{ threshold: 'rate<0.01', abortOnFail: true, delayAbortEval: '5s' }],
    http_req_duration: [{ threshold: `p(99)<${__ENV.P99_MS || 100}`, abortOnFail: true, delayAbortEval: '5s' }],
  },
};

export function setup() {
  setupRoutes('ramp', 1, []);
  waitForRoute('/ramp-0/');
}

export default function () {
  const res = http.get(`${BASE_URL}/ramp-0/`);
  check(res, { 'status 200': (r) => r.status === 200 });
}

export const handleSummary = summary('ramp');
