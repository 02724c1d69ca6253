"""Backups and restore checks as an operator runs them (issue 3; the
runbook's `ops:daily` and `restore:check`):

  mindquiz backup --env E          the running host takes a consistent cut
  mindquiz restore-check --env E   restore, verify, replay; alert Slack on failure

A backup taken while a client keeps appending; rotation (BACKUP_KEEP) of
backups and of the access log; the metrics and the plugin-visible list;
a tampered backup failing restore-check and alerting a local webhook
receiver, without ever printing the webhook's URL.
"""
import hashlib
import http.client
import http.server
import json
import os
import re
import signal
import subprocess
import threading
import time

from mqtest import MINDQUIZ, SCALE, HostTestCase, mount_small_tmpfs, read_response, wait_until

WRITTEN_RE = re.compile(r"^backup (\S+) written to (\S+) \((\d+) files, (\d+) bytes\)(.*)$", re.M)


class WebhookReceiver:
    """A Slack incoming webhook stand-in on 127.0.0.1: records every
    request and answers `status` ("ok" body, as Slack does)."""

    def __init__(self, status=200):
        self.requests = []
        self.status = status
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with receiver._lock:
                    receiver.requests.append(("POST", self.path, dict(self.headers), body))
                self.send_response(receiver.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def do_GET(self):
                with receiver._lock:
                    receiver.requests.append(("GET", self.path, dict(self.headers), b""))
                self.send_response(405)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, secret):
        return f"http://127.0.0.1:{self.port}/services/T0MQ/B0MQ/{secret}"

    def received(self):
        with self._lock:
            return list(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class BackupMixin:
    def store_host(self, env=None, start=True):
        env = {"BACKUP_AT": "off", **(env or {})}
        h = self.host(env=env)
        h.publish("001-fx", ["store_fx.so"])
        h.set_current("001-fx")
        if start:
            h.start()
        return h

    def backup_root(self, h):
        return os.path.join(h.dir, "backups")

    def backup(self, h):
        """`mindquiz backup`; asserts success. Returns (name, path, the
        rest of the report line)."""
        r = h.cli("backup")
        self.assertEqual(r.returncode, 0, r.output)
        m = WRITTEN_RE.search(r.stdout.decode())
        self.assertTrue(m, f"no 'backup <name> written to <path>' line:\n{r.output}")
        name, path = m.group(1), m.group(2)
        self.assertEqual(os.path.realpath(os.path.dirname(path)),
                         os.path.realpath(self.backup_root(h)))
        self.assertEqual(os.path.basename(path), name)
        self.assertTrue(os.path.isfile(os.path.join(path, "MANIFEST.json")))
        return name, path, m.group(5)

    def manifest(self, path):
        with open(os.path.join(path, "MANIFEST.json"), encoding="utf-8") as f:
            return json.load(f)

    def manifest_file(self, manifest, coll):
        for f in manifest["files"]:
            if f["collection"] == coll:
                return f
        self.fail(f"no {coll} in the manifest: {manifest['files']}")

    def backup_names(self, h):
        root = self.backup_root(h)
        if not os.path.isdir(root):
            return []
        return sorted(n for n in os.listdir(root) if re.fullmatch(r"\d{8}-\d{6}(-\d+)?", n))

    def append(self, h, coll, key, body, status=201):
        r = h.post(f"/fx/store/{coll}/{key}", json.dumps(body),
                   headers={"Content-Type": "application/json"})
        if r.status != status:
            raise AssertionError(f"POST /fx/store/{coll}/{key}: {r.status} {r.body[:200]!r}")
        return r

    def seed(self, h, n_orders=30, n_events=10):
        for i in range(n_orders):
            provider = ("kakao", "naver")[i % 2]
            status = ("approved", "pending", "approved")[i % 3]
            self.append(h, "orders", f"seed-{i:03d}",
                        {"status": status, "provider": provider, "amount": 1000 + 10 * i})
        for i in range(n_events):
            self.append(h, "events", "_", {"type": "quiz.finished", "n": i})

    def restore_into_new_host(self, backup_path):
        """Start a fresh host whose data dir holds the backup's files, as an
        operator restoring it would. Returns the running host."""
        r = self.store_host(start=False)
        for name in os.listdir(backup_path):
            if name.endswith(".ndjson"):
                dst = os.path.join(r.data, name)
                with open(os.path.join(backup_path, name), "rb") as src, open(dst, "wb") as out:
                    out.write(src.read())
                os.chmod(dst, 0o600)
        return r.start()


def revenue_of(lines):
    """The manifest's revenue rule over NDJSON lines: latest record per key
    of orders with status "approved", summed by provider."""
    latest = {}
    for line in lines:
        rec = json.loads(line)
        if rec.get("k"):
            latest[rec["k"]] = rec
    out = {}
    for rec in latest.values():
        if rec.get("status") == "approved":
            out[rec["provider"]] = out.get(rec["provider"], 0) + rec["amount"]
    return out


# ---- a backup taken while serving -----------------------------------------------------


class BackupDuringWritesTest(BackupMixin, HostTestCase):
    def test_backup__during_appends__consistent_cut_restores_with_matching_counts(self):
        h = self.store_host()
        self.seed(h)
        ok_before = h.metric("mq_backups_total", result="ok")
        failed_before = h.metric("mq_backups_total", result="failed")

        acked = []  # keys in the order their 201 arrived
        lock = threading.Lock()
        stop = threading.Event()
        errors = []

        def writer():
            conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10 * SCALE)
            i = 0
            try:
                while not stop.is_set():
                    key = f"live-{i:06d}"
                    body = {"status": "approved", "provider": ("kakao", "naver")[i % 2],
                            "amount": 500 + i}
                    conn.request("POST", f"/fx/store/orders/{key}", body=json.dumps(body),
                                 headers={"Content-Type": "application/json"})
                    r = read_response(conn)
                    if r.status != 201:
                        errors.append((key, r.status, r.body[:200]))
                        return
                    with lock:
                        acked.append(key)
                    i += 1
            except (OSError, http.client.HTTPException) as e:
                errors.append(("connection", repr(e)))
            finally:
                conn.close()

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        try:
            h.wait(lambda: len(acked) >= 50, 30, "50 appends from the writer")
            with lock:
                acked_before = list(acked)
            before = h.get_json("/fx/store/orders")
            t0 = time.time()

            name, path, how = self.backup(h)

            t1 = time.time()
            after = h.get_json("/fx/store/orders")
            h.wait(lambda: len(acked) >= len(acked_before) + 50 or errors, 30,
                   "the writer to go on appending after the backup")
        finally:
            stop.set()
            t.join(30 * SCALE)
        self.assertEqual(errors, [], "the writer was disturbed by the backup")
        self.assertIn(f"by the running host (pid {h.pid})", how)

        man = self.manifest(path)
        self.assertEqual(man["name"], name)
        orders = self.manifest_file(man, "orders")
        events = self.manifest_file(man, "events")
        # Everything counted before the command is in; nothing after it.
        self.assertLessEqual(before["all"], orders["records"])
        self.assertLessEqual(orders["records"], after["all"])
        self.assertLessEqual(before["latest"], orders["keys"])
        self.assertLessEqual(orders["keys"], after["latest"])
        self.assertEqual(events["records"], 10)
        self.assertEqual(events["keys"], 0)
        self.assertLessEqual(t0 - 2, man["created_unix"])
        self.assertLessEqual(man["created_unix"], t1 + 2)

        # The copy is a whole-line prefix of the live file, as the manifest says.
        with open(os.path.join(path, "orders.ndjson"), "rb") as f:
            copy = f.read()
        with open(os.path.join(h.data, "orders.ndjson"), "rb") as f:
            live = f.read()
        self.assertEqual(len(copy), orders["bytes"])
        self.assertEqual(hashlib.sha256(copy).hexdigest(), orders["sha256"])
        self.assertTrue(live.startswith(copy), "the backup is not a prefix of the live file")
        self.assertTrue(copy.endswith(b"\n"), "the backup ends inside a record")
        lines = copy.split(b"\n")[:-1]
        self.assertEqual(len(lines), orders["records"])
        keys = {json.loads(line)["k"] for line in lines}
        lost = [k for k in acked_before if k not in keys]
        self.assertEqual(lost, [], "records acknowledged before `mindquiz backup` are not in it")
        self.assertEqual(man["revenue_krw"], {"kakao": 0, "naver": 0, **revenue_of(lines)})

        r = h.cli("restore-check", name)
        self.assertEqual(r.returncode, 0, r.output)
        self.assertIn("result   OK", r.stdout.decode())
        self.assertRegex(r.stdout.decode(), rf"orders\.ndjson\s+{orders['records']} records")

        # Restored for real, a host serves exactly the manifest's counts.
        restored = self.restore_into_new_host(path)
        self.assertEqual(restored.get_json("/fx/store/orders"),
                         {"latest": orders["keys"], "all": orders["records"]})
        self.assertEqual(restored.get_json("/fx/store/events"), {"latest": 0, "all": 10})
        self.assertEqual(restored.get_json(f"/fx/store/orders/{acked_before[-1]}")["k"],
                         acked_before[-1])

        # What the operator's dashboards and the admin list show.
        m = h.metrics()
        ts = m[("mq_last_backup_timestamp", frozenset())]
        self.assertGreater(ts, 0)
        self.assertLess(abs(time.time() - ts), 120)
        self.assertEqual(m[("mq_backups_total", frozenset({"result": "ok"}.items()))],
                         ok_before + 1)
        self.assertEqual(m[("mq_backups_total", frozenset({"result": "failed"}.items()))],
                         failed_before)
        listed = h.get_json("/fx/backups")
        self.assertEqual([b["name"] for b in listed], [name])
        self.assertEqual(listed[0]["created_unix"], man["created_unix"])
        self.assertGreater(listed[0]["bytes"], orders["bytes"])
        self.assertEqual(listed[0]["check"], "ok", listed[0])

    def test_backup__two_operators_at_once__both_get_a_backup_taken_after_they_asked(self):
        h = self.store_host()
        self.seed(h, 20, 5)
        clis = [subprocess.Popen([MINDQUIZ, "backup", "--env", h.env_path], cwd=h.dir,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for _ in range(2)]
        outs = [c.communicate(timeout=120 * SCALE) for c in clis]

        for c, (out, err) in zip(clis, outs):
            self.assertEqual(c.returncode, 0, (out + err).decode())
            m = WRITTEN_RE.search(out.decode())
            self.assertTrue(m, out)
            self.assertTrue(os.path.isfile(os.path.join(m.group(2), "MANIFEST.json")))
        self.assertGreaterEqual(h.metric("mq_backups_total", result="ok"), 1)
        self.assertEqual(h.metric("mq_backups_total", result="failed"), 0)
        self.assertEqual(h.cli("restore-check").returncode, 0)

    def test_backup__fresh_host__last_backup_timestamp_zero_then_now(self):
        h = self.store_host()
        self.assertEqual(h.metric("mq_last_backup_timestamp"), 0)
        self.assertEqual(h.get_json("/fx/backups"), [])
        self.seed(h, 3, 0)

        name, path, _ = self.backup(h)

        ts = h.metric("mq_last_backup_timestamp")
        self.assertEqual(ts, self.manifest(path)["created_unix"])
        self.assertEqual(h.get_json("/fx/backups")[0]["check"], "unchecked")
        # A restart starts the metric from the newest backup, not from 0.
        h.stop()
        h.start()
        self.assertEqual(h.metric("mq_last_backup_timestamp"), ts)

    def test_backup__no_host_running__taken_in_process_and_restores(self):
        h = self.store_host()
        self.seed(h, 5, 2)
        h.stop()

        name, path, how = self.backup(h)

        self.assertNotIn("running host", how)
        man = self.manifest(path)
        self.assertEqual(self.manifest_file(man, "orders")["records"], 5)
        r = h.cli("restore-check")
        self.assertEqual(r.returncode, 0, r.output)
        self.assertIn(name, r.stdout.decode())


# ---- damaged data, leftovers, the schedule ---------------------------------------------------


class BackupOfDamagedDataTest(BackupMixin, HostTestCase):
    """The store skips a line longer than STORE_MAX_RECORD_BYTES (default
    1 MiB) and serves the rest; backups of that data dir must still work
    and count what the store serves."""

    def big_line_host(self, coll):
        h = self.store_host(start=False)
        lines = [{"k": "o1", "ts": 1, "v": 1, "status": "approved", "provider": "kakao",
                  "amount": 1000},
                 {"k": "big", "ts": 1, "v": 1, "note": "x" * (2 << 20)},
                 {"k": "o3", "ts": 1, "v": 1, "status": "approved", "provider": "naver",
                  "amount": 7}]
        with open(os.path.join(h.data, f"{coll}.ndjson"), "w", encoding="utf-8") as f:
            f.write("".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines))
        h.start()
        self.assertRegex(h.stderr(), r"line 2 of [^\n]* is longer than 1048576 bytes; skipped")
        self.assertEqual(h.get_json(f"/fx/store/{coll}"), {"latest": 2, "all": 2})
        return h

    def test_backup__orders_hold_a_2mb_line__backup_taken_and_restore_checks(self):
        h = self.big_line_host("orders")

        r = h.cli("backup")

        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(h.metric("mq_backups_total", result="failed"), 0)
        r = h.cli("restore-check")
        self.assertEqual(r.returncode, 0, r.output)

    def test_backup__events_hold_a_2mb_line__manifest_counts_what_the_host_serves(self):
        h = self.big_line_host("events")

        _, path, _ = self.backup(h)

        entry = self.manifest_file(self.manifest(path), "events")
        self.assertEqual((entry["records"], entry["keys"]), (2, 2),
                         "the manifest counts a line the store skips")
        restored = self.restore_into_new_host(path)
        self.assertEqual(restored.get_json("/fx/store/events"),
                         {"latest": entry["keys"], "all": entry["records"]})


