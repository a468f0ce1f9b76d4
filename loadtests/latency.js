// Latency at a fixed arrival rate on a plain route (RATE req/s for DURATION), so latency is
// measured without coordinated omission. Thresholds on error rate and p95/p99.
import http from 'k6/http';
import { check } from 'k6';
import { BASE_URL, setupRoutes, waitForRoute, TREND_STATS, seconds } from './lib/setup.js';
import { summary } from './lib/summary.js';

const rate = Number(__ENV.RATE || 500);
const duration = __ENV.DURATION || '30s';
// Iterations k6 could not start in time (no free VU): at most 0.1 % of the planned requests.
const maxDropped = Math.max(1, Math.floor(rate * seconds(duration) * 0.001));
export const options = {
  summaryTrendStats: TREND_STATS,
  scenarios: {
    fixed_rate: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration,
      preAllocatedVUs: Number(__ENV.VUS || 100),
      maxVUs: Number(__ENV.MAX_VUS || 200),
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.001'],
    http_req_duration: [`p(95)<${__ENV.P95_MS || 20}`, `p(99)<${__ENV.P99_MS || 50}`],
    dropped_iterations: [`count<=${maxDropped}`],
  },
};

export function setup() {
  setupRoutes('latency', 1, []);
  waitForRoute('/latency-0/');
}

export default function () {
  const res = http.get(`${BASE_URL}/latency-0/`);
  check(res, { 'status 200': (r) => r.status === 200 });
}

export const handleSummary = summary(`latency at ${rate} req/s`);
