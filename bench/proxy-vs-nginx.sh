#!/usr/bin/env bash
# Portico, nginx and HAProxy as reverse proxies, side by side in one run, on loopback only:
# issue 16's table.
#
# Each proxy runs one worker pinned to core 0 (nginx: one worker process; HAProxy: one
# thread; Portico: one event loop, since NIO sizes its group by the CPU affinity) in front of
# the same backend (an nginx serving static files, pinned to the other core together with
# wrk). Access logs are off in all three, the upstream connections are kept alive, and TLS
# uses the same ECDSA P-256 certificate (`portico certs dev`), TLS 1.2–1.3, the same TLS 1.2
# cipher list and no session resumption in all three (wrk resumes none anyway).
#
# Load cases (wrk, one thread): requests/s, p50/p99 latency, and CPU time per request — user
# plus system time of the proxy's whole process tree, from /proc, so it still compares when
# wrk's core is the limit — and the user time alone: the kernel's share (the same reads,
# writes and epoll calls for every proxy) is the floor under any proxy's total. The 1 MiB
# case's requests/s is its MiB/s.
# Memory, measured first while every process is fresh: RSS of the process tree before any
# request, then the RSS a proxy adds per idle keep-alive connection and per idle TLS
# connection (HOLD connections, one request each, then held open by bench/hold-connections.py).
#
# Usage: bench/build-release.sh && bench/proxy-vs-nginx.sh [seconds per run, default 10]
#        ACCESS_LOG=on bench/proxy-vs-nginx.sh    (Portico with its access log)
#        MEMORY_ONLY=1 bench/proxy-vs-nginx.sh    (only the memory rows)
#        PORTICO_BIN=/other/checkout/.build/release/portico bench/proxy-vs-nginx.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
PROXY_CPU="${PROXY_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
HOLD="${HOLD:-1000}"
ulimit -n "$(ulimit -Hn)"  # the held connections need more than 1,024 descriptors

source bench/common.sh
need haproxy || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null

BACKEND_PORT=18901
declare -A PLAIN_PORT=([nginx]=18902 [haproxy]=18904 [portico]=18906)
declare -A TLS_PORT=([nginx]=18903 [haproxy]=18905 [portico]=18907)
PROXIES=(nginx haproxy portico)
mkdir -p "$WORK/www" "$WORK/routes"
head -c 100 /dev/zero | tr '\0' 'a' >"$WORK/www/small"
head -c 16384 /dev/urandom >"$WORK/www/16k"
head -c $((1024 * 1024)) /dev/urandom >"$WORK/www/big"
# Exactly 16 KiB, cut by Python itself (a `| head -c` made Python fail with EPIPE now and then).
python3 -c "import json, sys; sys.stdout.write(json.dumps([{'id': i, 'name': 'item %d' % i, 'tags': ['a', 'b']} for i in range(330)])[:16384])" >"$WORK/www/data.json"
chmod -R a+rX "$WORK"
"$BIN" certs dev --certs-dir "$WORK/certs" >/dev/null
cat "$WORK/certs/localhost.crt" "$WORK/certs/localhost.key" >"$WORK/certs/haproxy.pem"
CIPHERS="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

# The process tree of a PID: itself and its children (nginx's master and worker).
tree_pids() { echo "$1" $(pgrep -P "$1" || true); }
# tree_ticks PID [cpu_ticks|user_ticks] -> the CPU ticks of the process tree.
tree_ticks() { local sum=0 p; for p in $(tree_pids "$1"); do sum=$((sum + $(${2:-cpu_ticks} "$p"))); done; echo $sum; }
tree_rss_kib() { local sum=0 p; for p in $(tree_pids "$1"); do sum=$((sum + $(awk '/VmRSS/ {print $2}' "/proc/$p/status"))); done; echo $sum; }
# port_of PROXY SCHEME -> the proxy's listening port for http or https.
port_of() { if [ "$2" = https ]; then echo "${TLS_PORT[$1]}"; else echo "${PLAIN_PORT[$1]}"; fi; }

