#!/usr/bin/env bash
# The cost of exporting spans (SPEC §16): two Portico processes with the same routes, one
# exporting every request's span with OTLP/HTTP to a loopback collector (nginx answering
# POST /v1/traces with 200), one without PORTICO_OTLP_ENDPOINT; rounds alternate which runs
# first, and only one takes load at a time. Each runs one event loop pinned to PROXY_CPU
# (its exporter task shares that core, so encoding counts in its CPU); wrk and the nginx
# origin and collector share LOAD_CPU; 100-byte bodies over 64 keep-alive connections.
# Prints requests/s, p99 and CPU µs/request of each run, the ratios on/off, and the spans
# the exporting process exported and dropped.
#
# Usage: bench/build-release.sh && bench/tracing.sh [seconds per run, default 8] [rounds, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-8}"
ROUNDS="${2:-3}"
PROXY_CPU="${PROXY_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"

source bench/common.sh

BACKEND_PORT=18951 OFF_PORT=18953 ON_PORT=18955 ON_ADMIN=18956
mkdir -p "$WORK/www" "$WORK/routes"
head -c 100 /dev/zero | tr '\0' 'a' >"$WORK/www/small"
chmod -R a+rX "$WORK"
nginx_conf backend "server { listen 127.0.0.1:$BACKEND_PORT; keepalive_requests 1000000;
    location / { root $WORK/www; }
    location = /v1/traces { return 200; } }"
taskset -c "$LOAD_CPU" nginx -p "$WORK" -c "$WORK/backend.conf"
cat >"$WORK/routes/bench.yaml" <<ROUTES
upstreams: [{ name: app, endpoints: ["127.0.0.1:$BACKEND_PORT"] }]
routes: [{ name: app, upstream: app }]
ROUTES
OFF_PID=$(start_portico "$OFF_PORT" 0)
ON_PID=$(start_portico "$ON_PORT" "$ON_ADMIN" PORTICO_OTLP_ENDPOINT="http://127.0.0.1:$BACKEND_PORT")
PORTICO_PID="$OFF_PID $ON_PID"
trap 'kill $OFF_PID $ON_PID 2>/dev/null || true; cleanup' EXIT
sleep 1
for port in "$OFF_PORT" "$ON_PORT"; do
    status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/small")
    [ "$status" = 200 ] || { echo "port $port answered $status"; cat "$WORK"/portico-*.log; exit 1; }
    taskset -c "$LOAD_CPU" wrk -t1 -c16 -d2s "http://127.0.0.1:$port/small" >/dev/null
done

compare_on_off tracing 0.90 "$ON_PID" "$ON_PORT" "$OFF_PID" "$OFF_PORT" /small
sleep 6  # one export interval, so the last spans are counted
curl -s "http://127.0.0.1:$ON_ADMIN/metrics" | grep -E '^portico_trace_spans_(exported|dropped)_total' || true
