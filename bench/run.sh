#!/usr/bin/env bash
# bench/run.sh BUILD_DIR -- reproduce every benchmark figure of issue 2 and
# print them as one markdown table beside their targets.
#
# Host pinned to CPU 0, everything else (wrk, the reload loops, this script)
# to CPU 1. Loopback only. Every loop is bounded. The script reports; it
# never fails because a figure misses its target. It exits non-zero only
# when it cannot set the benchmark up (missing binary, host does not start).
#
# Knobs (environment): MQ_BENCH_DURATION (s per wrk run, default 10),
# MQ_BENCH_ROUNDS (default 2), MQ_BENCH_CONNS (default 50),
# MQ_BENCH_LATENCY_RELOADS (default 200), MQ_BENCH_SOAK_RELOADS (default
# 1000), MQ_BENCH_KEEP=1 keeps the temp dir (and says where).
set -u
export LC_ALL=C

BUILD_DIR=${1:-}
if [[ -z $BUILD_DIR || ! -d $BUILD_DIR ]]; then
    echo "usage: $0 BUILD_DIR   (a CMake build dir, e.g. bench/run.sh build)" >&2
    exit 2
fi
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)

DURATION=${MQ_BENCH_DURATION:-10}
ROUNDS=${MQ_BENCH_ROUNDS:-2}
CONNS=${MQ_BENCH_CONNS:-50}
LAT_RELOADS=${MQ_BENCH_LATENCY_RELOADS:-200}
SOAK_RELOADS=${MQ_BENCH_SOAK_RELOADS:-1000}
FLIP_INTERVAL=0.1

HOST_BIN=$BUILD_DIR/mindquiz
BARE_BIN=$BUILD_DIR/mq-bench-bare
FIXTURES=$BUILD_DIR/fixtures/plugins

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

for bin in "$HOST_BIN" "$BARE_BIN"; do
    [[ -x $bin ]] || die "\"$bin\" not found: build first (cmake --build $BUILD_DIR)"
done
for so in hello_v1 hello_v2 twin_a twin_b legacy; do
    [[ -f $FIXTURES/$so.so ]] || die "fixture plugin \"$FIXTURES/$so.so\" not found"
done
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
command -v taskset >/dev/null || die "taskset not found (apt-get install util-linux)"
command -v curl >/dev/null || die "curl not found (apt-get install curl)"
[[ -n ${EPOCHREALTIME:-} ]] || die "bash >= 5 needed (EPOCHREALTIME)"

# --- pinning ----------------------------------------------------------------
# Servers on CPU 0; this script and all it starts (wrk, loops) on CPU 1.
NCPU=$(nproc)
if ((NCPU >= 2)); then
    SERVER_CPU=0
    LOAD_CPU=1
    taskset -cp "$LOAD_CPU" $$ >/dev/null
    PINNING="host/bare on CPU $SERVER_CPU, wrk and reload loops on CPU $LOAD_CPU"
else
    SERVER_CPU=0
    LOAD_CPU=0
    PINNING="only $NCPU CPU: server and load generator share it (figures not comparable)"
fi

# --- temp dir and cleanup ----------------------------------------------------
TMP=$(mktemp -d /tmp/mq-bench.XXXXXX) || die "mktemp failed"
HOST_PID=""
BARE_PID=""
FLIP_PID=""

