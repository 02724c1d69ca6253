"""Notices to the ops channel (SLACK_WEBHOOK_URL): a refused reload, the
payments kill switch changing state, a failed backup. Sent from the loop
without blocking it; the webhook URL (a secret) never reaches a log."""
import http.server
import json
import os
import socket
import threading

from mqtest import HostTestCase


class Receiver:
    def __init__(self):
        self.posts = []
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                rec.posts.append((self.path, self.headers.get("Content-Type"),
                                  json.loads(self.rfile.read(n))))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self):
        return f"http://127.0.0.1:{self.port}/services/T000/B000/s3cr3tW3bh00kPath"

    def texts(self):
        return [p[2]["text"] for p in self.posts]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class NoticesTest(HostTestCase):
    def setUp(self):
        super().setUp()
        self.rx = Receiver()
        self.addCleanup(self.rx.close)

    def start(self, **env):
        h = self.host(env={"SLACK_WEBHOOK_URL": self.rx.url(), **env})
        h.publish("001-a", ["hello_v1.so"])
        h.set_current("001-a")
        h.start()
        return h

    def assert_no_secret_logged(self, h):
        self.assertNotIn("s3cr3tW3bh00kPath", h.stderr())
        with open(h.access_log, "rb") as f:
            self.assertNotIn(b"s3cr3tW3bh00kPath", f.read())

    def test_reload_refused__notice_names_reason_and_serving_release(self):
        h = self.start()
        h.append_env_line("this is not valid")
        h.reload(expect_ok=False)
        h.wait(lambda: self.rx.posts, 10, "a notice")
        path, ctype, body = self.rx.posts[0]
        self.assertEqual(path, "/services/T000/B000/s3cr3tW3bh00kPath")
        self.assertTrue(ctype.startswith("application/json"))
        self.assertIn("reload refused (env)", body["text"])
        self.assertIn("001-a", body["text"])
        self.assertEqual(h.metric("mq_notices_total", result="ok"), 1)
        self.assert_no_secret_logged(h)

    def test_kill_switch__on_then_off__one_notice_each(self):
        h = self.start()
        h.set_env(PAYMENTS_ENABLED="0")
        h.reload()
        h.wait(lambda: len(self.rx.posts) >= 1, 10, "the ON notice")
        self.assertIn("킬스위치 ON", self.rx.texts()[0])
        h.reload()  # unchanged: no notice
        h.set_env(PAYMENTS_ENABLED="1")
        h.reload()
        h.wait(lambda: len(self.rx.posts) >= 2, 10, "the OFF notice")
        self.assertIn("킬스위치 OFF", self.rx.texts()[1])
        self.assertEqual(len(self.rx.posts), 2)

    def test_backup_failed__notice_sent(self):
        h = self.start(BACKUP_DIR="not-a-dir")
        with open(os.path.join(h.dir, "not-a-dir"), "w") as f:
            f.write("a file where the backups should go\n")
        r = h.cli("backup")
        self.assertNotEqual(r.returncode, 0)
        h.wait(lambda: any("backup failed" in t for t in self.rx.texts()), 10,
               "a backup-failed notice")
        self.assert_no_secret_logged(h)

    def test_webhook_down__reload_still_reported_and_counted_failed(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        h = self.start(SLACK_WEBHOOK_URL=f"http://127.0.0.1:{dead}/hook/s3cr3tW3bh00kPath")
        h.append_env_line("this is not valid")
        st = h.reload(expect_ok=False)
        self.assertEqual(st["reason"], "env")
        h.wait(lambda: h.metric("mq_notices_total", result="failed") == 1, 10,
               "the failed notice counted")
        self.assertEqual(h.get("/api/health").status, 200)
        self.assertIn("Slack notice failed", h.stderr())
        self.assert_no_secret_logged(h)
