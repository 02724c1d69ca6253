"""The embedded store as a user and an operator see it (issue 3, DESIGN
section 6), through the store_fx fixture plugin:

  POST /fx/store/:coll/:key   durable append -> 201 only once it is on disk
  GET  /fx/store/:coll/:key   the latest record of a key, or 404
  GET  /fx/store/:coll        {"latest": keys, "all": records}

kill -9 in the middle of a burst of appends; damaged files found at start
(a torn last line, a garbage line, a 2 MB line); a full disk (RLIMIT_FSIZE,
and a small tmpfs when this process may mount one); a second host on the
same data dir.
"""
import http.client
import json
import os
import re
import shutil
import subprocess
import threading

from mqtest import (SCALE, HostTestCase, free_port, mount_small_tmpfs, read_response,
                    wait_until)

ORDERS = "orders"


def record(key, **fields):
    """One store line as the host writes it: k, ts, v first, then fields."""
    return json.dumps({"k": key, "ts": 1795000000000, "v": 1, **fields},
                      separators=(",", ":"), ensure_ascii=False)


def lines_bytes(lines):
    return "".join(line + "\n" for line in lines).encode("utf-8")


class StoreHostMixin:
    def store_host(self, env=None, start=True, **start_kw):
        """A host serving the store_fx fixture (BACKUP_AT off: no timer)."""
        env = {"BACKUP_AT": "off", **(env or {})}
        h = self.host(env=env)
        h.publish("001-fx", ["store_fx.so"])
        h.set_current("001-fx")
        if start:
            h.start(**start_kw)
        return h

    def data_file(self, h, coll):
        return os.path.join(h.data, f"{coll}.ndjson")

    def read_data(self, h, coll):
        with open(self.data_file(h, coll), "rb") as f:
            return f.read()

    def write_data(self, h, coll, blob):
        path = self.data_file(h, coll)
        with open(path, "wb") as f:
            f.write(blob)
        os.chmod(path, 0o600)
        return path

    def counts(self, h, coll):
        return h.get_json(f"/fx/store/{coll}")

    def get_record(self, h, coll, key):
        r = h.get(f"/fx/store/{coll}/{key}")
        if r.status != 200:
            raise AssertionError(f"GET /fx/store/{coll}/{key}: {r.status} {r.body[:200]!r}")
        return r.json()

    def append(self, h, coll, key, body, status=201):
        r = h.post(f"/fx/store/{coll}/{key}", json.dumps(body, ensure_ascii=False),
                   headers={"Content-Type": "application/json"})
        if status is not None and r.status != status:
            raise AssertionError(f"POST /fx/store/{coll}/{key}: {r.status} (want {status}): "
                                 f"{r.body[:300]!r}")
        return r

    def corrupt_metric(self, h, coll):
        return h.metric("mq_store_corrupt_lines_total", collection=coll)

    def restart(self, h, **start_kw):
        h.stop()
        h.start(**start_kw)
        return h


# ---- kill -9 during a burst ------------------------------------------------------