class BackupLeftoversTest(BackupMixin, HostTestCase):
    def test_backup__stale_half_written_tmp_dir__never_listed_removed_by_next_backup(self):
        h = self.store_host(start=False)
        stale = os.path.join(self.backup_root(h), ".tmp-20260101-041000-AbC123")
        os.makedirs(stale)
        with open(os.path.join(stale, "orders.ndjson"), "w", encoding="utf-8") as f:
            f.write('{"k":"half","ts":1,"v":1,"amo')
        two_days_ago = time.time() - 2 * 86400
        os.utime(stale, (two_days_ago, two_days_ago))
        h.start()
        self.assertEqual(h.get_json("/fx/backups"), [])
        r = h.cli("restore-check")
        self.assertEqual(r.returncode, 1, r.output)
        self.assertIn("no backup", r.stderr.decode())

        self.append(h, "orders", "o1", {"amount": 1})
        name, _, _ = self.backup(h)

        self.assertFalse(os.path.exists(stale), "the leftover of a crashed backup is still there")
        self.assertEqual([b["name"] for b in h.get_json("/fx/backups")], [name])
        self.assertEqual(h.cli("restore-check").returncode, 0)


class BackupDiskFullTest(BackupMixin, HostTestCase):
    def test_backup__backup_dir_disk_full__fails_cleanly_counted_nothing_listed(self):
        h = self.store_host(start=False)
        root = mount_small_tmpfs(self, self.backup_root(h), 256 << 10)
        h.start()
        for i in range(40):  # ~400 KB of orders: more than the backup disk holds
            self.append(h, "orders", f"o{i}", {"status": "approved", "provider": "kakao",
                                                "amount": 1, "pad": "p" * 10000})
        ts_before = h.metric("mq_last_backup_timestamp")

        r = h.cli("backup")

        self.assertEqual(r.returncode, 1, r.output)
        self.assertRegex(r.stderr.decode(), r"(?i)backup failed: .*(No space left|ENOSPC)")
        self.assertEqual(h.metric("mq_backups_total", result="failed"), 1)
        self.assertEqual(h.metric("mq_backups_total", result="ok"), 0)
        self.assertEqual(h.metric("mq_last_backup_timestamp"), ts_before)
        self.assertEqual(h.get_json("/fx/backups"), [])
        self.assertEqual(os.listdir(root), [], "the failed backup left files behind")
        # The host serves on.
        self.append(h, "orders", "after", {"amount": 1})
        self.assertEqual(h.get_json("/fx/store/orders"), {"latest": 41, "all": 41})


