#!/usr/bin/env bash
# bench/pages.sh BUILD_DIR -- the quiz plugin's pages against nginx (issue 6).
#
# Req/s and p99 of the rendered /app/result/demo1 and of a static asset
# (/static/app.css, its hashed name as pages link it) from the host, beside
# Debian's nginx serving the very same bytes as static files, in the same
# run: wrk -t1 -c50, loopback only. Two nginx setups, both reported:
#   nginx-1w    one worker pinned to CPU 0, like the host (which is one
#               thread): the same CPU for both servers;
#   nginx-auto  Debian's default "worker_processes auto" (one per core),
#               unpinned, sharing the cores with wrk (the setup of the
#               issue's reference figure, ~61k/s for a 4 KB page).
# The host is pinned to CPU 0 and wrk to CPU 1, as in bench/run.sh.
# Target: the rendered page at >= 0.8x nginx's static rate.
#
# Runs are interleaved (host page, nginx page, host asset, nginx asset) for
# MQ_BENCH_ROUNDS rounds (3) of MQ_BENCH_DURATION seconds (10) after a 2 s
# warm-up each; each figure is the median. Every response is checked: a
# non-2xx answer or a socket error is reported next to the figures. The
# server's CPU time per request (schedstat) is printed too: other load on a
# shared machine moves req/s a lot and it hardly at all.
#
# Needs wrk, nginx (apt-get install wrk nginx), curl, taskset, python3.
# Reports; never fails because a target is missed. Exits non-zero only when
# it cannot set up. MQ_BENCH_KEEP=1 keeps the temp dir.
set -u
export LC_ALL=C

BUILD_DIR=${1:-}
if [[ -z $BUILD_DIR || ! -d $BUILD_DIR ]]; then
    echo "usage: $0 BUILD_DIR   (a CMake build dir holding mindquiz, plugins/ and assets/)" >&2
    exit 2
fi
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
DURATION=${MQ_BENCH_DURATION:-10}
ROUNDS=${MQ_BENCH_ROUNDS:-3}
CONNS=${MQ_BENCH_CONNS:-50}

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

HOST_BIN=$BUILD_DIR/mindquiz
[[ -x $HOST_BIN ]] || die "\"$HOST_BIN\" not found: build first (cmake --build $BUILD_DIR)"
[[ -f $BUILD_DIR/plugins/quiz.so ]] || die "\"$BUILD_DIR/plugins/quiz.so\" not found"
[[ -d $BUILD_DIR/assets/templates ]] || die "\"$BUILD_DIR/assets\" has no templates/"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $NGINX ]] || die "nginx not found (apt-get install nginx)"
for tool in wrk curl taskset python3; do
    command -v $tool >/dev/null || die "$tool not found"
done
[[ -n ${EPOCHREALTIME:-} ]] || die "bash >= 5 needed (EPOCHREALTIME)"

NCPU=$(nproc)
if ((NCPU >= 2)); then
    SERVER_CPU=0
    LOAD_CPU=1
    taskset -cp "$LOAD_CPU" $$ >/dev/null
    PINNING="servers (host; nginx with 1 worker) on CPU $SERVER_CPU, wrk on CPU $LOAD_CPU"
else
    SERVER_CPU=0
    LOAD_CPU=0
    PINNING="only $NCPU CPU: servers and wrk share it (figures not comparable)"
fi

TMP=$(mktemp -d /tmp/mq-bench-pages.XXXXXX) || die "mktemp failed"
HOST_PID=""
NGINX_PID=""
NGINX2_PID=""
cleanup() {
    [[ -n $HOST_PID ]] && kill "$HOST_PID" 2>/dev/null && wait "$HOST_PID" 2>/dev/null
    [[ -n $NGINX_PID ]] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
    [[ -n $NGINX2_PID ]] && kill "$NGINX2_PID" 2>/dev/null && wait "$NGINX2_PID" 2>/dev/null
    if [[ ${MQ_BENCH_KEEP:-0} == 1 ]]; then note "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_http() { # wait_http URL: up to 10 s
    for _ in $(seq 1 200); do
        curl -sf -o /dev/null "$1" && return 0
        sleep 0.05
    done
    return 1
}

