"""Outbound HTTP on the event loop (libcurl multi) and the crypto calls,
through the http_fx fixture plugin and a local upstream server."""
import http.server
import json
import socket
import threading
import time
import urllib.parse

from mqtest import Background, HostTestCase


class Upstream:
    """A threaded HTTP server on loopback that records what it received."""

    def __init__(self):
        self.seen = []
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, body, ctype="text/plain"):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                upstream.seen.append(("GET", u.path, dict(self.headers), b""))
                if u.path == "/slow":
                    time.sleep(int(q.get("ms", "1000")) / 1000)
                if u.path == "/big":
                    return self._reply(200, b"x" * (2 << 20))
                if u.path == "/teapot":
                    return self._reply(418, b"short and stout")
                self._reply(200, b"hello from upstream")

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                upstream.seen.append(("POST", self.path, dict(self.headers), body))
                self._reply(201, b"got:" + body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # Aborted transfers (drain deadline, timeouts) break the pipe: expected.
        self.server.handle_error = lambda request, address: None
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HttpClientTest(HostTestCase):
    def setUp(self):
        super().setUp()
        self.up = Upstream()
        self.addCleanup(self.up.close)

    def start(self, **env):
        h = self.host(env=env or None)
        h.publish("001-a", ["http_fx.so", "hello_v1.so"])
        h.publish("002-b", ["http_fx.so", "hello_v2.so"])
        h.set_current("001-a")
        h.start()
        return h

    def fetch(self, h, url, **params):
        q = urllib.parse.urlencode({"url": url, **params})
        return h.get_json(f"/fx/fetch?{q}")

    def test_fetch__upstream_200__status_and_body_returned(self):
        h = self.start()
        r = self.fetch(h, self.up.url("/ok"))
        self.assertEqual((r["status"], r["error"], r["body"]), (200, "", "hello from upstream"))
        r = self.fetch(h, self.up.url("/teapot"))
        self.assertEqual((r["status"], r["body"]), (418, "short and stout"))

    def test_fetch__post_body_and_headers__reach_upstream(self):
        h = self.start()
        r = self.fetch(h, self.up.url("/pay"), method="POST", body='{"amount":3900}')
        self.assertEqual((r["status"], r["body"]), (201, 'got:{"amount":3900}'))
        method, path, headers, body = self.up.seen[-1]
        self.assertEqual((method, path, body), ("POST", "/pay", b'{"amount":3900}'))
        self.assertEqual(headers.get("X-Fx"), "http_fx")
        self.assertNotIn("Expect", headers)

    def test_fetch__upstream_too_slow__timed_out_after_sending(self):
        h = self.start()
        r = self.fetch(h, self.up.url("/slow?ms=3000"), timeout_ms=300)
        self.assertEqual(r["error"], "timed out")
        self.assertEqual(r["sent"], 1, "the request went out: the outcome is unknown")

    def test_fetch__nothing_listening__io_error_not_sent(self):
        h = self.start()
        r = self.fetch(h, f"http://127.0.0.1:{free_port()}/x")
        self.assertEqual((r["status"], r["error"], r["sent"]), (0, "input/output error", 0))

    def test_fetch__oversized_body__refused(self):
        h = self.start()
        r = self.fetch(h, self.up.url("/big"))
        self.assertEqual(r["error"], "too large")

    def test_fetch__non_http_scheme__400(self):
        h = self.start()
        q = urllib.parse.urlencode({"url": "file:///etc/passwd"})
        self.assertEqual(h.get(f"/fx/fetch?{q}").status, 400)

    def test_many_slow_fetches__concurrent_and_loop_stays_responsive(self):
        h = self.start()
        t0 = time.monotonic()
        bgs = [Background(lambda: self.fetch(h, self.up.url("/slow?ms=800")))
               for _ in range(20)]
        # While 20 upstream calls wait, the loop answers at once.
        h.wait(lambda: h.inflight() >= 20, 10, "20 fetches in flight")
        t1 = time.monotonic()
        self.assertEqual(h.get("/api/health").status, 200)
        health_s = time.monotonic() - t1
        for bg in bgs:
            self.assertEqual(bg.result(30)["status"], 200)
        wall = time.monotonic() - t0
        # Serially this would take 16 s; concurrently about one upstream delay.
        self.assertLess(wall, 8.0, f"20 x 0.8 s fetches took {wall:.1f} s")
        self.assertLess(health_s, 0.5, f"/api/health took {health_s:.3f} s meanwhile")

    def test_reload_while_fetch_waits__old_generation_answers_then_unmapped(self):
        h = self.start()
        base = h.inflight()
        bg = Background(lambda: self.fetch(h, self.up.url("/slow?ms=1500")))
        h.wait(lambda: h.inflight() > base, 10, "the fetch in flight")
        old = h.version()["generation"]
        h.switch("002-b")
        self.assertEqual(h.hello(), "2.0.0")
        self.assertEqual(bg.result(30)["status"], 200)
        new = h.version()["generation"]
        h.wait(lambda: old not in h.mapped_generations(), 10, "old generation unmapped")
        self.assertIn(new, h.mapped_generations())

    def test_client_leaves_while_fetch_waits__work_finishes_host_alive(self):
        h = self.start()
        with socket.create_connection(("127.0.0.1", h.port), timeout=10) as s:
            q = urllib.parse.urlencode({"url": self.up.url("/slow?ms=700")})
            s.sendall(f"GET /fx/fetch?{q} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            h.wait(lambda: any(p == "/slow" for _, p, _, _ in self.up.seen), 10,
                   "the upstream call started")
        # The upstream call still completes; the answer has nowhere to go.
        h.wait(lambda: any(x.get("status") == 499 and x["path"].startswith("/fx/fetch")
                           for x in h.read_access_log()), 10, "a 499 line for the fetch")
        self.assertEqual(h.get("/api/health").status, 200)

    def test_drain_deadline__waiting_fetch_aborted_with_503(self):
        h = self.start(DRAIN_TIMEOUT_MS="300")
        base = h.inflight()
        bg = Background(lambda: h.get(f"/fx/fetch?{urllib.parse.urlencode({'url': self.up.url('/slow?ms=4000')})}",
                                      timeout=30))
        h.wait(lambda: h.inflight() > base, 10, "the fetch in flight")
        old = h.version()["generation"]
        h.switch("002-b")
        r = bg.result(30)
        self.assertEqual(r.status, 503)
        self.assertEqual(r.json()["code"], "drain_timeout")
        h.wait(lambda: old not in h.mapped_generations(), 10, "old generation unmapped")

    def test_hmac__rfc_style_vector__matches(self):
        h = self.start()
        q = urllib.parse.urlencode({"key": "key",
                                    "data": "The quick brown fox jumps over the lazy dog"})
        self.assertEqual(h.get_json(f"/fx/hmac?{q}")["hex"],
                         "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")

    def test_secure_equal__same_and_different_and_prefix(self):
        h = self.start()
        self.assertEqual(h.get_json("/fx/equal?a=s3cret&b=s3cret")["equal"], 1)
        self.assertEqual(h.get_json("/fx/equal?a=s3cret&b=s3creT")["equal"], 0)
        self.assertEqual(h.get_json("/fx/equal?a=s3cret&b=s3cre")["equal"], 0)
        self.assertEqual(h.get_json("/fx/equal?a=s3cret")["equal"], 0)


class ClientIpAndRateLimitTest(HostTestCase):
    def start(self, **env):
        h = self.host(env=env or None)
        h.publish("001-a", ["http_fx.so", "hello_v1.so"])
        h.publish("002-b", ["http_fx.so", "hello_v2.so"])
        h.set_current("001-a")
        h.start()
        return h

    def ip(self, h, xff=None):
        return h.get_json("/fx/ip", headers={"X-Forwarded-For": xff} if xff else None)["ip"]

    def test_client_ip__untrusted_peer__forwarded_for_ignored(self):
        h = self.start()
        self.assertEqual(self.ip(h, "203.0.113.9"), "127.0.0.1")

    def test_client_ip__trusted_proxy__rightmost_untrusted_hop(self):
        h = self.start(TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8")
        self.assertEqual(self.ip(h, "203.0.113.9"), "203.0.113.9")
        # A client-forged entry on the left is not believed.
        self.assertEqual(self.ip(h, "1.1.1.1, 203.0.113.9, 10.0.0.5"), "203.0.113.9")
        self.assertEqual(self.ip(h, "garbage"), "127.0.0.1")
        self.assertEqual(self.ip(h), "127.0.0.1")

    def test_trusted_proxies__unparsable__reload_refused(self):
        h = self.start()
        h.set_env(TRUSTED_PROXIES="10.0.0.0/99")
        st = h.reload(expect_ok=False)
        self.assertEqual(st["reason"], "env")
        self.assertIn("10.0.0.0/99", st["message"])

    def test_rate_limit__burst_spent__429_retry_after_and_kept_across_reload(self):
        h = self.start(TRUSTED_PROXIES="127.0.0.1")
        me = {"X-Forwarded-For": "198.51.100.7"}
        self.assertEqual(h.get("/fx/limited", headers=me).status, 200)
        self.assertEqual(h.get("/fx/limited", headers=me).status, 200)
        r = h.get("/fx/limited", headers=me)
        self.assertEqual(r.status, 429)
        self.assertGreaterEqual(int(r.headers["Retry-After"]), 1)
        # The buckets belong to the host: a reload does not refill them.
        h.switch("002-b")
        self.assertEqual(h.get("/fx/limited", headers=me).status, 429)
        # Another client is not affected.
        self.assertEqual(h.get("/fx/limited", headers={"X-Forwarded-For": "198.51.100.8"}).status, 200)
