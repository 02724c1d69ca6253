"""(h) The drain deadline bounds how long a slow request can pin an old
generation: with DRAIN_TIMEOUT_MS=500 a request still waiting half a
second after a reload gets 503 drain_timeout and the old code unmaps."""
import signal
import time

from mqtest import SCALE, HostTestCase, read_response


class DrainTest(HostTestCase):
    def test_drain__slow_request_past_deadline__503_and_old_generation_unmapped(self):
        h = self.host(env={"DRAIN_TIMEOUT_MS": "500"})
        h.publish("001-a", ["hello_v1.so"])
        h.publish("002-b", ["hello_v2.so"])
        h.set_current("001-a")
        h.start()
        slow = h.slow_in_flight(60000, timeout=30)

        t0 = time.monotonic()
        h.switch("002-b")
        gen_b = h.version()["generation"]

        r = slow.result(10)
        elapsed = time.monotonic() - t0
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json()["code"], "drain_timeout")
        self.assertGreaterEqual(elapsed, 0.45, "answered before the drain deadline")
        self.assertLessEqual(elapsed, 3.0 * SCALE)
        h.wait_generations({gen_b}, timeout=5)
        self.assertEqual(h.hello(), "2.0.0")

    def test_drain__request_within_deadline__completes_normally(self):
        h = self.host(env={"DRAIN_TIMEOUT_MS": "5000"})
        h.publish("001-a", ["hello_v1.so"])
        h.publish("002-b", ["hello_v2.so"])
        h.set_current("001-a")
        h.start()
        slow = h.slow_in_flight(800)

        h.switch("002-b")

        r = slow.result(10)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["version"], "1.0.0")

    def start_on_a(self, drain_ms, **env):
        h = self.host(env={"DRAIN_TIMEOUT_MS": str(drain_ms), **env})
        h.publish("001-a", ["hello_v1.so"])
        h.publish("002-b", ["hello_v2.so"])
        h.set_current("001-a")
        h.start()
        return h

    def test_drain__forced_503__counted_and_logged_with_old_generation(self):
        h = self.start_on_a(300)
        gen_a = h.version()["generation"]
        forced0 = h.metric("mq_drain_forced_total")
        slow = h.slow_in_flight(60000, timeout=30)

        h.switch("002-b")
        r = slow.result(10)

        self.assertEqual(r.status, 503)
        self.assertEqual(h.metric("mq_drain_forced_total"), forced0 + 1)
        rid = r.headers.get("X-Request-Id")
        self.assertTrue(rid)
        line = h.wait(lambda: next((x for x in h.read_access_log() if x.get("id") == rid), None),
                      5, "access log line of the drained request")
        self.assertEqual(line["status"], 503)
        self.assertEqual(line["gen"], gen_a)

    def test_drain__client_gone_then_deadline__no_crash_generation_unmapped(self):
        h = self.start_on_a(300)
        base = h.inflight()
        conn = h.connection()
        conn.request("GET", "/fx/slow?ms=60000")
        h.wait_inflight_above(base)
        conn.close()  # the browser leaves; the request stays suspended

        h.switch("002-b")
        gen_b = h.version()["generation"]

        h.wait_generations({gen_b}, timeout=5)
        h.assert_alive()
        self.assertEqual(h.hello(), "2.0.0")

    def test_drain__keepalive_connection_after_503__still_serves(self):
        h = self.start_on_a(300)
        conn = h.connection(timeout=30)
        self.addCleanup(conn.close)
        base = h.inflight()
        conn.request("GET", "/fx/slow?ms=60000")
        h.wait_inflight_above(base)

        h.switch("002-b")

        r1 = read_response(conn)
        self.assertEqual(r1.status, 503)
        conn.request("GET", "/fx/hello")
        r2 = read_response(conn)
        self.assertEqual(r2.status, 200)
        self.assertEqual(r2.json()["version"], "2.0.0")

    def test_drain__five_pinned_generations__all_released_at_deadline(self):
        h = self.start_on_a(500)
        slows = []
        for i in range(5):
            slows.append(h.slow_in_flight(60000, timeout=30))
            h.switch("002-b" if i % 2 == 0 else "001-a")
        gen = h.version()["generation"]

        self.assertLessEqual(len(h.mapped_generations()), 6)
        for bg in slows:
            self.assertEqual(bg.result(10).status, 503)
        h.wait_generations({gen}, timeout=5)
        self.assertEqual(h.metric("mq_generations_loaded"), 1)

    def test_drain__sigterm_while_old_generation_drains__exit_0(self):
        h = self.start_on_a(60000, SHUTDOWN_TIMEOUT_MS="500")
        slow = h.slow_in_flight(60000, timeout=30)
        h.switch("002-b")

        h.kill_signal(signal.SIGTERM)

        h.assert_clean_exit(h.wait_exit(5))
        self.assertEqual(slow.result(5).status, 503)