class KillDuringBurstTest(StoreHostMixin, HostTestCase):
    WRITERS = 6
    KILL_AFTER = 400  # acknowledged records before the SIGKILL

    def test_store__kill9_during_burst__acknowledged_records_survive(self):
        h = self.store_host()
        acked = {}  # key -> the body the client was told is safe
        unexpected = []
        lock = threading.Lock()
        stop = threading.Event()

        def writer(t):
            conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10 * SCALE)
            i = 0
            try:
                while not stop.is_set():
                    key = f"w{t}-{i:06d}"
                    # Writer 0 sends big records, so the kill may land inside
                    # one write(2) and leave a torn last line.
                    pad = 200_000 + i if t == 0 else i % 300
                    body = {"writer": t, "i": i, "amount": 1000 * t + i,
                            "note": f"버스트 {key}", "pad": "x" * pad}
                    try:
                        conn.request("POST", f"/fx/store/burst/{key}",
                                     body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                                     headers={"Content-Type": "application/json"})
                        r = read_response(conn)
                    except (OSError, http.client.HTTPException):
                        return  # the host is gone: this request's fate is unknown
                    if r.status == 201:
                        with lock:
                            acked[key] = body
                    elif not stop.is_set():
                        with lock:
                            unexpected.append((key, r.status, r.body[:200]))
                    i += 1
            finally:
                conn.close()

        threads = [threading.Thread(target=writer, args=(t,), daemon=True)
                   for t in range(self.WRITERS)]
        for t in threads:
            t.start()
        try:
            h.wait(lambda: len(acked) >= self.KILL_AFTER, 60,
                   f"{self.KILL_AFTER} acknowledged appends")
            self.assertEqual(h.crash(), -9)
        finally:
            stop.set()
            for t in threads:
                t.join(30 * SCALE)
        self.assertFalse(any(t.is_alive() for t in threads), "a writer thread hung")
        self.assertEqual(unexpected, [], "appends answered other than 201 before the kill")
        with lock:
            acked = dict(acked)

        raw = self.read_data(h, "burst")
        torn_tail = bool(raw) and not raw.endswith(b"\n")

        h.start()

        log = h.stderr()
        if torn_tail:
            self.assertRegex(log, r'store "burst": torn last line \(\d+ bytes\) truncated')
        else:
            self.assertNotIn("torn last line", log)
        after = self.read_data(h, "burst")
        self.assertTrue(after.endswith(b"\n"), "the data file does not end with a whole line")
        self.assertEqual(after, raw[:len(after)], "the restart changed more than a torn tail")
        lines = after.split(b"\n")[:-1]
        for n, line in enumerate(lines, 1):
            try:
                json.loads(line)
            except ValueError:
                self.fail(f"line {n} of burst.ndjson is not JSON after the restart: {line[:200]!r}")

        missing, wrong = [], []
        for key, body in sorted(acked.items()):
            r = h.get(f"/fx/store/burst/{key}")
            if r.status != 200:
                missing.append(key)
                continue
            got = r.json()
            if {f: got.get(f) for f in body} != body or got.get("k") != key:
                wrong.append(key)
        self.assertEqual(missing, [], f"{len(missing)} of {len(acked)} acknowledged records lost")
        self.assertEqual(wrong, [], "acknowledged records read back with other fields")

        c = self.counts(h, "burst")
        self.assertGreaterEqual(c["all"], len(acked))
        self.assertEqual(c["all"], len(lines), "records served != whole lines in the file")
        self.assertEqual(c["latest"], c["all"], "distinct keys were written once each")
        m = h.metrics()
        self.assertEqual(m.get(("mq_store_corrupt_lines_total",
                                frozenset({"collection": "burst"}.items())), 0), 0)
        self.assertEqual(m[("mq_store_records", frozenset({"collection": "burst"}.items()))],
                         len(lines))

        # And the store takes new appends after the crash.
        self.append(h, "burst", "after-crash", {"amount": 1})
        self.assertEqual(self.get_record(h, "burst", "after-crash")["amount"], 1)


# ---- durable before acknowledged --------------------------------------------------------


STRACE = shutil.which("strace")


