#!/usr/bin/env bash
# Portico versus nginx as a reverse proxy, side by side in one run, on loopback only.
#
# Both proxies run one worker pinned to core 0 (nginx: one worker process; Portico: one event
# loop thread, since NIO sizes its group by the CPU affinity) in front of the same backend
# (an nginx serving static files, pinned to the other core together with wrk). Access logs
# are off in both. Prints requests/s, p50/p99 latency, CPU time per request (user + system of
# the proxy process, from /proc, so it still compares when wrk's core is the limit) and peak
# RSS of each, and Portico/nginx.
#
# Usage: swift build -c release && bench/proxy-vs-nginx.sh [seconds per run, default 10]
#        ACCESS_LOG=on bench/proxy-vs-nginx.sh    (Portico with its access log)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
PROXY_CPU="${PROXY_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"

source bench/common.sh

BACKEND_PORT=18901 NGINX_PORT=18902 PORTICO_PORT=18903
mkdir -p "$WORK/www" "$WORK/routes"
head -c 100 /dev/zero | tr '\0' 'a' >"$WORK/www/small"
head -c $((1024 * 1024)) /dev/urandom >"$WORK/www/big"
# Exactly 16 KiB, cut by Python itself (a `| head -c` made Python fail with EPIPE now and then).
python3 -c "import json, sys; sys.stdout.write(json.dumps([{'id': i, 'name': 'item %d' % i, 'tags': ['a', 'b']} for i in range(330)])[:16384])" >"$WORK/www/data.json"
chmod -R a+rX "$WORK"

nginx_conf backend "types { application/json json; } server { listen 127.0.0.1:$BACKEND_PORT; keepalive_requests 1000000; location / { root $WORK/www; } }"
nginx_conf proxy "upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 64; keepalive_requests 1000000; }
    server { listen 127.0.0.1:$NGINX_PORT; keepalive_requests 1000000;
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\";
                     proxy_buffering on; }
        # Same zlib level as Portico (compress-nio's default, 6).
        gzip on; gzip_comp_level 6; gzip_proxied any; gzip_min_length 1024; gzip_types application/json; }"
start_nginx_pair
# ACCESS_LOG=on runs Portico with its JSON access log (one line per request) written to a
# file, to measure its cost; metrics are always recorded.
PORTICO_LOG_LEVEL=$([ "${ACCESS_LOG:-off}" = on ] && echo info || echo warning) PORTICO_LOG_FORMAT=json \
    taskset -c "$PROXY_CPU" "$BIN" serve --http-addr "127.0.0.1:$PORTICO_PORT" --admin-addr 127.0.0.1:0 \
    --routes-dir "$WORK/routes" --state-dir "$WORK/state" >"$WORK/portico.log" 2>&1 &
PORTICO_PID=$!
sleep 1
NGINX_WORKER=$(pgrep -P "$(cat "$WORK/proxy.pid")" | head -1)

# Warm both up.
taskset -c "$LOAD_CPU" wrk -t1 -c16 -d2s "http://127.0.0.1:$NGINX_PORT/small" >/dev/null
taskset -c "$LOAD_CPU" wrk -t1 -c16 -d2s "http://127.0.0.1:$PORTICO_PORT/small" >/dev/null

printf '%-22s %12s %10s %10s %12s %12s\n' "case" "requests/s" "p50 ms" "p99 ms" "CPU us/req" "peak RSS MiB"
declare -A RESULT
for spec in "small-body-64c:/small:64:" "1MiB-body-8c:/big:8:" "16KiB-json-gzip-64c:/data.json:64:Accept-Encoding@ gzip"; do
    IFS=: read -r name path conns header <<<"$spec"
    header=${header//@/:}
    for proxy in nginx portico; do
        port=$NGINX_PORT; pid=$NGINX_WORKER
        [ "$proxy" = portico ] && port=$PORTICO_PORT && pid=$PORTICO_PID
        ticks=$(cpu_ticks "$pid")
        read -r rps p50 p99 requests < <(run "$proxy" "$port" "$path" "$conns" "$header")
        cpu=$(cpu_us_per_request $(( $(cpu_ticks "$pid") - ticks )) "$requests")
        rss=$(( $(peak_kib "$pid") / 1024 ))
        RESULT[$name.$proxy]="$rps $p50 $p99 $rss $cpu"
        printf '%-22s %12s %10s %10s %12s %12s\n' "$name $proxy" "$rps" "$p50" "$p99" "$cpu" "$rss"
    done
    read -r nr n50 n99 nrss ncpu <<<"${RESULT[$name.nginx]}"
    read -r pr p50 p99 prss pcpu <<<"${RESULT[$name.portico]}"
    awk -v name="$name" -v nr="$nr" -v pr="$pr" -v n99="$n99" -v p99="$p99" -v nrss="$nrss" -v prss="$prss" \
        -v ncpu="$ncpu" -v pcpu="$pcpu" \
        'BEGIN { printf "%-22s %12.2f %10s %10.2f %12.2f %12.2f   (Portico/nginx)\n", name " ratio", pr / nr, "", p99 / n99,
                 pcpu / (ncpu > 0 ? ncpu : 1), prss / (nrss > 0 ? nrss : 1) }'
done
