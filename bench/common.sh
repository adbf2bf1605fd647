# Shared by the bench scripts: tools, a work folder cleaned at exit, nginx configs, wrk runs.
# Expects DURATION and LOAD_CPU; sets WORK and BIN.

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk >/dev/null
fi
BIN="${PORTICO_BIN:-.build/release/portico}"  # PORTICO_BIN=… compares another build
[ -x "$BIN" ] || bench/build-release.sh --product portico

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
# User plus system CPU time a process has used, in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the command name, which may hold spaces).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# User CPU time alone (field 14): what the process spends outside the kernel.
user_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12}'; }
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

# start_portico PORT ADMIN_PORT [VAR=value...] -> PID: Portico on one core (PROXY_CPU) serving
# $WORK/routes, its output in $WORK/portico-PORT.log, with extra environment.
start_portico() {
    local port=$1 admin=$2
    shift 2
    env PORTICO_LOG_LEVEL=warning "$@" taskset -c "$PROXY_CPU" "$BIN" serve --http-addr "127.0.0.1:$port" \
        --admin-addr "127.0.0.1:$admin" --routes-dir "$WORK/routes" --state-dir "$WORK/state-$port" \
        >"$WORK/portico-$port.log" 2>&1 &
    echo $!
}

# compare_on_off NAME AIM ON_PID ON_PORT OFF_PID OFF_PORT PATH: rounds of wrk (ROUNDS, each
# DURATION, 64 connections) against two processes that differ in one feature, alternating
# which runs first; prints each run (requests/s, p99, CPU µs/request) and the on/off ratios.
compare_on_off() {
    local name=$1 aim=$2 path=$7
    declare -A pids=([on]=$3 [off]=$5) ports=([on]=$4 [off]=$6) sum_rps sum_cpu round_rps
    local ratios="" round mode ticks rps p99 requests cpu
    for round in $(seq "$ROUNDS"); do
        local order=(off on)
        [ $((round % 2)) = 0 ] && order=(on off)
        for mode in "${order[@]}"; do
            ticks=$(cpu_ticks "${pids[$mode]}")
            read -r rps _ p99 requests < <(run "$mode" "${ports[$mode]}" "$path" 64)
            cpu=$(cpu_us_per_request $(( $(cpu_ticks "${pids[$mode]}") - ticks )) "$requests")
            printf 'round %s %s %-3s %10s req/s  p99 %8s ms  %8s CPU us/req\n' "$round" "$name" "$mode" "$rps" "$p99" "$cpu"
            sum_rps[$mode]=$(awk -v a="${sum_rps[$mode]:-0}" -v b="$rps" 'BEGIN { print a + b }')
            sum_cpu[$mode]=$(awk -v a="${sum_cpu[$mode]:-0}" -v b="$cpu" 'BEGIN { print a + b }')
            round_rps[$mode]=$rps
        done
        ratios+="$(awk -v on="${round_rps[on]}" -v off="${round_rps[off]}" 'BEGIN { printf "%.4f", on / off }') "
    done
    local median
    median=$(tr ' ' '\n' <<<"$ratios" | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')
    echo "$name on/off requests/s per round: $ratios; median $median"
    awk -v on="${sum_rps[on]}" -v off="${sum_rps[off]}" -v con="${sum_cpu[on]}" -v coff="${sum_cpu[off]}" -v n="$name" -v aim="$aim" \
        'BEGIN { printf "%s on/off: requests/s %.3f  CPU us/req %.3f  (the aim: requests/s >= %s)\n", n, on / off, con / coff, aim }'
}