class DurabilityTraceTest(StoreHostMixin, HostTestCase):
    """kill -9 cannot tell a record in the page cache from one on disk, so
    these watch the host's system calls: the 201 of a durable append is
    written to the socket only after an fdatasync of the record's file
    returned, and concurrent appends share syncs (group commit). They skip
    without strace or when ptrace is not permitted."""

    def trace(self, h):
        if not STRACE:
            self.skipTest("strace is not installed (apt-get install strace)")
        out = os.path.join(h.dir, "strace.txt")
        p = subprocess.Popen([STRACE, "-f", "-qq", "-o", out, "-e",
                              "trace=write,writev,pwrite64,fdatasync,fsync",
                              "-s", "48", "-p", str(h.pid)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))

        def attached():
            if p.poll() is not None:
                self.skipTest("strace cannot attach here: "
                              + p.stderr.read().decode("utf-8", "replace").strip())
            with open(f"/proc/{h.pid}/status", encoding="utf-8") as f:
                return any(line.startswith("TracerPid:") and line.split()[1] == str(p.pid)
                           for line in f)
        wait_until(attached, 20, "strace attached to the host")
        # The sync thread too: it is a second task of the process.
        wait_until(lambda: all(_tracer(h.pid, tid) == p.pid
                               for tid in os.listdir(f"/proc/{h.pid}/task")), 20,
                   "strace attached to every thread of the host")
        return p, out

    def stop_trace(self, p, out):
        p.terminate()
        p.wait(30 * SCALE)
        with open(out, encoding="utf-8", errors="replace") as f:
            return _join_unfinished(f.read().splitlines())

    def test_store__durable_append__201_written_only_after_fdatasync(self):
        h = self.store_host()
        self.append(h, ORDERS, "warm-up", {"amount": 0})  # the file exists: no dir sync
        p, out = self.trace(h)
        keys = [f"d{i:03d}" for i in range(20)]
        for key in keys:
            self.append(h, ORDERS, key, {"amount": 1})
        calls = self.stop_trace(p, out)

        for key in keys:
            w = next((i for i, c in enumerate(calls)
                      if c.call == "write" and _traced(f'{{"k":"{key}"') in c.args), None)
            self.assertIsNotNone(w, f"no write of record {key} in the trace")
            fd = calls[w].args.split(",", 1)[0]
            resp = next((i for i in range(w + 1, len(calls))
                         if calls[i].call in ("writev", "write")
                         and "HTTP/1.1 201" in calls[i].args), None)
            self.assertIsNotNone(resp, f"no 201 written after record {key}")
            synced = [i for i in range(w + 1, len(calls))
                      if calls[i].call in ("fdatasync", "fsync") and calls[i].args == fd
                      and calls[i].done_at < calls[resp].start_at and calls[i].ok]
            self.assertTrue(synced, f"the 201 for {key} was written before any fdatasync of its "
                                    "file returned:\n"
                                    + "\n".join(c.line for c in calls[w:resp + 1]))

    def test_store__concurrent_durable_appends__share_fdatasync_calls(self):
        h = self.store_host()
        self.append(h, ORDERS, "warm-up", {"amount": 0})
        p, out = self.trace(h)
        writers, per_writer = 8, 25
        errors = []

        def writer(t):
            conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30 * SCALE)
            try:
                for i in range(per_writer):
                    conn.request("POST", f"/fx/store/{ORDERS}/g{t}-{i}", body=b'{"amount":1}')
                    r = read_response(conn)
                    if r.status != 201:
                        errors.append(r)
            finally:
                conn.close()

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120 * SCALE)
        calls = self.stop_trace(p, out)

        self.assertEqual(errors, [])
        appends = sum(1 for c in calls if c.call == "write" and _traced('{"k":"g') in c.args)
        syncs = sum(1 for c in calls if c.call == "fdatasync" and c.ok)
        self.assertEqual(appends, writers * per_writer)
        self.assertGreater(syncs, 0)
        self.assertLess(syncs, appends, "every durable append had its own fdatasync: no group "
                                        "commit")


class _Call:
    """One system call from strace -f: start/finish positions in the trace
    (an <unfinished ...> call finishes at its <... resumed> line)."""

    def __init__(self, call, args, ok, start_at, done_at, line):
        self.call, self.args, self.ok = call, args, ok
        self.start_at, self.done_at, self.line = start_at, done_at, line


_CALL_RE = re.compile(r"^(\d+)\s+(\w+)\((.*)$")
_RESUMED_RE = re.compile(r"^(\d+)\s+<\.\.\. (\w+) resumed>(.*)$")


def _join_unfinished(lines):
    calls, pending = [], {}
    for n, line in enumerate(lines):
        m = _RESUMED_RE.match(line)
        if m:
            c = pending.pop((m.group(1), m.group(2)), None)
            if c:
                c.done_at = n
                c.ok = re.search(r"\)\s+=\s+-1", m.group(3)) is None
                c.line += " ... " + m.group(3)
            continue
        m = _CALL_RE.match(line)
        if not m:
            continue
        tid, call, rest = m.groups()
        if rest.endswith("<unfinished ...>"):
            c = _Call(call, rest[:-len("<unfinished ...>")].strip().rstrip(","), False, n, n, line)
            pending[(tid, call)] = c
        else:
            args = re.sub(r"\)\s+=\s+.*$", "", rest)
            c = _Call(call, args, re.search(r"\)\s+=\s+-1", rest) is None, n, n, line)
        calls.append(c)
    return calls