class ScheduledBackupTest(BackupMixin, HostTestCase):
    def test_backup__backup_at_next_minute__taken_by_the_host_itself(self):
        # BACKUP_AT is local HH:MM; the next minute starts within 60 s.
        nxt = time.localtime(time.time() + 60)
        at = f"{nxt.tm_hour:02d}:{nxt.tm_min:02d}"
        h = self.store_host(env={"BACKUP_AT": at})
        self.append(h, "orders", "o1", {"status": "approved", "provider": "kakao", "amount": 5})

        h.wait(lambda: self.backup_names(h), 75, f"the daily backup at {at}")

        self.assertRegex(h.stderr(), r"backup started \(daily schedule\)")
        h.wait(lambda: h.metric("mq_backups_total", result="ok") == 1, 30,
               "mq_backups_total{result=\"ok\"} == 1")
        name = self.backup_names(h)[0]
        man = self.manifest(os.path.join(self.backup_root(h), name))
        self.assertEqual(self.manifest_file(man, "orders")["records"], 1)
        self.assertEqual(man["revenue_krw"]["kakao"], 5)
        self.assertEqual(h.metric("mq_last_backup_timestamp"), man["created_unix"])
        self.assertEqual(h.cli("restore-check").returncode, 0)


# ---- rotation -------------------------------------------------------------------------


