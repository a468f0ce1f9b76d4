// A compact end-of-run summary (k6's jslib summary is fetched from the network, which load
// tests must not need): requests, rate, latency percentiles, errors and each threshold's verdict.
export function summary(name) {
  return function handleSummary(data) {
    const m = data.metrics;
    const d = m.http_req_duration ? m.http_req_duration.values : {};
    const fmt = (v) => (v === undefined ? '-' : `${v.toFixed(2)} ms`);
    const lines = [
      `== ${name} ==`,
      `requests:      ${m.http_reqs ? m.http_reqs.values.count : 0} (${m.http_reqs ? m.http_reqs.values.rate.toFixed(1) : 0}/s)`,
      `latency:       p50 ${fmt(d.med)}  p90 ${fmt(d['p(90)'])}  p95 ${fmt(d['p(95)'])}  p99 ${fmt(d['p(99)'])}  max ${fmt(d.max)}`,
      `failed rate:   ${m.http_req_failed ? (m.http_req_failed.values.rate * 100).toFixed(3) : 0} %`,
      `checks:        ${m.checks ? (m.checks.values.rate * 100).toFixed(2) : 100} % passed`,
    ];
    if (m.dropped_iterations) lines.push(`dropped iter.: ${m.dropped_iterations.values.count}`);
    for (const [metric, v] of Object.entries(m)) {
      for (const [expr, t] of Object.entries(v.thresholds || {})) {
        lines.push(`threshold ${metric} ${expr}: ${t.ok ? 'ok' : 'CROSSED'}`);
      }
    }
    const text = lines.join('\n') + '\n';
    const out = { stdout: text };
    if (__ENV.SUMMARY_JSON) out[__ENV.SUMMARY_JSON] = JSON.stringify(data, null, 2);
    return out;
  };
}