nginx_conf backend "types { application/json json; } server { listen 127.0.0.1:$BACKEND_PORT; keepalive_requests 1000000; location / { root $WORK/www; } }"
nginx_conf proxy "upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 64; keepalive_requests 1000000; }
    proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_buffering on;
    # Same zlib level as Portico (compress-nio's default, 6).
    gzip on; gzip_comp_level 6; gzip_proxied any; gzip_min_length 1024; gzip_types application/json;
    server { listen 127.0.0.1:${PLAIN_PORT[nginx]}; keepalive_requests 1000000; location / { proxy_pass http://backend; } }
    server { listen 127.0.0.1:${TLS_PORT[nginx]} ssl; keepalive_requests 1000000;
        ssl_certificate $WORK/certs/localhost.crt; ssl_certificate_key $WORK/certs/localhost.key;
        ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers $CIPHERS; ssl_session_cache off; ssl_session_tickets off;
        location / { proxy_pass http://backend; } }"
# HAProxy 2.6 from Debian compresses with libslz, not zlib: its gzip row is not the same work.
cat >"$WORK/haproxy.cfg" <<CFG
global
    nbthread 1
    maxconn 8000
    tune.ssl.cachesize 0
    ssl-default-bind-ciphers $CIPHERS
    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets
defaults
    mode http
    timeout connect 5s
    timeout client 75s
    timeout server 75s
    timeout http-keep-alive 75s
    http-reuse always
frontend proxy
    bind 127.0.0.1:${PLAIN_PORT[haproxy]}
    bind 127.0.0.1:${TLS_PORT[haproxy]} ssl crt $WORK/certs/haproxy.pem
    compression algo gzip
    compression type application/json
    default_backend origin
backend origin
    server origin 127.0.0.1:$BACKEND_PORT
CFG
start_nginx_pair
declare -A PID
PID[nginx]=$(cat "$WORK/proxy.pid")
taskset -c "$PROXY_CPU" haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
PID[haproxy]=$!
# ACCESS_LOG=on runs Portico with its JSON access log (one line per request) written to a
# file, to measure its cost; metrics are always recorded.
PORTICO_LOG_LEVEL=$([ "${ACCESS_LOG:-off}" = on ] && echo info || echo warning) PORTICO_LOG_FORMAT=json \
    taskset -c "$PROXY_CPU" "$BIN" serve --http-addr "127.0.0.1:${PLAIN_PORT[portico]}" \
    --https-addr "127.0.0.1:${TLS_PORT[portico]}" --certs-dir "$WORK/certs" --admin-addr 127.0.0.1:0 \
    --routes-dir "$WORK/routes" --state-dir "$WORK/state" >"$WORK/portico.log" 2>&1 &
PORTICO_PID=$!
PID[portico]=$PORTICO_PID
trap 'kill ${PID[haproxy]} 2>/dev/null || true; cleanup' EXIT
sleep 2
for proxy in "${PROXIES[@]}"; do kill -0 "${PID[$proxy]}" 2>/dev/null || { echo "$proxy did not start"; cat "$WORK"/*.log; exit 1; }; done

# Memory first, while every process is fresh: the RSS of each tree before any request, then
# what HOLD idle keep-alive connections add, then (those still held) HOLD idle TLS ones.
declare -A IDLE_RSS KEEP TLS
per_connection() { awk -v a="$1" -v b="$2" -v n="$HOLD" 'BEGIN { printf "%.1f", (a - b) / n }'; }
for proxy in "${PROXIES[@]}"; do
    IDLE_RSS[$proxy]=$(tree_rss_kib "${PID[$proxy]}")
    before=${IDLE_RSS[$proxy]} holders=""
    for scheme in http https; do
        port=$(port_of "$proxy" "$scheme") flag=""
        [ "$scheme" = https ] && flag=--tls
        mkfifo "$WORK/hold-$scheme"
        taskset -c "$LOAD_CPU" python3 bench/hold-connections.py "$port" "$HOLD" /small $flag <"$WORK/hold-$scheme" >"$WORK/held-$scheme" &
        holders+=" $!"
        exec {fd}>"$WORK/hold-$scheme"
        eval "HOLDER_FD_$scheme=$fd"
        for _ in $(seq 600); do grep -q held "$WORK/held-$scheme" 2>/dev/null && break; sleep 0.1; done
        grep -q "held $HOLD" "$WORK/held-$scheme" || { echo "holding $HOLD $scheme connections to $proxy failed"; exit 1; }
        sleep 1
        after=$(tree_rss_kib "${PID[$proxy]}")
        if [ "$scheme" = http ]; then KEEP[$proxy]=$(per_connection "$after" "$before"); else TLS[$proxy]=$(per_connection "$after" "$before"); fi
        before=$after
    done
    eval "exec $HOLDER_FD_http>&- $HOLDER_FD_https>&-"
    wait $holders
    rm -f "$WORK"/hold-* "$WORK"/held-*
done
print_memory() {
    echo
    mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
    printf '%-28s %12s %12s %12s\n' "memory" "nginx" "haproxy" "portico"
    printf '%-28s %12s %12s %12s\n' "idle RSS, fresh MiB" "$(mib "${IDLE_RSS[nginx]}")" "$(mib "${IDLE_RSS[haproxy]}")" "$(mib "${IDLE_RSS[portico]}")"
    printf '%-28s %12s %12s %12s\n' "per keep-alive conn KiB" "${KEEP[nginx]}" "${KEEP[haproxy]}" "${KEEP[portico]}"
    printf '%-28s %12s %12s %12s\n' "per TLS conn KiB" "${TLS[nginx]}" "${TLS[haproxy]}" "${TLS[portico]}"
    echo "(RSS of each process tree, nginx's master and worker, measured fresh before any load: $HOLD keep-alive"
    echo " connections held after one request each, then $HOLD TLS connections beside them)"
}
[ "${MEMORY_ONLY:-0}" = 1 ] && { print_memory; exit 0; }
sleep 1
for proxy in "${PROXIES[@]}"; do
    for scheme in http https; do
        port=$(port_of "$proxy" "$scheme")
        status=$(curl -sk -o /dev/null -w '%{http_code}' "$scheme://127.0.0.1:$port/small")
        [ "$status" = 200 ] || { echo "$proxy $scheme answered $status"; cat "$WORK"/*.log; exit 1; }
        taskset -c "$LOAD_CPU" wrk -t1 -c16 -d2s "$scheme://127.0.0.1:$port/small" >/dev/null
    done
done
for port in "${TLS_PORT[@]}"; do
    echo "127.0.0.1:$port negotiates: $(openssl s_client -connect 127.0.0.1:$port -servername localhost </dev/null 2>/dev/null \
        | awk '/^New, / {print $2, $NF}')"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
printf '%-28s %12s %10s %10s %12s %12s\n' "case" "requests/s" "p50 ms" "p99 ms" "CPU us/req" "user us/req"
declare -A RESULT
for spec in "small-body-64c:http:/small:64:" "small-body-tls-64c:https:/small:64:" "16KiB-body-64c:http:/16k:64:" \
    "1MiB-body-64c:http:/big:64:" "16KiB-json-gzip-64c:http:/data.json:64:Accept-Encoding@ gzip" \
    "close-churn-16c:http:/small:16:Connection@ close" "tls-handshake-churn-16c:https:/small:16:Connection@ close"; do
    IFS=: read -r name scheme path conns header <<<"$spec"
    header=${header//@/:}
    for proxy in "${PROXIES[@]}"; do
        port=$(port_of "$proxy" "$scheme")
        ticks=$(tree_ticks "${PID[$proxy]}")
        user=$(tree_ticks "${PID[$proxy]}" user_ticks)
        read -r rps p50 p99 requests < <(SCHEME=$scheme run "$proxy" "$port" "$path" "$conns" "$header")
        cpu=$(cpu_us_per_request $(( $(tree_ticks "${PID[$proxy]}") - ticks )) "$requests")
        user=$(cpu_us_per_request $(( $(tree_ticks "${PID[$proxy]}" user_ticks) - user )) "$requests")
        RESULT[$name.$proxy]="$rps $p99 $cpu $user"
        printf '%-28s %12s %10s %10s %12s %12s\n' "$name $proxy" "$rps" "$p50" "$p99" "$cpu" "$user"
    done
    read -r pr p99 pcpu puser <<<"${RESULT[$name.portico]}"
    for other in nginx haproxy; do
        read -r r o99 ocpu ouser <<<"${RESULT[$name.$other]}"
        printf '%-28s %12s %10s %10s %12s %12s   (Portico/%s)\n' "$name ratio" "$(ratio "$pr" "$r")" "" \
            "$(ratio "$p99" "$o99")" "$(ratio "$pcpu" "$ocpu")" "$(ratio "$puser" "$ouser")" "$other"
    done
done
print_memory
