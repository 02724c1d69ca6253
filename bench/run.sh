#!/usr/bin/env bash
# bench/run.sh BUILD_DIR -- reproduce every benchmark figure of issue 2 and
# print them as one markdown table beside their targets.
#
# Host pinned to CPU 0, everything else (wrk, the reload loops, this script)
# to CPU 1. Loopback only. Every loop is bounded. The script reports; it
# never fails because a figure misses its target. It exits non-zero only
# when it cannot set the benchmark up (missing binary, host does not start).
#
# The machine may be shared: each wrk run also records how much CPU other
# processes took meanwhile and how long the server waited for its CPU; a
# round with a disturbed run is replaced (at most EXTRA_ROUNDS times) and
# the medians skip disturbed runs. The server's CPU time per request is
# printed too: unlike req/s, other load barely moves it.
#
# Knobs (environment): MQ_BENCH_DURATION (s per wrk run, default 10),
# MQ_BENCH_ROUNDS (undisturbed rounds wanted, default 3),
# MQ_BENCH_EXTRA_ROUNDS (default 2), MQ_BENCH_CONNS (default 50),
# MQ_BENCH_LATENCY_RELOADS (default 200), MQ_BENCH_SOAK_RELOADS (default
# 1000), MQ_BENCH_OTHER_MAX (% of a CPU, default 10), MQ_BENCH_RUNQ_MAX
# and MQ_BENCH_SLEEP_MAX (% of the time, default 5 each), MQ_BENCH_KEEP=1
# keeps the temp dir.
set -u
export LC_ALL=C

BUILD_DIR=${1:-}
if [[ -z $BUILD_DIR || ! -d $BUILD_DIR ]]; then
    echo "usage: $0 BUILD_DIR   (a CMake build dir, e.g. bench/run.sh build)" >&2
    exit 2
fi
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)

DURATION=${MQ_BENCH_DURATION:-10}
ROUNDS=${MQ_BENCH_ROUNDS:-3}
CONNS=${MQ_BENCH_CONNS:-50}
LAT_RELOADS=${MQ_BENCH_LATENCY_RELOADS:-200}
SOAK_RELOADS=${MQ_BENCH_SOAK_RELOADS:-1000}
FLIP_INTERVAL=0.1
OTHER_MAX=${MQ_BENCH_OTHER_MAX:-10}
RUNQ_MAX=${MQ_BENCH_RUNQ_MAX:-5}
SLEEP_MAX=${MQ_BENCH_SLEEP_MAX:-5}
LAST_OTHER=0
LAST_DISTURBED=0
EXTRA_ROUNDS=${MQ_BENCH_EXTRA_ROUNDS:-2}

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
command -v python3 >/dev/null || die "python3 not found (apt-get install python3)"
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
for ((i = 0; i < 10 && BARE_PORT == HOST_PORT; i++)); do BARE_PORT=$(free_port); done

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
    # The build's assets, without the CMake bookkeeping that shares the dir.
    mkdir -p "$dir/assets"
    if [[ -d $BUILD_DIR/assets ]]; then
        local a
        for a in "$BUILD_DIR"/assets/*; do
            case ${a##*/} in CMakeFiles | Makefile | cmake_install.cmake | CTestTestfile.cmake) continue ;; esac
            cp -r "$a" "$dir/assets/" || return 1
        done
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
taskset -c "$SERVER_CPU" "$HOST_BIN" serve --env "$ENV_FILE" 2>"$HOST_LOG" >/dev/null </dev/null &
HOST_PID=$!
if ! wait_health "$HOST_PORT" "$HOST_PID"; then
    tail -n 20 "$HOST_LOG" >&2
    die "host did not answer /api/health on 127.0.0.1:$HOST_PORT"
fi
if [[ -f $PID_FILE ]] && [[ $(<"$PID_FILE") != "$HOST_PID" ]]; then
    note "PID_FILE says $(<"$PID_FILE"), started $HOST_PID"
fi

