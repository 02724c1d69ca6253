"""HTTP behaviour a user sees through the host: request access from a
plugin, body limits, and the JSON access log with secrets redacted."""
import os
import socket

from mqtest import HostTestCase

SECRET = "secret123"


class HttpTest(HostTestCase):
    def start_on_a(self, **env):
        h = self.host(env=env)
        h.publish("001-a", ["hello_v1.so"])
        h.set_current("001-a")
        h.start()
        return h

    def test_plugin_route__params_query_cookie_header__passed_through(self):
        h = self.start_on_a()
        body = h.get_json("/fx/item/42?q=hi%20there", headers={"Cookie": "x=1; c=yum", "X-Fx": "hdr"})
        self.assertEqual(body, {"id": "42", "q": "hi there", "cookie": "yum", "header": "hdr"})

    def test_post_echo__small_body__echoed(self):
        h = self.start_on_a(MAX_BODY_BYTES="1024")
        data = bytes(range(256)) * 4  # exactly 1024 bytes, every byte value
        r = h.request("POST", "/fx/echo", body=data,
                      headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, data)

    def test_post_body_over_max_body_bytes__413(self):
        h = self.start_on_a(MAX_BODY_BYTES="1024")
        r = h.request("POST", "/fx/echo", body=b"x" * 2000)
        self.assertEqual(r.status, 413)
        self.assertEqual(h.get("/api/health").status, 200)

    def test_access_log__one_line_per_request__id_matches_header(self):
        h = self.start_on_a()
        sent = {}
        for path, want in (("/api/health", 200), ("/fx/hello", 200), ("/nope/1", 404)):
            r = h.get(path)
            self.assertEqual(r.status, want)
            sent[r.headers["X-Request-Id"]] = (path, want)

        lines = h.wait(lambda: (ls := h.read_access_log())
                       and {x.get("id") for x in ls} >= set(sent) and ls,
                       5, "access log lines for every request")

        gen = h.version()["generation"]
        for line in lines:
            if line["id"] not in sent:
                continue
            path, status = sent[line["id"]]
            for key in ("ts", "id", "ip", "method", "path", "status", "bytes", "ms", "gen"):
                self.assertIn(key, line)
            self.assertEqual(line["path"].split("?")[0], path)
            self.assertEqual(line["status"], status)
            self.assertEqual(line["method"], "GET")
            self.assertEqual(line["ip"], "127.0.0.1")
            self.assertEqual(line["gen"], gen)
            self.assertGreater(line["bytes"], 0)

    def test_access_log__secret_query_values__redacted(self):
        h = self.start_on_a()
        keys = ("pass", "password", "token", "secret", "key", "pg_token", "sig")
        query = "&".join(f"{k}={SECRET}" for k in keys) + f"&keep=visible&pass={SECRET}x"
        r = h.get(f"/fx/item/7?{query}")
        self.assertEqual(r.status, 200)
        rid = r.headers["X-Request-Id"]
        r2 = h.get(f"/api/health?pass={SECRET}")
        rid2 = r2.headers["X-Request-Id"]

        lines = h.wait(lambda: (ls := h.read_access_log())
                       and {rid, rid2} <= {x.get("id") for x in ls} and ls,
                       5, "access log lines for both requests")

        line = next(x for x in lines if x["id"] == rid)
        self.assertIn("REDACTED", line["path"])
        self.assertIn("keep=visible", line["path"])
        self.assertEqual(line["path"].count("REDACTED"), len(keys) + 1, line["path"])
        with open(h.access_log, encoding="utf-8") as f:
            self.assertNotIn(SECRET, f.read())
        self.assertNotIn(SECRET, h.stderr())

    def test_access_log__custom_path_relative_to_env_dir__written_there(self):
        h = self.start_on_a(ACCESS_LOG="logs2/access.jsonl")
        rid = h.get("/api/health").headers["X-Request-Id"]
        h.access_log = os.path.join(h.dir, "logs2", "access.jsonl")
        h.wait(lambda: any(x.get("id") == rid for x in h.read_access_log()), 5,
               "the request's line in ACCESS_LOG")

    def test_access_log__non_utf8_request_target__line_is_valid_json(self):
        h = self.start_on_a()
        with socket.create_connection(("127.0.0.1", h.port), timeout=10) as s:
            s.sendall(b"GET /nope/\xff\xfe?q=\xc3\x28 HTTP/1.1\r\nHost: t\r\n"
                      b"Connection: close\r\n\r\n")
            while s.recv(4096):
                pass
        rid = h.get("/api/health").headers["X-Request-Id"]

        # read_access_log fails on a line that is not UTF-8 JSON.
        lines = h.wait(lambda: (ls := h.read_access_log())
                       and rid in {x.get("id") for x in ls} and ls, 5, "both lines logged")
        nope = [x for x in lines if x["path"].startswith("/nope/")]
        self.assertEqual(len(nope), 1)
        # Raw bytes outside printable ASCII are logged percent-encoded.
        self.assertEqual(nope[0]["path"], "/nope/%FF%FE?q=%C3(")

    def test_reload__max_body_bytes_raised__larger_body_accepted(self):
        h = self.start_on_a(MAX_BODY_BYTES="1024")
        self.assertEqual(h.request("POST", "/fx/echo", body=b"x" * 2000).status, 413)

        h.set_env(MAX_BODY_BYTES="4096")
        h.reload()

        r = h.request("POST", "/fx/echo", body=b"x" * 2000)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"x" * 2000)