class RotationTest(BackupMixin, HostTestCase):
    def test_backup__keep_2_three_backups__two_newest_remain(self):
        h = self.store_host(env={"BACKUP_KEEP": "2"})
        self.seed(h, 3, 0)
        names = []
        for i in range(3):
            self.append(h, "orders", f"round-{i}", {"status": "approved", "provider": "kakao",
                                                     "amount": 1})
            names.append(self.backup(h)[0])

        self.assertEqual(len(set(names)), 3, f"two backups got one name: {names}")
        self.assertEqual(self.backup_names(h), sorted(names[1:]))
        self.assertEqual([b["name"] for b in h.get_json("/fx/backups")], names[:0:-1],
                         "the list is not the two newest, newest first")
        rotated = [n for n in os.listdir(os.path.dirname(h.access_log))
                   if n.startswith("access.log.")]
        self.assertLessEqual(len(rotated), 2, rotated)
        r = h.cli("restore-check")
        self.assertEqual(r.returncode, 0, r.output)
        self.assertIn(names[2], r.stdout.decode())

    def test_backup__access_log__rotated_beside_it_new_requests_in_new_file(self):
        h = self.store_host()
        self.append(h, "orders", "before-backup", {"amount": 1})
        logs = os.path.dirname(h.access_log)

        self.backup(h)

        rotated = [n for n in os.listdir(logs) if n.startswith("access.log.")]
        self.assertEqual(len(rotated), 1, os.listdir(logs))
        self.assertRegex(rotated[0], r"^access\.log\.\d{8}-\d{6}")
        with open(os.path.join(logs, rotated[0]), encoding="utf-8") as f:
            old = [json.loads(line) for line in f if line.strip()]
        self.assertTrue(any("before-backup" in json.dumps(e) for e in old),
                        "the request before the backup is not in the rotated log")
        h.get("/fx/store/orders/after-backup")
        h.wait(lambda: any("after-backup" in json.dumps(e) for e in h.read_access_log()), 10,
               "the request after the backup in the new access.log")
        self.assertEqual(os.stat(h.access_log).st_mode & 0o777, 0o600)

    def test_backup__backups_within_one_second__no_access_log_line_lost(self):
        # Backup names get a -N suffix when two fall in one second; the
        # rotated access logs must not overwrite each other either.
        h = self.store_host()
        markers, names = [], []
        for i in range(20):
            marker = f"marker-{i:02d}"
            markers.append(marker)
            h.get(f"/fx/store/orders/{marker}")
            names.append(self.backup(h)[0])
            if re.fullmatch(r"\d{8}-\d{6}-\d+", names[-1]):
                break
        if not re.fullmatch(r"\d{8}-\d{6}-\d+", names[-1]):
            self.skipTest(f"no two backups fell within one second: {names}")
        logs = os.path.dirname(h.access_log)

        def logged():
            text = ""
            for n in os.listdir(logs):
                if n.startswith("access.log"):
                    with open(os.path.join(logs, n), encoding="utf-8", errors="replace") as f:
                        text += f.read()
            return text

        lost = [m for m in markers if m not in logged()]
        self.assertEqual(lost, [], f"access log lines lost across rotations (backups {names}, "
                                   f"files {sorted(os.listdir(logs))})")


