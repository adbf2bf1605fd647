# Shared by the bench scripts: tools, a work folder cleaned at exit, nginx configs, wrk runs.
# Expects DURATION and LOAD_CPU; sets WORK and BIN.

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk >/dev/null
fi
BIN="${PORTICO_BIN:-.build/release/portico}"  # PORTICO_BIN=… compares another build
[ -x "$BIN" ] || swift build -c release --product portico

WORK=$(mktemp -d /tmp/portico-bench.XXXXXX)
cleanup() {
    [ -n "${PORTICO_PID:-}" ] && kill "$PORTICO_PID" 2>/dev/null || true
    for conf in backend proxy; do
        [ -f "$WORK/$conf.pid" ] && kill "$(cat "$WORK/$conf.pid")" 2>/dev/null || true
    done
    sleep 0.5
    rm -rf "$WORK"
}
trap cleanup EXIT

nginx_conf() { # name, body of http{}
    cat >"$WORK/$1.conf" <<CONF
worker_processes 1;
pid $WORK/$1.pid;
error_log $WORK/$1.error.log warn;
user root;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/$1-body;
    proxy_temp_path $WORK/$1-proxy;
    $2
}
CONF
}
peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
# User plus system CPU time a process has used, in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the command name, which may hold spaces).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# cpu_us_per_request TICKS REQUESTS -> CPU microseconds per request
cpu_us_per_request() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (n > 0 ? t / hz * 1e6 / n : 0) }'; }
# run NAME PORT PATH CONNECTIONS [HEADER] -> "rps p50_ms p99_ms requests"
run() {
    local out
    out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$4" -d"${DURATION}s" --latency ${5:+-H "$5"} "${SCHEME:-http}://127.0.0.1:$2$3")
    local rps p50 p99
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    local errors
    errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
    [ -n "$errors" ] && echo "  $1 $3: $errors" >&2
    local requests
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    echo "$rps $(to_ms "$p50") $(to_ms "$p99") $requests"
}
to_ms() { # wrk prints 512.00us, 1.23ms, 1.02s
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}

# Writes Portico's routes to the backend and starts the backend and proxy nginx configs
# (backend beside wrk on LOAD_CPU, proxy on PROXY_CPU).
start_nginx_pair() {
    cat >"$WORK/routes/bench.yaml" <<ROUTES
upstreams: [{ name: backend, endpoints: ["127.0.0.1:$BACKEND_PORT"] }]
routes: [{ name: bench, upstream: backend }]
ROUTES
    taskset -c "$LOAD_CPU" nginx -p "$WORK" -c "$WORK/backend.conf"
    taskset -c "$PROXY_CPU" nginx -p "$WORK" -c "$WORK/proxy.conf"
}