# --- small readers (builtins only: no fork inside timed loops) ------------------
rss_kib() { # rss_kib PID [FIELD]: FIELD (default VmRSS) of /proc/PID/status, in KiB
    local k v rest want=${2:-VmRSS}
    while read -r k v rest; do
        [[ $k == "$want:" ]] && { echo "$v"; return 0; }
    done <"/proc/$1/status"
    echo 0
}

mapped_generations() { # distinct plugin generations mapped by PID
    grep -o "mq-$1-g[0-9]*-" "/proc/$1/maps" 2>/dev/null | sort -u | wc -l
}

STATUS_JSON=""
read_status() { # the host's last reload attempt -> STATUS_JSON, ST_SEQ, ST_DUR, ST_OK
    STATUS_JSON=""
    ST_SEQ=0 ST_DUR="" ST_OK="" # no file yet: no reload attempted yet
    [[ -f $STATUS_FILE ]] || return 1
    IFS= read -r -d '' STATUS_JSON <"$STATUS_FILE"
    [[ $STATUS_JSON =~ \"seq\":\ *([0-9]+) ]] && ST_SEQ=${BASH_REMATCH[1]}
    [[ $STATUS_JSON =~ \"duration_us\":\ *([0-9]+) ]] && ST_DUR=${BASH_REMATCH[1]}
    [[ $STATUS_JSON =~ \"ok\":\ *(true|false) ]] && ST_OK=${BASH_REMATCH[1]}
    return 0
}

version_gen() { # generation now serving, from /api/version (or -1)
    local body
    body=$(curl -s --max-time 2 "http://127.0.0.1:$HOST_PORT/api/version")
    [[ $body =~ \"generation\":\ *([0-9]+) ]] && echo "${BASH_REMATCH[1]}" || echo -1
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

# The machine may be shared (a build, someone else's tests): each run
# reports how much CPU processes other than the server and wrk used meanwhile,
# in % of one CPU. irq/softirq time is left out (mostly our own packets).
cpu_ticks() { # cpu_ticks PID -> see the echo below
    local f st busy total ns=0
    read -r -a f </proc/stat # the first line sums all CPUs
    busy=$((f[1] + f[2] + f[3]))
    total=$((f[1] + f[2] + f[3] + f[4] + f[5] + f[6] + f[7] + f[8]))
    local wq=0
    read -r ns wq _ <"/proc/$1/schedstat" # ns the server ran / waited to run
    st=$(<"/proc/$1/stat")
    st=${st##*) } # fields after the command name, from field 3 on
    read -r -a f <<<"$st"
    # all-CPU user+nice+system ticks, PID utime+stime ticks, all-CPU total
    # ticks, PID run-queue wait ns, PID run time ns, now in us
    echo "$busy $((f[11] + f[12])) $total $wq $ns ${EPOCHREALTIME/./}"
}

# run_wrk NAME PORT SECONDS PID: appends one MQBENCH line to $TMP/wrk-NAME.txt
# (see report.lua), plus other_pct.
run_wrk() {
    local name=$1 port=$2 secs=$3 pid=$4 a b wu ws other TIMEFORMAT='%3U %3S'
    read -r -a a <<<"$(cpu_ticks "$pid")"
    { time taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${secs}s" --latency -s "$WRK_LUA" \
        "http://127.0.0.1:$port/api/health" >"$TMP/wrk-last.txt" 2>&1; } 2>"$TMP/wrk-time.txt"
    read -r -a b <<<"$(cpu_ticks "$pid")"
    read -r wu ws <"$TMP/wrk-time.txt"
    other=$(awk -v busy=$((b[0] - a[0])) -v srv=$((b[1] - a[1])) -v tot=$((b[2] - a[2])) \
        -v wrk="${wu:-0} + ${ws:-0}" -v ncpu="$NCPU" 'BEGIN {
            split(wrk, w, " [+] "); o = busy - srv - 100 * (w[1] + w[2])
            o = tot > 0 ? 100 * o / (tot / ncpu) : 0; printf "%.0f", o < 0 ? 0 : o }')
    LAST_OTHER=$other
    # The server's CPU time in ns (schedstat run time: user, system, and the
    # softirq work done in its context): per request, a figure that other
    # load on the machine barely moves, unlike req/s.
    # Where the server's wall time went: running, runnable but preempted
    # (run queue), or asleep (idle in epoll_wait, or blocked, e.g. in a
    # write(2) to a file held up by writeback). A saturated server runs ~100%.
    local cpu_ns=$((b[4] - a[4])) wall_ns=$(((b[5] - a[5]) * 1000))
    local run_pct=$((100 * cpu_ns / wall_ns)) rq_pct=$((100 * (b[3] - a[3]) / wall_ns))
    local sleep_pct=$((100 - run_pct - rq_pct))
    # Disturbed: other processes took CPU, the server waited for its CPU, or
    # it slept (so the load generator, itself near 100% of CPU 1, fell
    # behind: a saturated server never waits for work).
    LAST_DISTURBED=$((other > OTHER_MAX || rq_pct > RUNQ_MAX || sleep_pct > SLEEP_MAX))
    if grep -q '^MQBENCH' "$TMP/wrk-last.txt"; then
        echo "$(grep '^MQBENCH' "$TMP/wrk-last.txt") other_pct=$other cpu_ns=$cpu_ns" \
            "srv_run_pct=$run_pct srv_runq_pct=$rq_pct srv_sleep_pct=$((sleep_pct < 0 ? 0 : sleep_pct))" \
            "disturbed=$LAST_DISTURBED" >>"$TMP/wrk-$name.txt"
    else
        note "wrk ($name) produced no report:"
        cat "$TMP/wrk-last.txt" >&2
    fi
}

# wrk_stat NAME FIELD AGG: FIELD over the runs; AGG is median, max or sum.
# FIELD "rps" is requests / duration, "cpureq" the server's CPU ns per
# request. Medians use only the undisturbed runs (disturbed=0) when there
# are any; max and sum use all runs.
wrk_stat() {
    [[ -s $TMP/wrk-$1.txt ]] || { echo "n/a"; return; }
    awk -v f="$2" -v agg="$3" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        if (f == "rps") x = v["requests"] / (v["duration_us"] / 1e6)
        else if (f == "cpureq") x = v["requests"] > 0 ? v["cpu_ns"] / v["requests"] : 0
        else x = v[f] + 0
        all[++n] = x; sum += x; if (n == 1 || x > max) max = x
        if (v["disturbed"] + 0 == 0) clean[++c] = x
    } END {
        if (agg == "sum") { printf "%d\n", sum; exit }
        if (agg == "max") { printf "%.0f\n", max; exit }
        if (agg == "clean") { printf "%d\n", c; exit }
        if (c > 0) { for (i = 1; i <= c; i++) a[i] = clean[i]; m = c }
        else { for (i = 1; i <= n; i++) a[i] = all[i]; m = n }
        for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        printf "%.0f\n", m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }' "$TMP/wrk-$1.txt"
}

# --- the bare server ---------------------------------------------------------------
start_bare() {
    taskset -c "$SERVER_CPU" "$BARE_BIN" "$BARE_PORT" 127.0.0.1 2>"$TMP/bare.log" </dev/null {SLEEP_FD}>&- &
    BARE_PID=$!
    wait_health "$BARE_PORT" "$BARE_PID" || { cat "$TMP/bare.log" >&2; die "bare server did not start"; }
}
stop_bare() { stop_pid "$BARE_PID"; BARE_PID=""; }

# --- the reload flipper (runs during the "reloading" wrk runs) ---------------------
# Flips `current` A<->B (symlink to a temp name, rename over `current`) and
# sends SIGHUP every 100 ms until the stop file appears, at most
# 10 * DURATION + 50 times. One Python process, no fork per flip: wrk
# saturates CPU 1, and a bash loop spawning ln/mv/sleep 30 times a second
# there slows the load generator, which then shows as a host slowdown.
cat >"$TMP/flipper.py" <<'EOF_PY'
import os, signal, sys, time

pid, releases, interval, limit, stop, count_file = (int(sys.argv[1]), sys.argv[2],
    float(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6])
tmp, cur = os.path.join(releases, ".current.bench"), os.path.join(releases, "current")


def flip(target):
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    os.symlink(target, tmp)
    os.replace(tmp, cur)


n, target, t_next = 0, "B", time.monotonic()
while n < limit and not os.path.exists(stop):
    flip(target)
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError:
        break
    n += 1
    target = "A" if target == "B" else "B"
    t_next += interval
    time.sleep(max(0.0, t_next - time.monotonic()))
flip("A")
with open(count_file, "w") as f:
    f.write(f"{n}\n")
EOF_PY
start_flipper() {
    rm -f "$TMP/flip.stop" "$TMP/flip.count"
    python3 "$TMP/flipper.py" "$HOST_PID" "$RELEASES" "$FLIP_INTERVAL" $((DURATION * 10 + 50)) \
        "$TMP/flip.stop" "$TMP/flip.count" {SLEEP_FD}>&- &
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

# 1. Idle memory with all plugins loaded (before any traffic); meanwhile,
# how busy the machine is without us.
read -r -a a <<<"$(cpu_ticks "$HOST_PID")"
sleep 1
read -r -a b <<<"$(cpu_ticks "$HOST_PID")"
BUSY_BEFORE=$(awk -v busy=$((b[0] - a[0] - (b[1] - a[1]))) -v tot=$((b[2] - a[2])) -v ncpu="$NCPU" \
    'BEGIN { o = tot > 0 ? 100 * busy / (tot / ncpu) : 0; printf "%.0f", o < 0 ? 0 : o }')
((BUSY_BEFORE > OTHER_MAX)) && note "the machine is busy: other processes use $BUSY_BEFORE% of a CPU"
RSS_IDLE=$(rss_kib "$HOST_PID")
RSS_IDLE_ANON=$(rss_kib "$HOST_PID" RssAnon)
RSS_IDLE_FILE=$(rss_kib "$HOST_PID" RssFile)
GENS_IDLE=$(mapped_generations "$HOST_PID")
FDS_IDLE=$(ls "/proc/$HOST_PID/fd" 2>/dev/null | wc -l)
curl -s -i --max-time 2 "http://127.0.0.1:$HOST_PORT/api/health" >"$TMP/host-health.txt"
GEN_START=$(version_gen)
((GEN_START >= 0)) || note "cannot read \"generation\" from /api/version"

# 2. Throughput: warm both up, then interleave host / bare / host-reloading.
note "warming up (2 s each)"
run_wrk warm "$HOST_PORT" 2 "$HOST_PID"
start_bare
curl -s -i --max-time 2 "http://127.0.0.1:$BARE_PORT/api/health" >"$TMP/bare-health.txt"
run_wrk warm "$BARE_PORT" 2 "$BARE_PID"
stop_bare

RELOADS_UNDER_LOAD=0
FAILS_UNDER_LOAD=0
SIGNALS_UNDER_LOAD=0
CLEAN_ROUNDS=0
r=0
# A round with a disturbed run (see run_wrk) still shows in raw, but is
# replaced, at most EXTRA_ROUNDS times, and its disturbed runs are left out
# of the medians when undisturbed ones exist.
while ((CLEAN_ROUNDS < ROUNDS && r < ROUNDS + EXTRA_ROUNDS)); do
    r=$((r + 1))
    note "round $r: host steady, bare, host reloading (${DURATION} s each)"
    disturbed=0
    run_wrk host "$HOST_PORT" "$DURATION" "$HOST_PID"
    ((LAST_DISTURBED)) && disturbed=1
    start_bare
    run_wrk bare "$BARE_PORT" "$DURATION" "$BARE_PID"
    ((LAST_DISTURBED)) && disturbed=1
    stop_bare
    read_status
    seq0=$ST_SEQ
    gen0=$(version_gen)
    start_flipper
    sleep 0.15 # the flipper is running (Python started) before the load starts
    run_wrk reload "$HOST_PORT" "$DURATION" "$HOST_PID"
    ((LAST_DISTURBED)) && disturbed=1
    stop_flipper
    sleep 0.3 # let the last SIGHUP land
    gen1=$(version_gen)
    read_status
    # Every attempt bumps the status file's seq; a successful one also the
    # generation. (Signals that arrive together make one attempt.)
    RELOADS_UNDER_LOAD=$((RELOADS_UNDER_LOAD + gen1 - gen0))
    FAILS_UNDER_LOAD=$((FAILS_UNDER_LOAD + (ST_SEQ - seq0) - (gen1 - gen0)))
    SIGNALS_UNDER_LOAD=$((SIGNALS_UNDER_LOAD + $(cat "$TMP/flip.count" 2>/dev/null || echo 0)))
    ((disturbed)) && note "round $r disturbed by other processes"
    ((disturbed)) || CLEAN_ROUNDS=$((CLEAN_ROUNDS + 1))
    kill -0 "$HOST_PID" 2>/dev/null || break
done
ROUNDS_RUN=$r

# 3. Reload latency: signal -> /api/version shows a newer generation.
# Polled from Python on one keep-alive connection with TCP_NODELAY: a bash
# /dev/tcp poller writes a request line by line and meets Nagle + delayed
# ACK (a 40 ms floor); curl per poll costs a process start (~4 ms).
note "reload latency: $LAT_RELOADS reloads"
cat >"$TMP/reload_latency.py" <<'EOF_PY'
import json, os, re, signal, socket, sys, time

pid, port, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
releases, status_path, out_e2e, out_host = sys.argv[4:8]
REQ = b"GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
sock, buf = None, b""


def get_gen():
    """Generation serving now, or None (one reconnect on a dropped socket)."""
    global sock, buf
    for _ in range(2):
        try:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", port), timeout=2)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                buf = b""
            sock.sendall(REQ)
            while b"\r\n\r\n" not in buf:
                d = sock.recv(65536)
                if not d:
                    raise OSError("closed")
                buf += d
            head, _, rest = buf.partition(b"\r\n\r\n")
            m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            clen = int(m.group(1)) if m else 0
            while len(rest) < clen:
                d = sock.recv(65536)
                if not d:
                    raise OSError("closed")
                rest += d
            body, buf = rest[:clen], rest[clen:]
            if not head.startswith(b"HTTP/1.1 200"):
                return None
            return int(json.loads(body)["generation"])
        except (OSError, ValueError, KeyError):
            if sock is not None:
                sock.close()
            sock = None
    return None


def status():
    try:
        with open(status_path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def seq():
    st = status()
    return int(st.get("seq", 0)) if st else 0


def flip(target):
    tmp = os.path.join(releases, ".current.bench")
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    os.symlink(target, tmp)
    os.replace(tmp, os.path.join(releases, "current"))


fails = timeouts = 0
e2e, host = [], []
target = "B"
for _ in range(count):
    try:
        os.kill(pid, 0)
    except OSError:
        break
    flip(target)
    target = "A" if target == "B" else "B"
    g0 = get_gen()
    if g0 is None:
        timeouts += 1
        continue
    s0 = seq()
    t0 = time.monotonic_ns()
    os.kill(pid, signal.SIGHUP)
    deadline, seen = t0 + 2_000_000_000, False
    while True:
        g = get_gen()
        if g is not None and g > g0:
            seen = True
            break
        if time.monotonic_ns() > deadline:
            break
        st = status()  # a refused reload shows here, not in /api/version
        if st and int(st.get("seq", 0)) > s0 and not st.get("ok"):
            break
    t1 = time.monotonic_ns()
    # The status file is written with the swap; wait for it (bounded).
    st, end = status(), time.monotonic_ns() + 2_000_000_000
    while not (st and int(st.get("seq", 0)) > s0) and time.monotonic_ns() < end:
        time.sleep(0.0005)
        st = status()
    if seen:
        e2e.append((t1 - t0) // 1000)
    elif st and int(st.get("seq", 0)) > s0:
        fails += 1
    else:
        timeouts += 1
    if st and int(st.get("seq", 0)) > s0 and "duration_us" in st:
        host.append(int(st["duration_us"]))
flip("A")
with open(out_e2e, "w") as f:
    f.write("".join(f"{v}\n" for v in e2e))
with open(out_host, "w") as f:
    f.write("".join(f"{v}\n" for v in host))
print(fails, timeouts)
EOF_PY
read -r -a a <<<"$(cpu_ticks "$HOST_PID")"
TIMEFORMAT='%3U %3S'
{ time python3 "$TMP/reload_latency.py" "$HOST_PID" "$HOST_PORT" "$LAT_RELOADS" "$RELEASES" \
    "$STATUS_FILE" "$TMP/lat-e2e.txt" "$TMP/lat-host.txt" >"$TMP/lat-result.txt" \
    2>"$TMP/lat-py.err"; } 2>"$TMP/lat-time.txt"
[[ -s $TMP/lat-py.err ]] && { note "reload latency poller:"; cat "$TMP/lat-py.err" >&2; }
read -r -a b <<<"$(cpu_ticks "$HOST_PID")"
read -r LAT_FAILS LAT_TIMEOUTS <"$TMP/lat-result.txt"
LAT_FAILS=${LAT_FAILS:-n/a} LAT_TIMEOUTS=${LAT_TIMEOUTS:-n/a}
touch "$TMP/lat-e2e.txt" "$TMP/lat-host.txt"
# Other load meanwhile: all CPU time but the host's and the poller's.
read -r pu ps <"$TMP/lat-time.txt"
LAT_OTHER=$(awk -v busy=$((b[0] - a[0] - (b[1] - a[1]))) -v tot=$((b[2] - a[2])) -v ncpu="$NCPU" \
    -v poller="${pu:-0} ${ps:-0}" 'BEGIN { split(poller, p, " "); busy -= 100 * (p[1] + p[2])
        o = tot > 0 ? 100 * busy / (tot / ncpu) : 0; printf "%.0f", o < 0 ? 0 : o }')
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
RSS_BEFORE_ANON=$(rss_kib "$HOST_PID" RssAnon)
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
RSS_AFTER_ANON=$(rss_kib "$HOST_PID" RssAnon)
GENS_AFTER_SOAK=$(mapped_generations "$HOST_PID")
FDS_AFTER_SOAK=$(ls "/proc/$HOST_PID/fd" 2>/dev/null | wc -l)

HOST_ALIVE=yes
kill -0 "$HOST_PID" 2>/dev/null || HOST_ALIVE="NO (exited)"

# ===================================================================================
# Report.
H_RPS=$(wrk_stat host rps median)
B_RPS=$(wrk_stat bare rps median)
R_RPS=$(wrk_stat reload rps median)
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
echo "$PINNING; wrk -t1 -c$CONNS -d${DURATION}s, host / bare / host-reloading interleaved, $ROUNDS_RUN rounds."
echo "Each figure is the median over the undisturbed runs: $(wrk_stat host x clean) / $(wrk_stat bare x clean) / $(wrk_stat reload x clean) of $ROUNDS_RUN (host / bare / reloading)."
echo "Before the runs, other processes used $BUSY_BEFORE% of a CPU."
echo "A run is disturbed when processes other than the server and wrk used more than $OTHER_MAX% of a CPU meanwhile (other_pct in raw; worst here: $(wrk_stat host other_pct max)% / $(wrk_stat bare other_pct max)% / $(wrk_stat reload other_pct max)%), the server waited more than $RUNQ_MAX% of the time for its CPU (srv_runq_pct), or it slept more than $SLEEP_MAX% (srv_sleep_pct: wrk fell behind); with no undisturbed run, the median is over all runs."
echo "Releases A (hello_v1) and B (hello_v2), $NPLUGINS plugins each."
echo
echo "| figure | value | target | met |"
echo "| --- | --- | --- | --- |"
echo "| host /api/health req/s | $H_RPS | | |"
echo "| host /api/health p50 / p99 | $(ms "$(wrk_stat host p50_us median)") / $(ms "$(wrk_stat host p99_us median)") | | |"
echo "| bare evhttp req/s | $B_RPS | | |"
echo "| bare evhttp p50 / p99 | $(ms "$(wrk_stat bare p50_us median)") / $(ms "$(wrk_stat bare p99_us median)") | | |"
echo "| host / bare throughput | ${HB}x | >= 0.95x | $(meets "$HB >= 0.95") |"
echo "| server CPU per request, host / bare (capacity ratio bare/host) | $(wrk_stat host cpureq median) ns / $(wrk_stat bare cpureq median) ns ($(ratio "$(wrk_stat bare cpureq median)" "$(wrk_stat host cpureq median)")x) | >= 0.95x | $(meets "$(ratio "$(wrk_stat bare cpureq median)" "$(wrk_stat host cpureq median)") >= 0.95") |"
echo "| host req/s, reload every 100 ms | $R_RPS | | |"
echo "| host p50 / p99, reload every 100 ms | $(ms "$(wrk_stat reload p50_us median)") / $(ms "$(wrk_stat reload p99_us median)") | | |"
echo "| server CPU per request, reloading / steady | $(wrk_stat reload cpureq median) ns / $(wrk_stat host cpureq median) ns | | |"
echo "| reloading / steady throughput | $(awk -v r="$RS" 'BEGIN { if (r == "n/a") print r; else printf "%.1f%%", r * 100 }') | >= 95% | $(meets "$RS >= 0.95") |"
echo "| errors under reload ($RELOADS_UNDER_LOAD reloads, $FAILS_UNDER_LOAD failed, $SIGNALS_UNDER_LOAD SIGHUPs) | $(errs reload) | 0 | $(meets "$(wrk_stat reload non2xx sum) + $(wrk_stat reload connect sum) + $(wrk_stat reload read sum) + $(wrk_stat reload write sum) + $(wrk_stat reload timeout sum) == 0") |"
echo "| errors steady (host / bare) | $(errs host) / $(errs bare) | 0 | |"
echo "| reload latency, signal -> new generation serving, p50 / p99 (max) | $(ms "$E2E_P50") / $(ms "$E2E_P99") ($(ms "$E2E_MAX")), n=$E2E_N; other processes used $LAT_OTHER% of a CPU meanwhile | p99 < 5 ms | $(meets "$E2E_P99 < 5000") |"
echo "| reload duration inside the host (duration_us) p50 / p99 (max) | $(ms "$HOSTLAT_P50") / $(ms "$HOSTLAT_P99") ($(ms "$HOSTLAT_MAX")) | | |"
echo "| reload latency: failed / timed out | $LAT_FAILS / $LAT_TIMEOUTS | 0 / 0 | |"
echo "| RSS idle, all plugins loaded | $(mib "$RSS_IDLE") (anon $(mib "$RSS_IDLE_ANON"), file-backed $(mib "$RSS_IDLE_FILE")) | < 8 MiB | $(meets "$RSS_IDLE < 8192") |"
echo "| RSS before / after $SOAK_RELOADS reloads ($SOAK_DONE done, $SOAK_FAILS failed, $SOAK_TIMEOUTS timed out) | $(mib "$RSS_BEFORE_SOAK") / $(mib "$RSS_AFTER_SOAK") (anon $(mib "$RSS_BEFORE_ANON") / $(mib "$RSS_AFTER_ANON")) | | |"
echo "| RSS growth over $SOAK_RELOADS reloads | $(mib "$GROWTH") | < 2 MB | $(meets "$GROWTH * 1024 < 2000000") |"
echo "| plugin generations mapped (idle / after reloads) | $GENS_IDLE / $GENS_AFTER_SOAK | <= 2 | $(meets "$GENS_AFTER_SOAK <= 2") |"
echo "| open fds (idle / after reloads) | $FDS_IDLE / $FDS_AFTER_SOAK | | |"
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