# ---- restore-check failures and the Slack alert ----------------------------------------------


class TamperedBackupTest(BackupMixin, HostTestCase):
    SECRET = "xoxb-SECRET-hook-7f3a9c"

    def receiver(self, status=200):
        rcv = WebhookReceiver(status)
        self.addCleanup(rcv.close)
        return rcv

    def assert_url_not_shown(self, rcv, *texts):
        for text in texts:
            self.assertNotIn(self.SECRET, text)
            self.assertNotIn(f"127.0.0.1:{rcv.port}", text)
            self.assertNotIn("/services/T0MQ", text)

    def flip_byte_in_amount(self, path):
        """Change one digit of an amount in a backup file (still valid JSON,
        still the same record count: only the checksum can tell)."""
        with open(path, "rb") as f:
            blob = bytearray(f.read())
        i = blob.index(b'"amount":') + len(b'"amount":')
        blob[i] ^= 0x01  # '1' <-> '0', '2' <-> '3', ...
        with open(path, "wb") as f:
            f.write(blob)

    def test_restore_check__tampered_byte__exit_1_names_file_one_webhook_alert(self):
        rcv = self.receiver()
        h = self.store_host(env={"SLACK_WEBHOOK_URL": rcv.url(self.SECRET)})
        self.seed(h, 10, 3)
        name, path, _ = self.backup(h)
        self.flip_byte_in_amount(os.path.join(path, "orders.ndjson"))

        r = h.cli("restore-check", name)

        self.assertEqual(r.returncode, 1, r.output)
        self.assertIn("orders.ndjson", r.stderr.decode())
        self.assertRegex(r.stderr.decode(), rf'restore-check "{name}" failed: .*sha256')
        self.assertIn("FAILED", r.stdout.decode())
        got = rcv.received()
        self.assertEqual(len(got), 1, f"webhook requests: {got}")
        method, hook_path, headers, body = got[0]
        self.assertEqual(method, "POST")
        self.assertEqual(hook_path, f"/services/T0MQ/B0MQ/{self.SECRET}")
        self.assertIn("application/json", headers.get("Content-Type", ""))
        text = json.loads(body)["text"]
        self.assertRegex(text, r"(?i)restore-check.*fail")
        self.assertIn(name, text)
        self.assertIn("orders.ndjson", text)
        self.assert_url_not_shown(rcv, r.output, h.stderr())
        with open(os.path.join(path, "CHECK.json"), encoding="utf-8") as f:
            check = f.read()
        self.assert_url_not_shown(rcv, check)
        self.assertIs(json.loads(check)["ok"], False)
        listed = {b["name"]: b for b in h.get_json("/fx/backups")}
        self.assertEqual(listed[name]["check"], "failed")
        self.assertIn("orders.ndjson", listed[name]["check_message"])

    def test_restore_check__intact_backup__exit_0_no_webhook_call(self):
        rcv = self.receiver()
        h = self.store_host(env={"SLACK_WEBHOOK_URL": rcv.url(self.SECRET)})
        self.seed(h, 5, 1)
        name, _, _ = self.backup(h)

        r = h.cli("restore-check", name)

        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(rcv.received(), [])
        self.assert_url_not_shown(rcv, r.output)

    def test_restore_check__record_removed_and_manifest_resigned__counts_mismatch(self):
        # An edit that keeps the manifest's sha256 right (someone "fixed" the
        # checksum) is still caught by replaying and counting.
        rcv = self.receiver()
        h = self.store_host(env={"SLACK_WEBHOOK_URL": rcv.url(self.SECRET)})
        self.seed(h, 6, 0)
        name, path, _ = self.backup(h)
        f = os.path.join(path, "orders.ndjson")
        with open(f, "rb") as fh:
            blob = fh.read()
        blob = b"".join(blob.splitlines(keepends=True)[1:])
        with open(f, "wb") as fh:
            fh.write(blob)
        man = self.manifest(path)
        entry = self.manifest_file(man, "orders")
        entry["bytes"] = len(blob)
        entry["sha256"] = hashlib.sha256(blob).hexdigest()
        with open(os.path.join(path, "MANIFEST.json"), "w", encoding="utf-8") as fh:
            json.dump(man, fh)

        r = h.cli("restore-check", name)

        self.assertEqual(r.returncode, 1, r.output)
        self.assertRegex(r.stderr.decode(), r"orders\.ndjson.*records restored, manifest says")
        self.assertEqual(len(rcv.received()), 1)

    def test_restore_check__webhook_answers_500__exit_1_error_printed_without_url(self):
        rcv = self.receiver(status=500)
        h = self.store_host(env={"SLACK_WEBHOOK_URL": rcv.url(self.SECRET)})
        self.seed(h, 3, 0)
        name, path, _ = self.backup(h)
        self.flip_byte_in_amount(os.path.join(path, "orders.ndjson"))

        r = h.cli("restore-check", name)

        self.assertEqual(r.returncode, 1, r.output)
        self.assertEqual(len(rcv.received()), 1)
        self.assertRegex(r.stderr.decode(), r"alert to Slack failed: HTTP 500")
        self.assert_url_not_shown(rcv, r.output)

    def test_restore_check__no_backup_at_all__exit_1_and_alert(self):
        rcv = self.receiver()
        h = self.store_host(env={"SLACK_WEBHOOK_URL": rcv.url(self.SECRET)})

        r = h.cli("restore-check")

        self.assertEqual(r.returncode, 1, r.output)
        self.assertRegex(r.stderr.decode(), r"no backup")
        self.assertEqual(len(rcv.received()), 1)
        self.assert_url_not_shown(rcv, r.output)


