#!/usr/bin/env bash
# The cost of SPEC §13's per-request checks against a plain route, in the same Portico
# process (one event loop on PROXY_CPU) and the same run, rounds alternating: a route with
# `rateLimit` (per client, never reached) and `allowFrom`, and a route with `auth.jwt`
# (RS256, a JWKS file; wrk sends one token, so after the first request the verified-token
# cache answers, as for a client that reuses its token). nginx beside wrk on LOAD_CPU
# serves 100-byte bodies over 64 keep-alive connections. Prints requests/s, p99 and CPU
# µs/request of each run, then each route's ratio to the plain one (means, and the median of
# the rounds' ratios).
#
# Usage: bench/build-release.sh && bench/edge-protection.sh [seconds per run, default 8] [rounds, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-8}"
ROUNDS="${2:-3}"
PROXY_CPU="${PROXY_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"

source bench/common.sh

BACKEND_PORT=18941 PORTICO_PORT=18943
mkdir -p "$WORK/www" "$WORK/routes/keys"
head -c 100 /dev/zero | tr '\0' 'a' >"$WORK/www/small"
chmod -R a+rX "$WORK"
nginx_conf backend "server { listen 127.0.0.1:$BACKEND_PORT; keepalive_requests 1000000;
    location / { root $WORK/www; } }"
taskset -c "$LOAD_CPU" nginx -p "$WORK" -c "$WORK/backend.conf"

# An RS256 key, its JWKS, and a token valid for a day (openssl signs; python3's standard
# library only encodes).
openssl genrsa -out "$WORK/key.pem" 2048 2>/dev/null
TOKEN=$(python3 - "$WORK" <<'PY'
import base64, json, subprocess, sys, time
work = sys.argv[1]
b64 = lambda data: base64.urlsafe_b64encode(data).rstrip(b"=").decode()
modulus = subprocess.run(["openssl", "rsa", "-in", f"{work}/key.pem", "-noout", "-modulus"], capture_output=True, text=True, check=True)
n = bytes.fromhex(modulus.stdout.strip().split("=", 1)[1])
jwks = {"keys": [{"kty": "RSA", "kid": "bench", "alg": "RS256", "n": b64(n), "e": b64((65537).to_bytes(3, "big"))}]}
open(f"{work}/routes/keys/bench.jwks", "w").write(json.dumps(jwks))
header = b64(json.dumps({"alg": "RS256", "kid": "bench", "typ": "JWT"}).encode())
claims = b64(json.dumps({"iss": "https://id.bench", "aud": "api", "sub": "user-1", "exp": int(time.time()) + 86400}).encode())
signing_input = f"{header}.{claims}"
signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", f"{work}/key.pem"], input=signing_input.encode(), capture_output=True, check=True).stdout
print(f"{signing_input}.{b64(signature)}")
PY
)
cat >"$WORK/routes/bench.yaml" <<ROUTES
upstreams:
  - { name: app, endpoints: ["127.0.0.1:$BACKEND_PORT"] }
routes:
  - { name: plain, match: { path: { prefix: /plain/ } }, rewrite: { prefix: / }, upstream: app }
  - name: limited
    match: { path: { prefix: /limited/ } }
    rewrite: { prefix: / }
    upstream: app
    allowFrom: ["127.0.0.0/8", "10.0.0.0/8", "2001:db8::/32"]
    rateLimit: { requests: 100000000, per: 1s, key: client }
  - name: jwt
    match: { path: { prefix: /jwt/ } }
    rewrite: { prefix: / }
    upstream: app
    auth: { jwt: { issuer: "https://id.bench", audiences: [api], jwksFile: keys/bench.jwks, claimsToHeaders: { sub: X-User-Id } } }
ROUTES
PORTICO_LOG_LEVEL=warning taskset -c "$PROXY_CPU" "$BIN" serve --http-addr "127.0.0.1:$PORTICO_PORT" \
    --admin-addr 127.0.0.1:0 --routes-dir "$WORK/routes" --state-dir "$WORK/state" >"$WORK/portico.log" 2>&1 &
PORTICO_PID=$!
sleep 1
header_for() { [ "$1" = jwt ] && echo "Authorization: Bearer $TOKEN" || echo "X-Bench: 1"; }
for route in plain limited jwt; do
    status=$(curl -s -o /dev/null -w '%{http_code}' -H "$(header_for "$route")" "http://127.0.0.1:$PORTICO_PORT/$route/small")
    [ "$status" = 200 ] || { echo "$route answered $status"; cat "$WORK/portico.log"; exit 1; }
    taskset -c "$LOAD_CPU" wrk -t1 -c16 -d2s -H "$(header_for "$route")" "http://127.0.0.1:$PORTICO_PORT/$route/small" >/dev/null
done

ROUTES_RUN=(plain limited jwt)
declare -A SUM_RPS SUM_CPU ROUND_RPS
declare -A RATIOS
for round in $(seq "$ROUNDS"); do
    order=("${ROUTES_RUN[@]}")
    [ $((round % 2)) = 0 ] && order=(jwt limited plain)
    for route in "${order[@]}"; do
        ticks=$(cpu_ticks "$PORTICO_PID")
        read -r rps _ p99 requests < <(run "$route" "$PORTICO_PORT" "/$route/small" 64 "$(header_for "$route")")
        cpu=$(cpu_us_per_request $(( $(cpu_ticks "$PORTICO_PID") - ticks )) "$requests")
        printf 'round %s %-8s %10s req/s  p99 %8s ms  %8s CPU us/req\n' "$round" "$route" "$rps" "$p99" "$cpu"
        SUM_RPS[$route]=$(awk -v a="${SUM_RPS[$route]:-0}" -v b="$rps" 'BEGIN { print a + b }')
        SUM_CPU[$route]=$(awk -v a="${SUM_CPU[$route]:-0}" -v b="$cpu" 'BEGIN { print a + b }')
        ROUND_RPS[$route]=$rps
    done
    for route in limited jwt; do
        RATIOS[$route]+="$(awk -v t="${ROUND_RPS[$route]}" -v p="${ROUND_RPS[plain]}" 'BEGIN { printf "%.4f", t / p }') "
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
for route in limited jwt; do
    aim=$([ "$route" = jwt ] && echo 0.85 || echo 0.95)
    echo "$route/plain requests/s per round: ${RATIOS[$route]}; median $(median <<<"${RATIOS[$route]}")"
    awk -v pr="${SUM_RPS[plain]}" -v tr="${SUM_RPS[$route]}" -v pc="${SUM_CPU[plain]}" -v tc="${SUM_CPU[$route]}" -v r="$route" -v aim="$aim" \
        'BEGIN { printf "%s/plain: requests/s %.3f  CPU us/req %.3f  (the aim: requests/s >= %s)\n", r, tr / pr, tc / pc, aim }'
done
