#!/usr/bin/env bash
# The cost of the access log: two Portico processes with the same routes, one writing its
# JSON access log (one line per request, PORTICO_LOG_LEVEL=info) to a file, one without
# (warning); rounds alternate which runs first, and only one takes load at a time. Each
# runs one event loop pinned to PROXY_CPU; wrk and the nginx origin share LOAD_CPU;
# 100-byte bodies over 64 keep-alive connections. Prints requests/s, p99 and CPU
# µs/request of each run and the ratios on/off (issue 16's aim: at most 10 % cost).
#
# Usage: bench/build-release.sh && bench/access-log.sh [seconds per run, default 8] [rounds, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-8}"
ROUNDS="${2:-3}"
PROXY_CPU="${PROXY_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"

source bench/common.sh

BACKEND_PORT=18961 OFF_PORT=18963 ON_PORT=18965
mkdir -p "$WORK/www" "$WORK/routes"
head -c 100 /dev/zero | tr '\0' 'a' >"$WORK/www/small"
chmod -R a+rX "$WORK"
nginx_conf backend "server { listen 127.0.0.1:$BACKEND_PORT; keepalive_requests 1000000; location / { root $WORK/www; } }"
taskset -c "$LOAD_CPU" nginx -p "$WORK" -c "$WORK/backend.conf"
cat >"$WORK/routes/bench.yaml" <<ROUTES
upstreams: [{ name: app, endpoints: ["127.0.0.1:$BACKEND_PORT"] }]
routes: [{ name: app, upstream: app }]
ROUTES
OFF_PID=$(start_portico "$OFF_PORT" 0)
ON_PID=$(start_portico "$ON_PORT" 0 PORTICO_LOG_LEVEL=info PORTICO_LOG_FORMAT=json)
PORTICO_PID="$OFF_PID $ON_PID"
trap 'kill $OFF_PID $ON_PID 2>/dev/null || true; cleanup' EXIT
sleep 1
for port in "$OFF_PORT" "$ON_PORT"; do
    status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/small")
    [ "$status" = 200 ] || { echo "port $port answered $status"; cat "$WORK"/portico-*.log; exit 1; }
    taskset -c "$LOAD_CPU" wrk -t1 -c16 -d2s "http://127.0.0.1:$port/small" >/dev/null
done
compare_on_off "access log" 0.90 "$ON_PID" "$ON_PORT" "$OFF_PID" "$OFF_PORT" /small
echo "access log lines written: $(grep -c '"log":"access"' "$WORK/portico-$ON_PORT.log")"