def _traced(text):
    """text as strace prints it inside a string argument (quotes escaped)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _tracer(pid, tid):
    try:
        with open(f"/proc/{pid}/task/{tid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


# ---- damaged files found at start ----------------------------------------------------


class DamagedFilesTest(StoreHostMixin, HostTestCase):
    def base_lines(self):
        return [record("o1", amount=1000, status="approved", provider="kakao"),
                record("o2", amount=2000, status="approved", provider="naver"),
                record("o3", amount=3000, status="pending", provider="kakao")]

    def assert_no_corruption_logged(self, h):
        log = h.stderr()
        self.assertNotIn("torn last line", log)
        self.assertNotRegex(log, r"line \d+ of .* skipped")
        self.assertRegex(log, r"\b0 corrupt lines\b")

    def test_store__torn_last_line__truncated_logged_earlier_records_kept(self):
        h = self.store_host(start=False)
        whole = lines_bytes(self.base_lines())
        torn = b'{"k":"o4","ts":1795000000000,"v":1,"amount":40'
        path = self.write_data(h, ORDERS, whole + torn)

        h.start()

        self.assertRegex(h.stderr(), r'\[warn\][^\n]*store "orders": torn last line '
                                     rf'\({len(torn)} bytes\) truncated from "[^"]*orders\.ndjson"')
        self.assertEqual(self.read_data(h, ORDERS), whole, "the torn tail is still in the file")
        for key, amount in (("o1", 1000), ("o2", 2000), ("o3", 3000)):
            self.assertEqual(self.get_record(h, ORDERS, key)["amount"], amount)
        self.assertEqual(h.get(f"/fx/store/{ORDERS}/o4").status, 404)
        self.assertEqual(self.counts(h, ORDERS), {"latest": 3, "all": 3})
        self.assertEqual(self.corrupt_metric(h, ORDERS), 0, "a torn tail is repaired, not corrupt")
        self.assertEqual(h.metric("mq_store_records", collection=ORDERS), 3)

        # The next append starts on a fresh line, and a restart finds nothing to repair.
        self.append(h, ORDERS, "o4", {"amount": 4000})
        blob = self.read_data(h, ORDERS)
        self.assertTrue(blob.startswith(whole) and blob.endswith(b"\n"))
        self.assertEqual(json.loads(blob[len(whole):])["amount"], 4000)
        self.restart(h)
        self.assert_no_corruption_logged(h)
        self.assertEqual(self.counts(h, ORDERS), {"latest": 4, "all": 4})
        self.assertEqual(self.get_record(h, ORDERS, "o4")["amount"], 4000)
        self.assertEqual(self.corrupt_metric(h, ORDERS), 0)
        self.assertEqual(os.stat(path).st_size, len(blob))

    def test_store__garbage_line_in_middle__kept_skipped_logged_with_line_counted(self):
        h = self.store_host(start=False)
        lines = self.base_lines()
        lines.insert(1, "this is not JSON at all }{")
        blob = lines_bytes(lines)
        self.write_data(h, ORDERS, blob)

        h.start()

        self.assertRegex(h.stderr(), r'\[warn\][^\n]*store "orders": line 2 of '
                                     r'"[^"]*/orders\.ndjson" is not a JSON object; skipped')
        self.assertEqual(self.read_data(h, ORDERS), blob, "the garbage line must stay in the file")
        self.assertEqual(self.counts(h, ORDERS), {"latest": 3, "all": 3})
        for key in ("o1", "o2", "o3"):
            self.get_record(h, ORDERS, key)
        self.assertEqual(self.corrupt_metric(h, ORDERS), 1)
        self.assertEqual(h.metric("mq_store_records", collection=ORDERS), 3)

        self.append(h, ORDERS, "o5", {"amount": 5000})
        self.assertTrue(self.read_data(h, ORDERS).startswith(blob))
        self.restart(h)
        log = h.stderr()
        self.assertEqual(re.findall(r"line (\d+) of [^\n]* skipped", log), ["2"],
                         "the restart found corruption other than the original garbage line")
        self.assertEqual(self.corrupt_metric(h, ORDERS), 1)
        self.assertEqual(self.counts(h, ORDERS), {"latest": 4, "all": 4})
        self.assertEqual(self.get_record(h, ORDERS, "o5")["amount"], 5000)

    def test_store__nul_bytes_line_in_middle__one_corrupt_line_rest_served(self):
        # What a filesystem can leave after a power cut: a block of zeros.
        h = self.store_host(start=False)
        lines = self.base_lines()
        blob = (lines_bytes(lines[:2]) + b"\0" * 4096 + b"\n" + lines_bytes(lines[2:]))
        self.write_data(h, ORDERS, blob)

        h.start()

        self.assertRegex(h.stderr(), r'store "orders": line 3 of "[^"]*" is not a JSON object')
        self.assertEqual(self.counts(h, ORDERS), {"latest": 3, "all": 3})
        self.assertEqual(self.corrupt_metric(h, ORDERS), 1)
        self.assertEqual(self.read_data(h, ORDERS), blob)

    def test_store__2mb_line_in_middle__skipped_counted_memory_bounded(self):
        big = record("big", amount=1, pad="x" * (2 << 20))
        lines = self.base_lines()
        with_big = lines_bytes(lines[:2] + [big] + lines[2:])

        # The same files without the big line, for the memory baseline.
        ref = self.store_host(start=False)
        self.write_data(ref, ORDERS, lines_bytes(lines))
        ref.start()
        ref_peak = ref.peak_rss_kb()

        h = self.store_host(start=False)
        self.write_data(h, ORDERS, with_big)
        h.start()
        peak = h.peak_rss_kb()

        self.assertRegex(h.stderr(), r'\[warn\][^\n]*store "orders": line 3 of '
                                     r'"[^"]*/orders\.ndjson" is longer than 1048576 bytes; '
                                     r'skipped')
        self.assertEqual(self.read_data(h, ORDERS), with_big, "the long line must stay in the file")
        self.assertEqual(h.get(f"/fx/store/{ORDERS}/big").status, 404)
        self.assertEqual(self.counts(h, ORDERS), {"latest": 3, "all": 3})
        for key in ("o1", "o2", "o3"):
            self.get_record(h, ORDERS, key)
        self.assertEqual(self.corrupt_metric(h, ORDERS), 1)
        # The loader streams past a long line: it never holds the 2 MB line
        # (let alone a parsed copy), so the peak grows by less than its size.
        self.assertLess(peak - ref_peak, 2048,
                        f"peak RSS {peak} kB with the 2 MB line vs {ref_peak} kB without")

        self.append(h, ORDERS, "o6", {"amount": 6000})
        self.restart(h)
        self.assertEqual(self.corrupt_metric(h, ORDERS), 1)
        self.assertEqual(re.findall(r"line (\d+) of [^\n]* skipped", h.stderr()), ["3"])
        self.assertEqual(self.counts(h, ORDERS), {"latest": 4, "all": 4})
        self.assertEqual(self.get_record(h, ORDERS, "o6")["amount"], 6000)

    def test_store__record_over_store_max_record_bytes__413_nothing_written(self):
        h = self.store_host(env={"STORE_MAX_RECORD_BYTES": "4096"})
        self.append(h, ORDERS, "small", {"amount": 1})
        before = self.read_data(h, ORDERS)

        r = self.append(h, ORDERS, "huge", {"pad": "x" * 8192}, status=413)

        self.assertEqual(r.json()["code"], "record_too_big")
        self.assertEqual(self.read_data(h, ORDERS), before)
        self.assertEqual(h.get(f"/fx/store/{ORDERS}/huge").status, 404)
        self.append(h, ORDERS, "next", {"amount": 2})
        self.restart(h)
        self.assertEqual(self.counts(h, ORDERS), {"latest": 2, "all": 2})
        self.assertEqual(self.corrupt_metric(h, ORDERS), 0)


# ---- a full disk ---------------------------------------------------------------------


class DiskFullTest(StoreHostMixin, HostTestCase):
    PAD = 40000  # bytes of padding per record: a few dozen fill the limit

    def fill_until_refused(self, h, coll, limit_bytes):
        """Append PAD-sized records until one is refused. Returns (acked
        {key: body}, the refused key, its response)."""
        acked = {}
        for i in range(2 * limit_bytes // self.PAD + 10):
            key = f"r{i:04d}"
            body = {"i": i, "amount": 100 + i, "pad": "y" * self.PAD}
            r = self.append(h, coll, key, body, status=None)
            if r.status != 201:
                return acked, key, r
            acked[key] = body
        self.fail(f"no append was refused after {len(acked)} records (limit {limit_bytes} B)")

    def assert_whole_lines(self, blob, n_records):
        self.assertTrue(blob.endswith(b"\n"), "a partial line was left at the end of the file")
        lines = blob.split(b"\n")[:-1]
        self.assertEqual(len(lines), n_records)
        for line in lines:
            json.loads(line)

    def check_disk_full(self, h, coll, limit_bytes, restart_kw):
        acked, refused_key, r = self.fill_until_refused(h, coll, limit_bytes)

        self.assertGreater(len(acked), 5, "the limit was hit before the store was used")
        self.assertEqual(r.status, 503, r.body)
        err = r.json()
        self.assertEqual(err.get("code"), "store_unavailable")
        self.assertTrue(err.get("message"))
        self.assertIn("json", r.headers.get("Content-Type", ""))
        blob = self.read_data(h, coll)
        self.assertLessEqual(len(blob), limit_bytes)
        self.assert_whole_lines(blob, len(acked))
        self.assertEqual(h.get(f"/fx/store/{coll}/{refused_key}").status, 404)
        self.assertEqual(self.counts(h, coll), {"latest": len(acked), "all": len(acked)})
        self.assertGreaterEqual(h.metric("http_5xx_total"), 1)
        self.assertRegex(h.stderr(), rf'append to "{coll}" failed: ')

        # Room for a small record is left: it goes right after the last whole line.
        self.assertGreater(limit_bytes - len(blob), 1000,
                           "test setup: no room left for a small record")
        self.append(h, coll, "small", {"amount": 7})
        acked["small"] = {"amount": 7}
        blob2 = self.read_data(h, coll)
        self.assertTrue(blob2.startswith(blob))
        self.assert_whole_lines(blob2, len(acked))

        h.stop()
        h.start(**restart_kw)
        self.assertNotIn("torn last line", h.stderr())
        self.assertEqual(self.corrupt_metric(h, coll), 0)
        self.assertEqual(self.counts(h, coll), {"latest": len(acked), "all": len(acked)})
        for key, body in acked.items():
            got = self.get_record(h, coll, key)
            self.assertEqual({f: got.get(f) for f in body}, body, key)
        self.assertEqual(h.get(f"/fx/store/{coll}/{refused_key}").status, 404)

    def test_store__file_size_limit_reached__503_store_unavailable_no_partial_line(self):
        limit = 1 << 20
        h = self.store_host(start=False)
        h.start(fsize_limit=limit)
        self.check_disk_full(h, ORDERS, limit, restart_kw={})

    def test_store__small_tmpfs_full__503_store_unavailable_no_partial_line(self):
        h = self.store_host(start=False)
        size = 1 << 20
        mnt = mount_small_tmpfs(self, os.path.join(h.dir, "small-disk"), size)
        # Only the store on the small disk: pid file and access log stay on the big one.
        h.data = mnt
        h.pid_file = os.path.join(h.dir, "mindquiz.pid")
        h.status_file = h.pid_file + ".reload.json"
        h.access_log = os.path.join(h.dir, "logs", "access.log")
        h.set_env(DATA_DIR=mnt, PID_FILE=h.pid_file, ACCESS_LOG=h.access_log)
        h.start()
        self.check_disk_full(h, ORDERS, size, restart_kw={})

    def test_store__data_dir_disk_full_then_space_freed__appends_work_again_no_restart(self):
        # The default layout: pid file and access log live in DATA_DIR too,
        # so they hit the full disk as well. Reads keep working; once the
        # operator frees space, appends work again without a restart.
        h = self.store_host(start=False)
        size = 4 << 20
        mount_small_tmpfs(self, h.data, size)
        h.start()
        self.append(h, ORDERS, "before", {"amount": 1})
        filler = os.path.join(h.data, "filler.bin")
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass  # ENOSPC: the disk is full

        r = self.append(h, ORDERS, "while-full", {"pad": "z" * 20000}, status=None)

        self.assertEqual(r.status, 503, r.body)
        self.assertEqual(r.json()["code"], "store_unavailable")
        self.assertEqual(self.get_record(h, ORDERS, "before")["amount"], 1)
        self.assertEqual(h.get("/api/health").status, 200)
        self.assertEqual(self.counts(h, ORDERS), {"latest": 1, "all": 1})

        os.unlink(filler)
        self.append(h, ORDERS, "after", {"amount": 3})

        self.assertEqual(self.counts(h, ORDERS), {"latest": 2, "all": 2})
        blob = self.read_data(h, ORDERS)
        self.assertEqual([json.loads(x)["k"] for x in blob.splitlines()], ["before", "after"])
        self.assertRegex(h.stderr(), r'append to "orders" works again after \d+ failed append')
        h.stop()
        h.start()
        self.assertEqual(self.counts(h, ORDERS), {"latest": 2, "all": 2})
        self.assertEqual(self.corrupt_metric(h, ORDERS), 0)


# ---- one host per data dir ---------------------------------------------------------------


class DataDirLockTest(StoreHostMixin, HostTestCase):
    def second_env(self, h, data_dir="data"):
        text = (h.env_text().replace(f":{h.port}", f":{free_port()}")
                + f"PID_FILE=second.pid\nDATA_DIR={data_dir}\n")
        return h.write_env(path=os.path.join(h.dir, "second.env"), text=text)

    def assert_refused_first_serves(self, h, other):
        blob = self.read_data(h, ORDERS)

        rc, err = h.start_expect_failure(env_path=other)

        self.assertNotEqual(rc, 0)
        lock = os.path.join(os.path.realpath(h.data), ".lock")
        self.assertTrue(lock in err or os.path.join(h.data, ".lock") in err,
                        f"stderr does not name the data dir lock {lock}:\n{err}")
        self.assertRegex(err, r"another mindquiz[^\n]*data dir")
        self.assertFalse(os.path.exists(os.path.join(h.dir, "second.pid")),
                         "the refused host left its pid file behind")
        h.assert_alive()
        self.assertEqual(self.read_data(h, ORDERS), blob, "the refused host touched the data")
        self.append(h, ORDERS, "o2", {"amount": 2})
        self.assertEqual(self.get_record(h, ORDERS, "o1")["amount"], 1)
        self.assertEqual(self.counts(h, ORDERS), {"latest": 2, "all": 2})
        with open(h.pid_file) as f:
            self.assertEqual(int(f.read()), h.pid)

    def test_store__second_host_same_data_dir__refused_names_lock_first_serves(self):
        h = self.store_host()
        self.append(h, ORDERS, "o1", {"amount": 1})
        self.assert_refused_first_serves(h, self.second_env(h))

    def test_store__second_host_data_dir_via_symlink__refused(self):
        h = self.store_host()
        self.append(h, ORDERS, "o1", {"amount": 1})
        os.symlink(h.data, os.path.join(h.dir, "data-link"))
        other = self.second_env(h, data_dir="data-link")

        rc, err = h.start_expect_failure(env_path=other)

        self.assertNotEqual(rc, 0)
        self.assertIn(".lock", err)
        self.assertRegex(err, r"another mindquiz[^\n]*data dir")
        h.assert_alive()
        self.append(h, ORDERS, "o2", {"amount": 2})
        self.assertEqual(self.counts(h, ORDERS), {"latest": 2, "all": 2})

    def test_store__first_host_stopped__second_starts_with_its_data(self):
        h = self.store_host()
        self.append(h, ORDERS, "o1", {"amount": 1})
        h.stop()
        h.start()
        self.assertEqual(self.get_record(h, ORDERS, "o1")["amount"], 1)