stop_pid() { # stop_pid PID: SIGTERM, wait up to 5 s, then SIGKILL
    local pid=$1 i
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

cleanup() {
    trap - EXIT INT TERM
    [[ -n $FLIP_PID ]] && kill "$FLIP_PID" 2>/dev/null && wait "$FLIP_PID" 2>/dev/null
    stop_pid "$BARE_PID"
    stop_pid "$HOST_PID"
    if [[ ${MQ_BENCH_KEEP:-0} == 1 ]]; then
        note "kept $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- a free loopback port ----------------------------------------------------
# A port nobody accepts on; connect() to a closed loopback port fails at once.
free_port() {
    local i p
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

wait_health() { # wait_health PORT PID: up to 10 s for /api/health
    local port=$1 pid=$2 i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        curl -sf --max-time 1 "http://127.0.0.1:$port/api/health" >/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# --- set up: .env, two releases ------------------------------------------------
HOST_PORT=$(free_port) || die "no free port"
BARE_PORT=$(free_port) || die "no free port"
while [[ $BARE_PORT == "$HOST_PORT" ]]; do BARE_PORT=$(free_port); done

ENV_FILE=$TMP/.env
RELEASES=$TMP/releases
DATA=$TMP/data
PID_FILE=$TMP/mindquiz.pid
STATUS_FILE=$PID_FILE.reload.json
mkdir -p "$RELEASES" "$DATA"
cat >"$ENV_FILE" <<EOF
# written by bench/run.sh
LISTEN=127.0.0.1:$HOST_PORT
RELEASES_DIR=$RELEASES
DATA_DIR=$DATA
PID_FILE=$PID_FILE
APP_ENV=bench
EOF
chmod 600 "$ENV_FILE"

# A stage dir looks like a build tree: plugins/*.so (+ assets/ if built).
shopt -s nullglob
PRODUCT_PLUGINS=("$BUILD_DIR"/plugins/*.so)
shopt -u nullglob
stage_release() { # stage_release ID HELLO_SO
    local id=$1 hello=$2 dir=$TMP/stage-$1
    mkdir -p "$dir/plugins"
    cp "$FIXTURES/$hello.so" "$FIXTURES/twin_a.so" "$FIXTURES/twin_b.so" \
        "$FIXTURES/legacy.so" "$dir/plugins/" || return 1
    if ((${#PRODUCT_PLUGINS[@]})); then
        cp "${PRODUCT_PLUGINS[@]}" "$dir/plugins/" || return 1
    fi
    if [[ -d $BUILD_DIR/assets ]]; then
        cp -r "$BUILD_DIR/assets" "$dir/assets" || return 1
    else
        mkdir -p "$dir/assets"
    fi
    "$HOST_BIN" release --env "$ENV_FILE" --from "$dir" --id "$id" >"$TMP/release-$id.log" 2>&1 ||
        { cat "$TMP/release-$id.log" >&2; return 1; }
}
stage_release A hello_v1 || die "mindquiz release A failed"
stage_release B hello_v2 || die "mindquiz release B failed"
ln -s A "$RELEASES/current"
NPLUGINS=$((4 + ${#PRODUCT_PLUGINS[@]}))

# --- start the host --------------------------------------------------------------
HOST_LOG=$TMP/host.log
taskset -c "$SERVER_CPU" "$HOST_BIN" serve --env "$ENV_FILE" 2>"$HOST_LOG" >/dev/null &
HOST_PID=$!
if ! wait_health "$HOST_PORT" "$HOST_PID"; then
    tail -n 20 "$HOST_LOG" >&2
    die "host did not answer /api/health on 127.0.0.1:$HOST_PORT"
fi
if [[ -f $PID_FILE ]] && [[ $(<"$PID_FILE") != "$HOST_PID" ]]; then
    note "PID_FILE says $(<"$PID_FILE"), started $HOST_PID"
fi

# --- small readers (builtins only: no fork inside timed loops) ------------------
rss_kib() { # VmRSS of PID in KiB
    local k v rest
    while read -r k v rest; do
        [[ $k == VmRSS: ]] && { echo "$v"; return 0; }
    done <"/proc/$1/status"
    echo 0
}

mapped_generations() { # distinct plugin generations mapped by PID
    grep -o "mq-$1-g[0-9]*-" "/proc/$1/maps" 2>/dev/null | sort -u | wc -l
}

STATUS_JSON=""
read_status() { # the host's last reload attempt -> STATUS_JSON, ST_SEQ, ST_DUR, ST_OK
    STATUS_JSON=""
    ST_SEQ=-1 ST_DUR="" ST_OK=""
    [[ -f $STATUS_FILE ]] || return 1
    IFS= read -r -d '' STATUS_JSON <"$STATUS_FILE"
    [[ $STATUS_JSON =~ \"seq\":\ *([0-9]+) ]] && ST_SEQ=${BASH_REMATCH[1]}
    [[ $STATUS_JSON =~ \"duration_us\":\ *([0-9]+) ]] && ST_DUR=${BASH_REMATCH[1]}
    [[ $STATUS_JSON =~ \"ok\":\ *(true|false) ]] && ST_OK=${BASH_REMATCH[1]}
    return 0
}

# One keep-alive connection to the host for /api/version, so polling costs a
# request, not a process start.
VFD=""
version_open() {
    [[ -n $VFD ]] && exec {VFD}>&-
    VFD=""
    exec {VFD}<>"/dev/tcp/127.0.0.1/$HOST_PORT" 2>/dev/null || { VFD=""; return 1; }
}
GEN=-1
VERSION_BODY=""
version_get() { # -> GEN (generation number), VERSION_BODY; reconnects once
    local try line clen
    for try in 1 2; do
        [[ -n $VFD ]] || version_open || continue
        clen=0
        if printf 'GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' >&"$VFD" 2>/dev/null &&
            IFS= read -r -t 2 line <&"$VFD" && [[ $line == HTTP/1.1\ 200* ]]; then
            while IFS= read -r -t 2 line <&"$VFD"; do
                line=${line%$'\r'}
                [[ -z $line ]] && break
                [[ ${line,,} =~ ^content-length:\ *([0-9]+) ]] && clen=${BASH_REMATCH[1]}
            done
            if ((clen > 0)) && IFS= read -r -t 2 -N "$clen" VERSION_BODY <&"$VFD"; then
                if [[ $VERSION_BODY =~ \"generation\":\ *([0-9]+) ]]; then
                    GEN=${BASH_REMATCH[1]}
                    return 0
                fi
            fi
        fi
        version_open || true
    done
    return 1
}

flip_current() { # flip_current ID: atomic repoint of releases/current
    ln -sfn "$1" "$RELEASES/.current.bench" && mv -T "$RELEASES/.current.bench" "$RELEASES/current"
}

# A fork-free sleep for polling loops: read with a timeout on a pipe that
# never gets data.
exec {SLEEP_FD}<> <(:)
nap() { read -r -t "$1" -u "$SLEEP_FD" _ 2>/dev/null; return 0; }

percentile() { # percentile P < numbers (nearest rank)
    sort -n | awk -v p="$1" '{ a[NR] = $1 } END {
        if (NR == 0) { print "n/a"; exit }
        r = int((p / 100) * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR
        print a[r] }'
}

# --- wrk ------------------------------------------------------------------------------
# wrk's done() hook prints exact numbers (latency in us) instead of its
# human-rounded ones. Only done() is defined, so wrk keeps its fast path.
WRK_LUA=$TMP/report.lua
cat >"$WRK_LUA" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "MQBENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
EOF

# run_wrk NAME PORT SECONDS: appends one MQBENCH line to $TMP/wrk-NAME.txt
run_wrk() {
    local name=$1 port=$2 secs=$3
    taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${secs}s" --latency -s "$WRK_LUA" \
        "http://127.0.0.1:$port/api/health" >"$TMP/wrk-last.txt" 2>&1
    grep '^MQBENCH' "$TMP/wrk-last.txt" >>"$TMP/wrk-$name.txt" ||
        { note "wrk ($name) produced no report:"; cat "$TMP/wrk-last.txt" >&2; }
}

# wrk_stat NAME FIELD AGG: aggregate FIELD over rounds (AGG: mean|max|sum|rps)
wrk_stat() {
    [[ -f $TMP/wrk-$1.txt ]] || { echo "n/a"; return; }
    awk -v f="$2" -v agg="$3" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        n++
        if (agg == "rps") x += v["requests"] / (v["duration_us"] / 1e6)
        else if (agg == "max") { if (n == 1 || v[f] > x) x = v[f] }
        else x += v[f]
    } END {
        if (n == 0) { print "n/a"; exit }
        if (agg == "rps" || agg == "mean") printf "%.0f\n", x / n
        else printf "%d\n", x
    }' "$TMP/wrk-$1.txt"
}

# --- the bare server ---------------------------------------------------------------
start_bare() {
    taskset -c "$SERVER_CPU" "$BARE_BIN" "$BARE_PORT" 127.0.0.1 2>"$TMP/bare.log" &
    BARE_PID=$!
    wait_health "$BARE_PORT" "$BARE_PID" || { cat "$TMP/bare.log" >&2; die "bare server did not start"; }
}
stop_bare() { stop_pid "$BARE_PID"; BARE_PID=""; }

# --- the reload flipper (runs during the "reloading" wrk runs) ---------------------
# Flips `current` A<->B and sends SIGHUP every 100 ms until the stop file
# appears, at most 10 * DURATION + 50 times.
start_flipper() {
    rm -f "$TMP/flip.stop"
    (
        local i target=B
        for ((i = 0; i < DURATION * 10 + 50; i++)); do
            [[ -e $TMP/flip.stop ]] && break
            flip_current "$target"
            kill -HUP "$HOST_PID" 2>/dev/null || break
            [[ $target == A ]] && target=B || target=A
            sleep "$FLIP_INTERVAL"
        done
        echo "$i" >"$TMP/flip.count"
        flip_current A
    ) &
    FLIP_PID=$!
}
stop_flipper() {
    touch "$TMP/flip.stop"
    wait "$FLIP_PID" 2>/dev/null
    FLIP_PID=""
}

# ===================================================================================
note "host pid $HOST_PID on 127.0.0.1:$HOST_PORT; bare on 127.0.0.1:$BARE_PORT; $PINNING"
note "plugins per release: $NPLUGINS (4 fixtures + ${#PRODUCT_PLUGINS[@]} product)"

# 1. Idle memory with all plugins loaded (before any traffic).
sleep 0.5
RSS_IDLE=$(rss_kib "$HOST_PID")
GENS_IDLE=$(mapped_generations "$HOST_PID")
curl -s -i --max-time 2 "http://127.0.0.1:$HOST_PORT/api/health" >"$TMP/host-health.txt"
version_get || note "cannot read generation from /api/version: ${VERSION_BODY:-no answer}"
GEN_START=$GEN

# 2. Throughput: warm both up, then interleave host / bare / host-reloading.
note "warming up (2 s each)"
run_wrk warm "$HOST_PORT" 2
start_bare
curl -s -i --max-time 2 "http://127.0.0.1:$BARE_PORT/api/health" >"$TMP/bare-health.txt"
run_wrk warm "$BARE_PORT" 2
stop_bare

RELOADS_UNDER_LOAD=0
FAILS_UNDER_LOAD=0
for ((r = 1; r <= ROUNDS; r++)); do
    note "round $r/$ROUNDS: host steady, bare, host reloading (${DURATION} s each)"
    run_wrk host "$HOST_PORT" "$DURATION"
    start_bare
    run_wrk bare "$BARE_PORT" "$DURATION"
    stop_bare
    read_status
    seq0=$ST_SEQ
    version_get
    gen0=$GEN
    start_flipper
    run_wrk reload "$HOST_PORT" "$DURATION"
    stop_flipper
    sleep 0.3 # let the last SIGHUP land
    version_get
    read_status
    RELOADS_UNDER_LOAD=$((RELOADS_UNDER_LOAD + GEN - gen0))
    FAILS_UNDER_LOAD=$((FAILS_UNDER_LOAD + (ST_SEQ - seq0) - (GEN - gen0)))
    kill -0 "$HOST_PID" 2>/dev/null || break
done
SIGNALS_UNDER_LOAD=$(cat "$TMP/flip.count" 2>/dev/null || echo 0)

# 3. Reload latency: signal -> /api/version shows a newer generation.
note "reload latency: $LAT_RELOADS reloads"
: >"$TMP/lat-e2e.txt"
: >"$TMP/lat-host.txt"
LAT_TIMEOUTS=0
LAT_FAILS=0
target=B
version_open
for ((i = 0; i < LAT_RELOADS; i++)); do
    kill -0 "$HOST_PID" 2>/dev/null || break
    flip_current "$target"
    [[ $target == A ]] && target=B || target=A
    version_get || { LAT_TIMEOUTS=$((LAT_TIMEOUTS + 1)); continue; }
    g0=$GEN
    read_status
    s0=$ST_SEQ
    t0=${EPOCHREALTIME/./}
    kill -HUP "$HOST_PID"
    deadline=$((t0 + 2000000))
    seen=0
    while :; do
        version_get && ((GEN > g0)) && { seen=1; break; }
        ((${EPOCHREALTIME/./} > deadline)) && break
        # The host keeps the old generation when a reload fails: that shows
        # in the status file, not in /api/version.
        read_status && ((ST_SEQ > s0)) && [[ $ST_OK == false ]] && break
    done
    t1=${EPOCHREALTIME/./}
    if ((seen)); then
        echo $((t1 - t0)) >>"$TMP/lat-e2e.txt"
    elif read_status && ((ST_SEQ > s0)); then
        LAT_FAILS=$((LAT_FAILS + 1))
    else
        LAT_TIMEOUTS=$((LAT_TIMEOUTS + 1))
    fi
    # The status file is written by the same loop iteration; wait for it.
    for ((j = 0; j < 2000; j++)); do
        read_status && ((ST_SEQ > s0)) && break
        nap 0.001
    done
    [[ -n $ST_DUR ]] && ((ST_SEQ > s0)) && echo "$ST_DUR" >>"$TMP/lat-host.txt"
done
E2E_P50=$(percentile 50 <"$TMP/lat-e2e.txt")
E2E_P99=$(percentile 99 <"$TMP/lat-e2e.txt")
E2E_MAX=$(percentile 100 <"$TMP/lat-e2e.txt")
HOSTLAT_P50=$(percentile 50 <"$TMP/lat-host.txt")
HOSTLAT_P99=$(percentile 99 <"$TMP/lat-host.txt")
HOSTLAT_MAX=$(percentile 100 <"$TMP/lat-host.txt")
E2E_N=$(wc -l <"$TMP/lat-e2e.txt")

# 4. Memory after many reloads.
note "memory: $SOAK_RELOADS reloads"
flip_current A
sleep 0.2
RSS_BEFORE_SOAK=$(rss_kib "$HOST_PID")
SOAK_DONE=0
SOAK_FAILS=0
SOAK_TIMEOUTS=0
target=B
for ((i = 0; i < SOAK_RELOADS; i++)); do
    kill -0 "$HOST_PID" 2>/dev/null || break
    flip_current "$target"
    [[ $target == A ]] && target=B || target=A
    read_status
    s0=$ST_SEQ
    kill -HUP "$HOST_PID"
    ok=0
    for ((j = 0; j < 2000; j++)); do # <= ~2 s per reload
        read_status && ((ST_SEQ > s0)) && { ok=1; break; }
        nap 0.001
    done
    if ((ok)); then
        SOAK_DONE=$((SOAK_DONE + 1))
        [[ $ST_OK == false ]] && SOAK_FAILS=$((SOAK_FAILS + 1))
    else
        SOAK_TIMEOUTS=$((SOAK_TIMEOUTS + 1))
    fi
done
sleep 0.2
RSS_AFTER_SOAK=$(rss_kib "$HOST_PID")
GENS_AFTER_SOAK=$(mapped_generations "$HOST_PID")
FDS_AFTER_SOAK=$(ls "/proc/$HOST_PID/fd" 2>/dev/null | wc -l)
[[ -n $VFD ]] && exec {VFD}>&-
VFD=""

HOST_ALIVE=yes
kill -0 "$HOST_PID" 2>/dev/null || HOST_ALIVE="NO (exited)"

# ===================================================================================
# Report.
H_RPS=$(wrk_stat host x rps)
B_RPS=$(wrk_stat bare x rps)
R_RPS=$(wrk_stat reload x rps)
ms() { [[ $1 == n/a ]] && echo n/a || awk -v u="$1" 'BEGIN { printf "%.2f ms", u / 1000 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.2f MiB", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.3f", a / b }'; }
meets() { # meets AWK-EXPR -> yes / NO / n/a (a figure is missing)
    [[ $1 == *n/a* ]] && { echo n/a; return; }
    awk "BEGIN { exit !($1) }" 2>/dev/null && echo yes || echo NO
}
HB=$(ratio "$H_RPS" "$B_RPS")
RS=$(ratio "$R_RPS" "$H_RPS")
GROWTH=$((RSS_AFTER_SOAK - RSS_BEFORE_SOAK))
errs() { # errs NAME -> "non2xx N, socket errors N (c/r/w/t)"
    local n c r w t
    n=$(wrk_stat "$1" non2xx sum) c=$(wrk_stat "$1" connect sum) r=$(wrk_stat "$1" read sum)
    w=$(wrk_stat "$1" write sum) t=$(wrk_stat "$1" timeout sum)
    echo "non-2xx $n; socket errors connect $c, read $r, write $w, timeout $t"
}

echo
echo "## MindQuiz bench ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), $NCPU CPUs)"
echo
echo "$PINNING; wrk -t1 -c$CONNS -d${DURATION}s x $ROUNDS rounds (req/s and p50: mean of rounds; p99: worst round)."
echo "Releases A (hello_v1) and B (hello_v2), $NPLUGINS plugins each."
echo
echo "| figure | value | target | met |"
echo "| --- | --- | --- | --- |"
echo "| host /api/health req/s | $H_RPS | | |"
echo "| host /api/health p50 / p99 | $(ms "$(wrk_stat host p50_us mean)") / $(ms "$(wrk_stat host p99_us max)") | | |"
echo "| bare evhttp req/s | $B_RPS | | |"
echo "| bare evhttp p50 / p99 | $(ms "$(wrk_stat bare p50_us mean)") / $(ms "$(wrk_stat bare p99_us max)") | | |"
echo "| host / bare throughput | ${HB}x | >= 0.95x | $(meets "$HB >= 0.95") |"
echo "| host req/s, reload every 100 ms | $R_RPS | | |"
echo "| host p50 / p99, reload every 100 ms | $(ms "$(wrk_stat reload p50_us mean)") / $(ms "$(wrk_stat reload p99_us max)") | | |"
echo "| reloading / steady throughput | $(awk -v r="$RS" 'BEGIN { if (r == "n/a") print r; else printf "%.1f%%", r * 100 }') | >= 95% | $(meets "$RS >= 0.95") |"
echo "| errors under reload ($RELOADS_UNDER_LOAD reloads, $FAILS_UNDER_LOAD failed, $SIGNALS_UNDER_LOAD SIGHUPs last round) | $(errs reload) | 0 | $(meets "$(wrk_stat reload non2xx sum) + $(wrk_stat reload connect sum) + $(wrk_stat reload read sum) + $(wrk_stat reload write sum) + $(wrk_stat reload timeout sum) == 0") |"
echo "| errors steady (host / bare) | $(errs host) / $(errs bare) | 0 | |"
echo "| reload latency, signal -> new generation serving, p50 / p99 (max) | $(ms "$E2E_P50") / $(ms "$E2E_P99") ($(ms "$E2E_MAX")), n=$E2E_N | p99 < 5 ms | $(meets "$E2E_P99 < 5000") |"
echo "| reload duration inside the host (duration_us) p50 / p99 (max) | $(ms "$HOSTLAT_P50") / $(ms "$HOSTLAT_P99") ($(ms "$HOSTLAT_MAX")) | | |"
echo "| reload latency: failed / timed out | $LAT_FAILS / $LAT_TIMEOUTS | 0 / 0 | |"
echo "| RSS idle, all plugins loaded | $(mib "$RSS_IDLE") | < 8 MiB | $(meets "$RSS_IDLE < 8192") |"
echo "| RSS before / after $SOAK_RELOADS reloads ($SOAK_DONE done, $SOAK_FAILS failed, $SOAK_TIMEOUTS timed out) | $(mib "$RSS_BEFORE_SOAK") / $(mib "$RSS_AFTER_SOAK") | | |"
echo "| RSS growth over $SOAK_RELOADS reloads | $(mib "$GROWTH") | < 2 MB | $(meets "$GROWTH * 1024 < 2000000") |"
echo "| plugin generations mapped (idle / after reloads) | $GENS_IDLE / $GENS_AFTER_SOAK | <= 2 | $(meets "$GENS_AFTER_SOAK <= 2") |"
echo "| open fds after reloads | $FDS_AFTER_SOAK | | |"
echo "| host alive at the end | $HOST_ALIVE | yes | |"
echo

# Raw material for anyone checking the table.
echo "<details><summary>raw</summary>"
echo
echo '```'
for f in host bare reload; do sed "s/^/$f: /" "$TMP/wrk-$f.txt" 2>/dev/null; done
echo "--- host /api/health"
tr -d '\r' <"$TMP/host-health.txt"
echo
echo "--- bare /api/health"
tr -d '\r' <"$TMP/bare-health.txt"
echo
echo "--- last reload status: $STATUS_JSON"
echo "--- host log: $(wc -l <"$HOST_LOG") lines; lines with error/warn/fail (first 10):"
grep -iE 'error|warn|fail|crash|abort' "$HOST_LOG" | head -n 10
echo '```'
echo "</details>"
exit 0