# ---- signals at awkward moments --------------------------------------------------------------


def _sig_bit(mask_hex, sig):
    return (int(mask_hex, 16) >> (sig - 1)) & 1


def _proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


class BackupSignalTest(BackupMixin, HostTestCase):
    def test_backup__requested_while_host_starts__host_survives_and_backup_taken(self):
        # An operator's cron (or a deploy script) runs `mindquiz backup` just
        # as the host restarts: the pid file already names the new host, but
        # it is still replaying its store. SIGUSR1 must not kill it.
        h = self.store_host(start=False)
        rec = ('{"k":"%07d","ts":1795000000000,"v":1,"status":"approved",'
               '"provider":"kakao","amount":1}\n')
        with open(os.path.join(h.data, "orders.ndjson"), "w", encoding="utf-8") as f:
            f.write("".join(rec % i for i in range(300000)))
        h.start(wait_healthy=False)

        def pid_written():
            try:
                with open(h.pid_file) as f:
                    return f.read().strip() == str(h.pid)
            except OSError:
                return False

        h.wait(pid_written, 20, "the starting host's pid in its pid file")
        os.kill(h.pid, signal.SIGSTOP)
        if "listening on" in h.stderr():
            os.kill(h.pid, signal.SIGCONT)
            self.skipTest("the host finished starting before the test could stop it")

        cli = subprocess.Popen([MINDQUIZ, "backup", "--env", h.env_path, "--timeout", "60"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=h.dir)
        try:
            wait_until(lambda: _sig_bit(_proc_status(h.pid)["SigPnd"], signal.SIGUSR1)
                       or _sig_bit(_proc_status(h.pid)["ShdPnd"], signal.SIGUSR1), 20,
                       "SIGUSR1 from `mindquiz backup` pending at the stopped host")
        finally:
            os.kill(h.pid, signal.SIGCONT)
        # Reap the host if it dies, as its supervisor would: the CLI can tell
        # a dead host from a live one, but not from an unreaped zombie.
        wait_until(lambda: (h.proc.poll(), cli.poll() is not None)[1], 90,
                   "`mindquiz backup` to finish")
        out, err = cli.communicate()
        output = (out + err).decode("utf-8", "replace")

        if not h.alive():
            h.expect_exit(1)
            self.fail(f"the host died with exit {h.proc.returncode} when `mindquiz backup` "
                      f"signalled it during start-up; the CLI said:\n{output}\n"
                      f"{h.stderr_tail(10)}")
        h.wait_started(30)
        self.assertEqual(cli.returncode, 0, output)
        self.assertRegex(output, r"backup \S+ written to")
