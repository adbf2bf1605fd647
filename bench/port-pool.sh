#!/usr/bin/env bash
# Tenant port pool: allocations per second through the admin API, and the time of one
# allocation when the pool is 1% and 99% full. Loopback only.
#
# Usage: bench/port-pool.sh [pool size, default 5000]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE="${1:-5000}"
START=20000
END=$((START + SIZE - 1))
bench/build-release.sh --product portico >/dev/null
WORK=$(mktemp -d /tmp/portico-ports-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; sleep 0.3; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/routes"
ADMIN=18922 TOKEN=bench-token
(cd "$WORK" && PORTICO_LOG_LEVEL=warning PORTICO_ADMIN_TOKEN=$TOKEN PORTICO_PORT_START=$START PORTICO_PORT_END=$END \
    "$OLDPWD/.build/release/portico" --http-addr 127.0.0.1:18921 --admin-addr 127.0.0.1:$ADMIN \
    --routes-dir "$WORK/routes" --state-dir "$WORK/state" >"$WORK/portico.log" 2>&1) &
sleep 1.5
python3 - "$ADMIN" "$TOKEN" "$SIZE" <<'PY'
import http.client, json, statistics, sys, time
port, token, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
conn = http.client.HTTPConnection("127.0.0.1", port)
headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
count = 0
def allocate():
    global count
    body = json.dumps({"name": f"n{count}"})
    start = time.perf_counter()
    conn.request("POST", f"/v1/tenants/t{count % 100}/ports", body, headers)
    response = conn.getresponse(); response.read()
    elapsed = time.perf_counter() - start
    if response.status not in (200, 201):
        raise SystemExit(f"allocation {count} answered {response.status}")
    count += 1
    return elapsed
def sample(n):
    return statistics.median(allocate() for _ in range(n)) * 1000
one_percent = int(size * 0.01)
while count < one_percent: allocate()
at_1 = sample(50)
start = time.perf_counter(); burst = 0
while count < int(size * 0.99) - 50:
    allocate(); burst += 1
rate = burst / (time.perf_counter() - start)
at_99 = sample(50)
print(f"pool of {size} ports: {rate:.0f} allocations/s through the API (sequential, one keep-alive connection)")
print(f"one allocation at 1% full: median {at_1:.2f} ms; at 99% full: median {at_99:.2f} ms")
PY
