"""(g) Under load -- wrk, 50 connections -- with a reload every 100 ms
alternating two releases: zero non-2xx responses and zero socket errors."""
import re
import shutil
import subprocess
import threading
import time
import unittest

from mqtest import SANITIZED, SCALE, Background, HostTestCase


def parse_wrk(out):
    """wrk's summary -> {requests, non2xx, connect, read, write, timeout}."""
    m = re.search(r"(\d+) requests in", out)
    if not m:
        raise AssertionError(f"unexpected wrk output:\n{out}")
    res = {"requests": int(m.group(1)), "non2xx": 0, "connect": 0, "read": 0, "write": 0,
           "timeout": 0}
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    if m:
        res["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        res.update(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
    return res


class LoadTest(HostTestCase):
    def setUp(self):
        super().setUp()
        self.wrk = shutil.which("wrk")
        if not self.wrk:
            raise unittest.SkipTest("wrk is not installed (apt-get install wrk; .ci/run does)")

    def run_wrk_with_reloads(self, h, path, seconds=6):
        """wrk -t2 -c50 on path while another thread switches releases
        every 100 ms. Returns (parsed wrk summary, wrk output, reload oks)."""
        done = threading.Event()

        def reloader():
            oks, n, next_t = [], 0, time.monotonic()
            while not done.is_set():
                n += 1
                oks.append(h.switch("002-b" if n % 2 else "001-a", expect_ok=None)["ok"])
                next_t += 0.1
                done.wait(max(0.0, next_t - time.monotonic()))
            return oks

        bg = Background(reloader, "reloader")
        try:
            out = subprocess.run(
                [self.wrk, "-t2", "-c50", f"-d{seconds}s", "--timeout", f"{int(5 * SCALE)}s",
                 f"http://127.0.0.1:{h.port}{path}"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60 * SCALE,
                check=True).stdout.decode()
        finally:
            done.set()
        return parse_wrk(out), out, bg.result(30)

    def start_on_a(self):
        h = self.host()
        h.publish("001-a", ["hello_v1.so"])
        h.publish("002-b", ["hello_v2.so"])
        h.set_current("001-a")
        h.start()
        return h

    def assert_clean_run(self, h, res, out, oks, min_requests):
        self.assertEqual(res["non2xx"], 0, out)
        self.assertEqual((res["connect"], res["read"], res["write"], res["timeout"]),
                         (0, 0, 0, 0), out)
        self.assertGreater(res["requests"], min_requests, out)
        self.assertNotIn(False, oks, "a reload failed under load")
        self.assertGreaterEqual(len(oks), 10 if SANITIZED else 30, "too few reloads ran")
        self.assertEqual(h.metric("http_5xx_total"), 0)
        h.assert_alive()

    def test_load__reload_every_100ms_under_50_connections__no_errors(self):
        h = self.start_on_a()

        res, out, oks = self.run_wrk_with_reloads(h, "/fx/hello")

        self.assert_clean_run(h, res, out, oks, 500)
        m = h.metrics()
        for version in ("1.0.0", "2.0.0"):
            self.assertGreater(m.get(("fx_hello_requests_total",
                                      frozenset({("version", version)})), 0), 0,
                               f"no request served by {version} during the run")

    def test_load__suspended_requests_spanning_reloads__no_errors(self):
        # Every reload retires a generation that still holds ~50 suspended
        # requests: each must be answered by its own code, then let it go.
        h = self.start_on_a()

        res, out, oks = self.run_wrk_with_reloads(h, "/fx/slow?ms=50")

        self.assert_clean_run(h, res, out, oks, 200)
        h.wait_generations({h.version()["generation"]})
