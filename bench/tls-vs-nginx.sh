#!/usr/bin/env bash
# Portico versus nginx terminating TLS in front of the same backend, side by side in one run,
# on loopback only.
#
# Both run one worker pinned to core 0 with the same ECDSA P-256 certificate (made by
# `portico certs dev`), TLS 1.2–1.3 and the same TLS 1.2 cipher list; wrk (OpenSSL, no ALPN:
# HTTP/1.1) and the backend nginx share the other core. Cases: keep-alive connections, and
# a new TCP connection and full handshake per request (`Connection: close`). Prints
# requests/s, p50/p99 latency and the Portico/nginx ratios, and the negotiated suite.
#
# Usage: swift build -c release && bench/tls-vs-nginx.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
PROXY_CPU="${PROXY_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
SCHEME=https

source bench/common.sh

BACKEND_PORT=18911 NGINX_PORT=18912 PORTICO_PORT=18913 PORTICO_HTTP_PORT=18914
mkdir -p "$WORK/www" "$WORK/routes"
head -c 100 /dev/zero | tr '\0' 'a' >"$WORK/www/small"
chmod -R a+rX "$WORK"
"$BIN" certs dev --certs-dir "$WORK/certs" >/dev/null

CIPHERS="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
nginx_conf backend "server { listen 127.0.0.1:$BACKEND_PORT; keepalive_requests 1000000; location / { root $WORK/www; } }"
nginx_conf proxy "upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 64; keepalive_requests 1000000; }
    server { listen 127.0.0.1:$NGINX_PORT ssl; keepalive_requests 1000000;
        ssl_certificate $WORK/certs/localhost.crt; ssl_certificate_key $WORK/certs/localhost.key;
        ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers $CIPHERS; ssl_session_cache off; ssl_session_tickets off;
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
start_nginx_pair
PORTICO_LOG_LEVEL=warning taskset -c "$PROXY_CPU" "$BIN" serve --http-addr "127.0.0.1:$PORTICO_HTTP_PORT" \
    --https-addr "127.0.0.1:$PORTICO_PORT" --admin-addr 127.0.0.1:0 --routes-dir "$WORK/routes" \
    --certs-dir "$WORK/certs" --state-dir "$WORK/state" >"$WORK/portico.log" 2>&1 &
PORTICO_PID=$!
sleep 1.5

for port in $NGINX_PORT $PORTICO_PORT; do
    echo "127.0.0.1:$port negotiates: $(openssl s_client -connect 127.0.0.1:$port -servername localhost </dev/null 2>/dev/null \
        | awk '/^New, / {print $2, $NF}')"
done
taskset -c "$LOAD_CPU" wrk -t1 -c16 -d2s "https://127.0.0.1:$NGINX_PORT/small" >/dev/null
taskset -c "$LOAD_CPU" wrk -t1 -c16 -d2s "https://127.0.0.1:$PORTICO_PORT/small" >/dev/null

printf '%-26s %12s %10s %10s\n' "case" "requests/s" "p50 ms" "p99 ms"
declare -A RESULT
for spec in "keep-alive-64c:/small:64:" "handshake-per-request-16c:/small:16:Connection@ close"; do
    IFS=: read -r name path conns header <<<"$spec"
    header=${header//@/:}
    for proxy in nginx portico; do
        port=$NGINX_PORT
        [ "$proxy" = portico ] && port=$PORTICO_PORT
        read -r rps p50 p99 _ < <(run "$proxy" "$port" "$path" "$conns" "$header")
        RESULT[$name.$proxy]="$rps $p50 $p99"
        printf '%-26s %12s %10s %10s\n' "$name $proxy" "$rps" "$p50" "$p99"
    done
    read -r nr n50 n99 <<<"${RESULT[$name.nginx]}"
    read -r pr p50 p99 <<<"${RESULT[$name.portico]}"
    awk -v name="$name" -v nr="$nr" -v pr="$pr" -v n99="$n99" -v p99="$p99" \
        'BEGIN { printf "%-26s %12.2f %10s %10.2f   (Portico/nginx)\n", name " ratio", pr / nr, "", p99 / n99 }'
done
