#!/usr/bin/env bash
# Two builds of Portico on the same load, alternating, for CPU per request: each alone on
# PROXY_CPU in front of an nginx backend, wrk beside the backend on LOAD_CPU, 100-byte
# bodies over 64 keep-alive connections. Prints requests/s, p99 and CPU µs/request (user +
# system from /proc) of each run; the order flips every round.
#
# Usage: bench/build-release.sh && OTHER=/path/to/other/.build/release/portico bench/build-vs-build.sh [seconds] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-8}"
ROUNDS="${2:-3}"
PROXY_CPU="${PROXY_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
: "${OTHER:?set OTHER to the portico binary to compare with}"

source bench/common.sh

BACKEND_PORT=18911
mkdir -p "$WORK/www" "$WORK/routes"
head -c 100 /dev/zero | tr '\0' 'a' >"$WORK/www/small"
chmod -R a+rX "$WORK"
nginx_conf backend "server { listen 127.0.0.1:$BACKEND_PORT; keepalive_requests 1000000; location / { root $WORK/www; } }"
taskset -c "$LOAD_CPU" nginx -p "$WORK" -c "$WORK/backend.conf"
cat >"$WORK/routes/bench.yaml" <<ROUTES
upstreams: [{ name: backend, endpoints: ["127.0.0.1:$BACKEND_PORT"] }]
routes: [{ name: bench, upstream: backend }]
ROUTES

port=18920
for round in $(seq "$ROUNDS"); do
    order="this other"; [ $((round % 2)) = 0 ] && order="other this"
    for which in $order; do
        bin="$BIN"; [ "$which" = other ] && bin="$OTHER"
        port=$((port + 1))
        PORTICO_LOG_LEVEL=warning taskset -c "$PROXY_CPU" "$bin" serve --http-addr "127.0.0.1:$port" \
            --admin-addr 127.0.0.1:0 --routes-dir "$WORK/routes" --state-dir "$WORK/state-$port" >"$WORK/portico.log" 2>&1 &
        PORTICO_PID=$!
        sleep 1
        taskset -c "$LOAD_CPU" wrk -t1 -c16 -d2s "http://127.0.0.1:$port/small" >/dev/null
        ticks=$(cpu_ticks "$PORTICO_PID")
        read -r rps _ p99 requests < <(run "$which" "$port" /small 64)
        cpu=$(cpu_us_per_request $(( $(cpu_ticks "$PORTICO_PID") - ticks )) "$requests")
        printf 'round %s %-6s %10s req/s  p99 %8s ms  %8s CPU us/req\n' "$round" "$which" "$rps" "$p99" "$cpu"
        kill "$PORTICO_PID"; wait "$PORTICO_PID" 2>/dev/null || true
        PORTICO_PID=
    done
done
