#!/usr/bin/env bash
# The cost of SPEC §12's per-request work: a route split two ways by weight with two request
# and two response header modifications, against a plain route, in the same Portico process
# (one event loop on PROXY_CPU) and the same run, rounds alternating. Two nginx backends
# beside wrk on LOAD_CPU serve 100-byte bodies over 64 keep-alive connections. Prints
# requests/s, p99 and CPU µs/request of each run, then traffic/plain ratios of the means and
# the median of each round's ratio.
#
# Usage: bench/build-release.sh && bench/traffic-split.sh [seconds per run, default 8] [rounds, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-8}"
ROUNDS="${2:-3}"
PROXY_CPU="${PROXY_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"

source bench/common.sh

FIRST_PORT=18931 SECOND_PORT=18932 PORTICO_PORT=18933
mkdir -p "$WORK/www" "$WORK/routes"
head -c 100 /dev/zero | tr '\0' 'a' >"$WORK/www/small"
chmod -R a+rX "$WORK"
nginx_conf backend "server { listen 127.0.0.1:$FIRST_PORT; listen 127.0.0.1:$SECOND_PORT; keepalive_requests 1000000;
    location / { root $WORK/www; } }"
taskset -c "$LOAD_CPU" nginx -p "$WORK" -c "$WORK/backend.conf"
cat >"$WORK/routes/bench.yaml" <<ROUTES
upstreams:
  - { name: v1, endpoints: ["127.0.0.1:$FIRST_PORT"] }
  - { name: v2, endpoints: ["127.0.0.1:$SECOND_PORT"] }
routes:
  - { name: plain, hosts: [plain.test], upstream: v1 }
  - name: traffic
    hosts: [traffic.test]
    backends: [{ upstream: v1, weight: 90 }, { upstream: v2, weight: 10 }]
    requestHeaders: { set: { X-Env: prod }, remove: [X-Debug] }
    responseHeaders: { set: { Cache-Control: no-store }, add: { X-Served-By: edge } }
ROUTES
PORTICO_LOG_LEVEL=warning taskset -c "$PROXY_CPU" "$BIN" serve --http-addr "127.0.0.1:$PORTICO_PORT" \
    --admin-addr 127.0.0.1:0 --routes-dir "$WORK/routes" --state-dir "$WORK/state" >"$WORK/portico.log" 2>&1 &
PORTICO_PID=$!
sleep 1
for host in plain.test traffic.test; do
    taskset -c "$LOAD_CPU" wrk -t1 -c16 -d2s -H "Host: $host" "http://127.0.0.1:$PORTICO_PORT/small" >/dev/null
done

declare -A SUM_RPS SUM_CPU ROUND_RPS
RATIOS=()
for round in $(seq "$ROUNDS"); do
    order="plain traffic"; [ $((round % 2)) = 0 ] && order="traffic plain"
    for route in $order; do
        ticks=$(cpu_ticks "$PORTICO_PID")
        read -r rps _ p99 requests < <(run "$route" "$PORTICO_PORT" /small 64 "Host: $route.test")
        cpu=$(cpu_us_per_request $(( $(cpu_ticks "$PORTICO_PID") - ticks )) "$requests")
        printf 'round %s %-8s %10s req/s  p99 %8s ms  %8s CPU us/req\n' "$round" "$route" "$rps" "$p99" "$cpu"
        SUM_RPS[$route]=$(awk -v a="${SUM_RPS[$route]:-0}" -v b="$rps" 'BEGIN { print a + b }')
        SUM_CPU[$route]=$(awk -v a="${SUM_CPU[$route]:-0}" -v b="$cpu" 'BEGIN { print a + b }')
        ROUND_RPS[$route]=$rps
    done
    RATIOS+=("$(awk -v t="${ROUND_RPS[traffic]}" -v p="${ROUND_RPS[plain]}" 'BEGIN { printf "%.4f", t / p }')")
done
# The two runs of a round are adjacent, so their ratio is the least touched by the machine's
# drift; the median of those ratios by the odd round out.
median=$(printf '%s\n' "${RATIOS[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')
echo "traffic/plain requests/s per round: ${RATIOS[*]}; median $median"
awk -v pr="${SUM_RPS[plain]}" -v tr="${SUM_RPS[traffic]}" -v pc="${SUM_CPU[plain]}" -v tc="${SUM_CPU[traffic]}" \
    'BEGIN { printf "traffic/plain: requests/s %.3f  CPU us/req %.3f  (the aim: requests/s >= 0.95)\n", tr / pr, tc / pc }'
