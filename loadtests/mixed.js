// Mixed traffic across ROUTES routes and CONSUMERS consumers (1/1 and 100/100 like Kong's
// published suite): JWT-signed requests from random consumers on jwt+cors routes, CORS
// preflights, and plain requests on plain routes, at a fixed arrival rate.
import http from 'k6/http';
import { check } from 'k6';
import { BASE_URL, setupRoutes, setupConsumers, signHS256, CORS_PLUGIN, JWT_PLUGIN, waitForRoute, TREND_STATS } from './lib/setup.js';
import { summary } from './lib/summary.js';

const routes = Number(__ENV.ROUTES || 1);
const consumers = Number(__ENV.CONSUMERS || routes);
export const options = {
  summaryTrendStats: TREND_STATS,
  setupTimeout: '300s',
  scenarios: {
    mixed: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE || 500),
      timeUnit: '1s',
      duration: __ENV.DURATION || '30s',
      preAllocatedVUs: Number(__ENV.VUS || 50),
      maxVUs: Number(__ENV.MAX_VUS || 200),
    },
  },
  thresholds: {
    checks: ['rate>0.999'],
    http_req_failed: ['rate<0.001'],
    http_req_duration: [`p(95)<${__ENV.P95_MS || 25}`, `p(99)<${__ENV.P99_MS || 60}`],
  },
};

export function setup() {
  setupRoutes('mixed-plain', routes, []);
  setupRoutes('mixed-auth', routes, [CORS_PLUGIN, JWT_PLUGIN]);
  const creds = setupConsumers('mixed-user', consumers);
  const tokens = creds.map((c) => signHS256(c.key, c.secret, 3600));
  waitForRoute(`/mixed-plain-${routes - 1}/`);
  waitForRoute(`/mixed-auth-${routes - 1}/`, { Authorization: `Bearer ${tokens[tokens.length - 1]}` });
  return { tokens };
}

const pick = (n) => Math.floor(Math.random() * n);

export default function (data) {
  const route = pick(routes);
  const roll = Math.random();
  if (roll < 0.5) {
    const token = data.tokens[pick(data.tokens.length)];
    const res = http.get(`${BASE_URL}/mixed-auth-${route}/items`, {
      headers: { Authorization: `Bearer ${token}`, Origin: 'https://app.example.test' },
    });
    check(res, { 'jwt 200': (r) => r.status === 200, 'cors on actual request': (r) => !!r.headers['Access-Control-Allow-Origin'] });
  } else if (roll < 0.6) {
    const res = http.options(`${BASE_URL}/mixed-auth-${route}/items`, null, {
      headers: { Origin: 'https://app.example.test', 'Access-Control-Request-Method': 'POST' },
    });
    check(res, { 'preflight 200': (r) => r.status === 200 });
  } else {
    const res = http.get(`${BASE_URL}/mixed-plain-${route}/items`);
    check(res, { 'plain 200': (r) => r.status === 200 });
  }
}

export const handleSummary = summary(`mixed ${routes} routes / ${consumers} consumers`);