# --- the host ------------------------------------------------------------------
HOST_PORT=$(free_port)
NGINX_PORT=$(free_port)
while [[ $NGINX_PORT == "$HOST_PORT" ]]; do NGINX_PORT=$(free_port); done
mkdir -p "$TMP/stage/plugins" "$TMP/data"
cp "$BUILD_DIR"/plugins/*.so "$TMP/stage/plugins/"
(cd "$BUILD_DIR/assets" && tar cf - --exclude=CMakeFiles --exclude=Makefile --exclude='*.cmake' .) |
    (mkdir -p "$TMP/stage/assets" && cd "$TMP/stage/assets" && tar xf -)
cat >"$TMP/.env" <<EOF
LISTEN=127.0.0.1:$HOST_PORT
RELEASES_DIR=releases
DATA_DIR=data
PUBLIC_BASE_URL=http://127.0.0.1:$HOST_PORT
ORDER_SECRET=bench-order-secret-0123456789
EOF
chmod 600 "$TMP/.env"
"$HOST_BIN" release --env "$TMP/.env" --from "$TMP/stage" --id bench >"$TMP/release.log" 2>&1 ||
    { cat "$TMP/release.log" >&2; die "mindquiz release failed"; }
ln -s bench "$TMP/releases/current"
taskset -c "$SERVER_CPU" "$HOST_BIN" serve --env "$TMP/.env" 2>"$TMP/host.log" &
HOST_PID=$!
wait_http "http://127.0.0.1:$HOST_PORT/api/health" || { cat "$TMP/host.log" >&2; die "host did not start"; }

PAGE=/app/result/demo1
curl -sf "http://127.0.0.1:$HOST_PORT$PAGE" -o "$TMP/page.html" || die "GET $PAGE failed"
ASSET=$(grep -o '/static/app\.[0-9a-f]*\.css' "$TMP/page.html" | head -1)
[[ -n $ASSET ]] || die "the page links no /static/app.<hash>.css"
curl -sf "http://127.0.0.1:$HOST_PORT$ASSET" -o "$TMP/asset.css" || die "GET $ASSET failed"
curl -s -D "$TMP/host-page.headers" -o /dev/null "http://127.0.0.1:$HOST_PORT$PAGE"
curl -s -D "$TMP/host-asset.headers" -o /dev/null "http://127.0.0.1:$HOST_PORT$ASSET"

# --- nginx: the same bytes as static files, one worker ------------------------------
mkdir -p "$TMP/www/app/result" "$TMP/www/static" "$TMP/nginx"
cp "$TMP/page.html" "$TMP/www$PAGE"
cp "$TMP/asset.css" "$TMP/www$ASSET"
# nginx started as root serves from unprivileged workers: let them read www/.
chmod 711 "$TMP"
chmod -R a+rX "$TMP/www"
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 65;
  types { text/html html; text/css css; }
  default_type text/html;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $TMP/www;
  }
}
EOF
taskset -c "$SERVER_CPU" "$NGINX" -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" 2>"$TMP/nginx/stderr.log" &
NGINX_PID=$!
wait_http "http://127.0.0.1:$NGINX_PORT$PAGE" ||
    { cat "$TMP/nginx/stderr.log" "$TMP/nginx/error.log" >&2; die "nginx did not start"; }
cmp -s "$TMP/page.html" <(curl -s "http://127.0.0.1:$NGINX_PORT$PAGE") || die "nginx serves other bytes"
curl -s -D "$TMP/nginx-page.headers" -o /dev/null "http://127.0.0.1:$NGINX_PORT$PAGE"
NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)
[[ -n $NGINX_WORKER ]] || die "no nginx worker process"

# The same site with Debian's default worker count, unpinned.
NGINX2_PORT=$(free_port)
while [[ $NGINX2_PORT == "$HOST_PORT" || $NGINX2_PORT == "$NGINX_PORT" ]]; do NGINX2_PORT=$(free_port); done
mkdir -p "$TMP/nginx-auto"
sed -e "s/^worker_processes 1;/worker_processes auto;/" -e "s|$TMP/nginx/|$TMP/nginx-auto/|g" \
    -e "s/127.0.0.1:$NGINX_PORT/127.0.0.1:$NGINX2_PORT/" "$TMP/nginx/nginx.conf" >"$TMP/nginx-auto/nginx.conf"
"$NGINX" -c "$TMP/nginx-auto/nginx.conf" -p "$TMP/nginx-auto" 2>"$TMP/nginx-auto/stderr.log" &
NGINX2_PID=$!
wait_http "http://127.0.0.1:$NGINX2_PORT$PAGE" ||
    { cat "$TMP/nginx-auto/stderr.log" >&2; die "nginx (auto workers) did not start"; }

# --- wrk -----------------------------------------------------------------------------
cat >"$TMP/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "MQBENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d errors=%d bytes=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout, summary.bytes))
end
EOF

# sched PID[,PID...]: "<run ns> <run-queue wait ns>" of those processes, summed
sched() {
    local run=0 wait=0 r w _ p
    for p in ${1//,/ }; do read -r r w _ <"/proc/$p/schedstat" && run=$((run + r)) && wait=$((wait + w)); done
    echo "$run $wait"
}

# run NAME PORT PATH PID SECONDS: appends one line to $TMP/NAME.txt. runq_pct
# is how long the server waited for a CPU (other load on a shared machine):
# a run with more than a few percent is disturbed and its req/s means little.
run() {
    local name=$1 port=$2 path=$3 pid=$4 secs=$5 a b t0 t1
    read -r -a a <<<"$(sched "$pid")"
    t0=${EPOCHREALTIME/./}
    taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${secs}s" --latency -s "$TMP/report.lua" \
        "http://127.0.0.1:$port$path" >"$TMP/last.txt" 2>&1
    read -r -a b <<<"$(sched "$pid")"
    t1=${EPOCHREALTIME/./}
    if grep -q '^MQBENCH' "$TMP/last.txt"; then
        echo "$(grep '^MQBENCH' "$TMP/last.txt") cpu_ns=$((b[0] - a[0]))" \
            "runq_pct=$((100 * (b[1] - a[1]) / ((t1 - t0) * 1000)))" >>"$TMP/$name.txt"
    else
        note "wrk ($name) produced no report:"
        cat "$TMP/last.txt" >&2
    fi
}

# stat NAME FIELD: median over the runs (rps, p99_us, cpureq) or sum (non2xx, errors)
stat() {
    [[ -s $TMP/$1.txt ]] || { echo "n/a"; return; }
    awk -v f="$2" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        if (f == "rps") x = v["requests"] / (v["duration_us"] / 1e6)
        else if (f == "cpureq") x = v["requests"] ? v["cpu_ns"] / v["requests"] : 0
        else x = v[f] + 0
        a[++n] = x; s += x
    } END {
        if (f == "non2xx" || f == "errors") { printf "%d\n", s; exit }
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
        m = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        printf "%.0f\n", m
    }' "$TMP/$1.txt"
}

NGINX2_WORKERS=$(pgrep -P "$NGINX2_PID" | paste -sd, -)
note "host :$HOST_PORT (pid $HOST_PID), nginx-1w :$NGINX_PORT (worker $NGINX_WORKER)," \
    "nginx-auto :$NGINX2_PORT (workers $NGINX2_WORKERS); $PINNING"
note "page $PAGE ($(wc -c <"$TMP/page.html") bytes), asset $ASSET ($(wc -c <"$TMP/asset.css") bytes)"
for r in $(seq 1 "$ROUNDS"); do
    note "round $r/$ROUNDS"
    for spec in "host-page $HOST_PORT $PAGE $HOST_PID" "nginx1w-page $NGINX_PORT $PAGE $NGINX_WORKER" \
        "nginxauto-page $NGINX2_PORT $PAGE $NGINX2_WORKERS" \
        "host-asset $HOST_PORT $ASSET $HOST_PID" "nginx1w-asset $NGINX_PORT $ASSET $NGINX_WORKER" \
        "nginxauto-asset $NGINX2_PORT $ASSET $NGINX2_WORKERS" \
        "host-health $HOST_PORT /api/health $HOST_PID"; do
        read -r name port path pid <<<"$spec"
        taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$port$path" >/dev/null 2>&1
        run "$name" "$port" "$path" "$pid" "$DURATION"
    done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a != "n/a") printf "%.2fx", a / b; else print "n/a" }'; }
ms() { awk -v u="$1" 'BEGIN { if (u == "n/a") print "n/a"; else printf "%.2f", u / 1000 }'; }

echo
echo "## Quiz pages vs nginx ($ROUNDS rounds x ${DURATION}s, wrk -t1 -c$CONNS; $PINNING)"
echo
echo "| what | server | req/s | p99 ms | server CPU us/req | server waited for CPU | non-2xx / errors | host vs this |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for w in page asset; do
    what=$([[ $w == page ]] && echo "$PAGE ($(wc -c <"$TMP/page.html") B)" || echo "$ASSET ($(wc -c <"$TMP/asset.css") B)")
    for s in host nginx1w nginxauto; do
        label=$s
        [[ $s == nginx1w ]] && label="nginx, 1 worker on CPU $SERVER_CPU"
        [[ $s == nginxauto ]] && label="nginx, workers auto ($NCPU), unpinned"
        rps=$(stat "$s-$w" rps)
        cmp=$([[ $s == host ]] && echo "" || ratio "$(stat "host-$w" rps)" "$rps")
        cpu=$(awk -v n="$(stat "$s-$w" cpureq)" 'BEGIN { if (n == "n/a") print "n/a"; else printf "%.1f", n / 1000 }')
        echo "| $what | $label | $rps | $(ms "$(stat "$s-$w" p99_us)") | $cpu | $(stat "$s-$w" runq_pct)% | $(stat "$s-$w" non2xx) / $(stat "$s-$w" errors) | $cmp |"
    done
done
echo "| /api/health (11 B, no plugin: the host's floor) | host | $(stat host-health rps) | $(ms "$(stat host-health p99_us)") | $(awk -v n="$(stat host-health cpureq)" 'BEGIN { if (n == "n/a") print "n/a"; else printf "%.1f", n / 1000 }') | $(stat host-health runq_pct)% | $(stat host-health non2xx) / $(stat host-health errors) | |"
echo
HP=$(stat host-page rps)
for s in nginx1w nginxauto; do
    NP=$(stat "$s-page" rps)
    echo "Target, rendered page >= 0.80x $s's static rate: **$(ratio "$HP" "$NP")** $(awk -v a="$HP" -v b="$NP" 'BEGIN { print (b > 0 && a / b >= 0.8) ? "(met)" : "(missed)" }')"
    echo
done
CPU_HOST=$(stat host-page cpureq)
CPU_NGX=$(stat nginx1w-page cpureq)
echo "By server CPU per request (steady even on a shared machine; a saturated"
echo "single core serves about 1e6 / us-per-request): host page / nginx 1 worker ="
echo "**$(ratio "$CPU_NGX" "$CPU_HOST")**. Runs where a server waited for its CPU more than a few"
echo "percent were disturbed by other load: their req/s and p99 say little (for the"
echo "unpinned nginx it is summed over its workers, which share the cores with wrk)."
echo
echo "The host's own floor, /api/health with no plugin involved: $(stat host-health rps) req/s,"
echo "$(awk -v n="$(stat host-health cpureq)" 'BEGIN { printf "%.1f", n / 1000 }') us/request, i.e. $(ratio "$(stat host-health rps)" "$(stat nginx1w-page rps)") of nginx's rate for the page file;"
echo "the rendered page runs at $(ratio "$HP" "$(stat host-health rps)") of that floor."
echo
echo "<details><summary>raw runs and headers</summary>"
echo
echo '```'
for f in host-page nginx1w-page nginxauto-page host-asset nginx1w-asset nginxauto-asset host-health; do
    sed "s/^/$f: /" "$TMP/$f.txt" 2>/dev/null
done
echo "--- host page headers"; cat "$TMP/host-page.headers"
echo "--- nginx page headers"; cat "$TMP/nginx-page.headers"
echo "--- host asset headers"; cat "$TMP/host-asset.headers"
grep -E '\[(error|warn)\]' "$TMP/host.log" | tail -5
echo '```'
echo "</details>"
