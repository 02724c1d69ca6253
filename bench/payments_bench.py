#!/usr/bin/env python3
"""payments_bench.py -- the driver of bench/payments.sh (standard library only).

    payments_bench.py burst --host http://127.0.0.1:P --sim http://127.0.0.1:S
                            --token METRICS_TOKEN [--n 500] [--rounds 3]
                            [--latency-ms 200] [--probe-conns 4]
    payments_bench.py probe --host URL --conns 4 --seconds S      (internal)

`burst` sets the simulator's ready/reserve latency, then per round opens
N connections to the host, releases N POST /api/pay/ready at one moment
(kakao and naver alternating) and times until the last answer. Meanwhile a
separate process (`probe`) loops GET /api/health on --probe-conns
keep-alive connections; its samples are split into "during a burst" and
"idle" by the bursts' time windows (CLOCK_MONOTONIC is system-wide).
Prints one JSON object on stdout; never asserts.
"""

import argparse
import asyncio
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse


def hostport(url):
    u = urllib.parse.urlsplit(url)
    return u.hostname, u.port


# ---- the /api/health prober (its own process) ------------------------------------


def probe(args):
    host, port = hostport(args.host)
    stop_at = time.monotonic() + args.seconds
    samples = []  # (start, seconds, status)
    lock = threading.Lock()

    def loop():
        conn = http.client.HTTPConnection(host, port, timeout=30)
        mine = []
        while time.monotonic() < stop_at:
            t0 = time.monotonic()
            try:
                conn.request("GET", "/api/health")
                r = conn.getresponse()
                r.read()
                status = r.status
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
            mine.append((t0, time.monotonic() - t0, status))
        conn.close()
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=loop) for _ in range(args.conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    json.dump(samples, sys.stdout)


# ---- the burst ------------------------------------------------------------------------


def http_json(method, url, body=None, headers=None):
    host, port = hostport(url)
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, u.path, body=data, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def metrics(args):
    status, body = http_json("GET", args.host + "/metrics",
                             headers={"Authorization": f"Bearer {args.token}"})
    out = {}
    for line in body.decode().splitlines():
        if line.startswith("payment_ready_calls_total") or line.startswith("payment_failure_total"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


async def one_start(host, port, i, go):
    reader, writer = await asyncio.open_connection(host, port)
    provider = "kakao" if i % 2 == 0 else "naver"
    body = json.dumps({"provider": provider, "resultId": f"bench{i}"}).encode()
    req = (f"POST /api/pay/ready HTTP/1.1\r\nHost: {host}:{port}\r\n"
           f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
           f"Connection: close\r\n\r\n").encode() + body
    await go.wait()
    writer.write(req)
    await writer.drain()
    status_line = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        k, _, v = line.decode("latin-1").partition(":")
        if k.strip().lower() == "content-length":
            length = int(v.strip())
    if length:
        await reader.readexactly(length)
    done = time.monotonic()
    writer.close()
    try:
        parts = status_line.split()
        status = int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        status = 0
    return status, done


async def burst_round(host, port, n):
    go = asyncio.Event()
    tasks = [asyncio.ensure_future(one_start(host, port, i, go)) for i in range(n)]
    # Let every connection open before the starts are released.
    await asyncio.sleep(0.5)
    t0 = time.monotonic()
    go.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    statuses = {}
    done = []
    for r in results:
        if isinstance(r, BaseException):
            statuses["error"] = statuses.get("error", 0) + 1
            continue
        statuses[str(r[0])] = statuses.get(str(r[0]), 0) + 1
        done.append(r[1] - t0)
    done.sort()
    spread = {"first_ms": done[0] * 1000 if done else None,
              "median_ms": done[len(done) // 2] * 1000 if done else None}
    return t0, t0 + (done[-1] if done else 0), statuses, spread


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def burst(args):
    host, port = hostport(args.host)
    http_json("DELETE", args.sim + "/sim/stats")
    st, body = http_json("POST", args.sim + "/sim/faults",
                         {"latency_ms": args.latency_ms, "latency_ops": ["ready"]})
    if st != 200:
        sys.exit(f"POST /sim/faults: {st} {body[:200]!r}")
    m0 = metrics(args)

    # The prober runs over all rounds: ~1.5 s idle before, each round, a gap.
    per_round = 0.5 + args.latency_ms / 1000 + 3.0
    seconds = 1.5 + args.rounds * per_round + 1.0
    prober = subprocess.Popen([sys.executable, os.path.abspath(__file__), "probe", "--host",
                               args.host, "--conns", str(args.probe_conns), "--seconds",
                               f"{seconds:.1f}"], stdout=subprocess.PIPE)
    time.sleep(1.5)
    rounds = []
    for _ in range(args.rounds):
        t0, t1, statuses, spread = asyncio.run(burst_round(host, port, args.n))
        rounds.append({"t0": t0, "t1": t1, "wall_s": t1 - t0, "statuses": statuses, **spread})
        time.sleep(1.0)
    out, _ = prober.communicate(timeout=seconds + 60)
    samples = json.loads(out or b"[]")

    def window_of(t):
        for i, r in enumerate(rounds):
            if r["t0"] <= t <= r["t1"]:
                return i
        return None

    during = [[] for _ in rounds]
    idle = []
    failed = 0
    for t, secs, status in samples:
        if status != 200:
            failed += 1
        w = window_of(t)
        if w is None:
            # Idle: not within 0.2 s of any burst (connection setup, tails).
            if all(not (r["t0"] - 0.7 <= t <= r["t1"] + 0.2) for r in rounds):
                idle.append(secs)
        else:
            during[w].append(secs)
    def ms(values, p):
        v = percentile(values, p)
        return None if v is None else v * 1000

    for r, d in zip(rounds, during):
        r["health_n"] = len(d)
        r["health_p50_ms"] = ms(d, 50)
        r["health_p99_ms"] = ms(d, 99)
        r["health_max_ms"] = ms(d, 100)
    all_during = [x for d in during for x in d]
    m1 = metrics(args)
    _, stats = http_json("GET", args.sim + "/sim/stats")
    stats = json.loads(stats)
    http_json("DELETE", args.sim + "/sim/faults")
    result = {
        "n": args.n,
        "rounds": rounds,
        "latency_ms": args.latency_ms,
        "health_during": {"n": len(all_during), "p50_ms": ms(all_during, 50),
                          "p99_ms": ms(all_during, 99), "max_ms": ms(all_during, 100)},
        "health_idle": {"n": len(idle), "p50_ms": ms(idle, 50), "p99_ms": ms(idle, 99),
                        "max_ms": ms(idle, 100)},
        "health_failed": failed,
        "gateway_ready_calls": stats.get("calls", {}).get("kakao.ready", 0)
        + stats.get("calls", {}).get("naver.reserve", 0),
        "metric_moves": {k: m1.get(k, 0) - m0.get(k, 0) for k in m1 if m1.get(k, 0) != m0.get(k, 0)},
    }
    json.dump(result, sys.stdout)
    print()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("burst")
    b.add_argument("--host", required=True)
    b.add_argument("--sim", required=True)
    b.add_argument("--token", required=True)
    b.add_argument("--n", type=int, default=500)
    b.add_argument("--rounds", type=int, default=3)
    b.add_argument("--latency-ms", type=int, default=200)
    b.add_argument("--probe-conns", type=int, default=4)
    p = sub.add_parser("probe")
    p.add_argument("--host", required=True)
    p.add_argument("--conns", type=int, default=4)
    p.add_argument("--seconds", type=float, required=True)
    args = ap.parse_args()
    if args.cmd == "probe":
        probe(args)
    else:
        burst(args)


if __name__ == "__main__":
    main()
