// Smoke run: a few seconds, a few VUs; a plain route and a jwt+cors route must behave.
// Part of the normal test command (scripts/test), so these scripts cannot rot.
import http from 'k6/http';
import { check } from 'k6';
import { BASE_URL, setupRoutes, setupConsumers, signHS256, CORS_PLUGIN, JWT_PLUGIN, waitForRoute, TREND_STATS } from './lib/setup.js';
import { summary } from './lib/summary.js';

export const options = {
  summaryTrendStats: TREND_STATS,
  vus: Number(__ENV.VUS || 2),
  duration: __ENV.DURATION || '5s',
  thresholds: {
    checks: ['rate==1'],
    http_req_failed: ['rate<0.01'],
    http_req_duration: [`p(95)<${__ENV.P95_MS || 500}`],
  },
};

export function setup() {
  setupRoutes('smoke-plain', 1, []);
  setupRoutes('smoke-auth', 1, [CORS_PLUGIN, JWT_PLUGIN]);
  const [consumer] = setupConsumers('smoke-user', 1);
  const token = signHS256(consumer.key, consumer.secret, 3600);
  waitForRoute('/smoke-plain-0/');
  waitForRoute('/smoke-auth-0/', { Authorization: `Bearer ${token}` });
  return { token };
}

export default function (data) {
  const plain = http.get(`${BASE_URL}/smoke-plain-0/hello`);
  check(plain, { 'plain route 200': (r) => r.status === 200 });

  const authed = http.get(`${BASE_URL}/smoke-auth-0/hello`, { headers: { Authorization: `Bearer ${data.token}` } });
  check(authed, { 'jwt route with token 200': (r) => r.status === 200 });

  const refused = http.get(`${BASE_URL}/smoke-auth-0/hello`, { responseCallback: http.expectedStatuses(401) });
  check(refused, {
    'jwt route without token 401': (r) => r.status === 401,
    'Kong body': (r) => r.json('message') === 'Unauthorized',
  });

  const preflight = http.options(`${BASE_URL}/smoke-auth-0/hello`, null, {
    headers: { Origin: 'https://www.dummy-url.com', 'Access-Control-Request-Method': 'GET' },
  });
  check(preflight, {
    'preflight 200': (r) => r.status === 200,
    'preflight echoes origin': (r) => r.headers['Access-Control-Allow-Origin'] === 'https://www.dummy-url.com',
  });

  const missing = http.get(`${BASE_URL}/no-such-route-here`, { responseCallback: http.expectedStatuses(404) });
  check(missing, { 'no route 404': (r) => r.status === 404 });
}

export const handleSummary = summary('smoke');
