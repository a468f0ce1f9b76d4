// Shared setup for the k6 scripts: configures routes, plugins, consumers and JWT credentials
// through the Admin API (idempotent PUTs, so re-runs and deployed gateways are fine), and signs
// HS256 tokens with k6's own crypto.
import http from 'k6/http';
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import { fail, sleep } from 'k6';

export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
export const ADMIN_URL = (__ENV.ADMIN_URL || 'http://127.0.0.1:8001').replace(/\/$/, '');
export const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || '';
// Where the configured services point. A deployed gateway needs an upstream it can reach.
export const UPSTREAM_URL = __ENV.UPSTREAM_URL || 'http://127.0.0.1:9000';

function admin(method, path, body) {
  const params = { headers: { 'Content-Type': 'application/json', 'X-Auth-Token': ADMIN_TOKEN } };
  const res = http.request(method, `${ADMIN_URL}${path}`, body === undefined ? null : JSON.stringify(body), params);
  return res;
}

function must(res, what, okStatuses) {
  if (!okStatuses.includes(res.status)) {
    fail(`${what}: admin answered ${res.status} ${res.body}`);
  }
  return res;
}

// Route `/{prefix}-{i}` for i in [0, n) to UPSTREAM_URL, with the given plugins on each route.
export function setupRoutes(prefix, n, plugins) {
  for (let i = 0; i < n; i++) {
    const name = `${prefix}-${i}`;
    must(admin('PUT', `/services/${name}`, { url: UPSTREAM_URL }), `service ${name}`, [200, 201]);
    must(admin('PUT', `/routes/${name}`, { paths: [`/${name}`], service: { name } }), `route ${name}`, [200, 201]);
    for (const plugin of plugins || []) {
      // 409 = already there from an earlier run.
      must(admin('POST', `/routes/${name}/plugins`, plugin), `plugin ${plugin.name} on ${name}`, [201, 409]);
    }
  }
}

// Consumers `{prefix}-{i}` each with one HS256 credential; returns [{username, key, secret}].
export function setupConsumers(prefix, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const username = `${prefix}-${i}`;
    const key = `${username}-iss`;
    const secret = `${username}-secret-0123456789abcdef`;
    must(admin('PUT', `/consumers/${username}`, {}), `consumer ${username}`, [200, 201]);
    must(admin('PUT', `/consumers/${username}/jwt/${key}`, { secret, algorithm: 'HS256' }), `jwt of ${username}`, [200, 201]);
    out.push({ username, key, secret });
  }
  return out;
}

// An HS256 JWT with `iss` = key, valid for `ttlSeconds`.
export function signHS256(key, secret, ttlSeconds) {
  const header = encoding.b64encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' }), 'rawurl');
  const now = Math.floor(Date.now() / 1000);
  const payload = encoding.b64encode(JSON.stringify({ iss: key, iat: now, exp: now + ttlSeconds }), 'rawurl');
  const signature = crypto.hmac('sha256', secret, `${header}.${payload}`, 'base64rawurl');
  return `${header}.${payload}.${signature}`;
}

export const CORS_PLUGIN = { name: 'cors', config: { origins: ['*'], headers: ['*'], credentials: true } };
export const JWT_PLUGIN = { name: 'jwt', config: { claims_to_verify: ['exp'] } };

// Wait (at most 15 s) until the gateway answers `path` (with `headers`) with a 200: the Admin
// API writes above reach gateways asynchronously.
export function waitForRoute(path, headers) {
  let status = 0;
  for (let i = 0; i < 150; i++) {
    const res = http.get(`${BASE_URL}${path}`, { headers: headers || {}, responseCallback: http.expectedStatuses({ min: 100, max: 599 }) });
    status = res.status;
    if (status === 200) return;
    sleep(0.1);
  }
  fail(`gateway never served ${path} (last status ${status})`);
}

// Percentiles every summary shows (k6's default list has no p99).
export const TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'];

// Seconds in a k6 duration string such as `30s`, `2m`, `1m30s`.
export function seconds(duration) {
  let total = 0;
  for (const [, n, unit] of duration.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(n) * { ms: 0.001, s: 1, m: 60, h: 3600 }[unit];
  }
  return total;
}
