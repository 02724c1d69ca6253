"""(c) A request in flight across a reload finishes on the generation it
started in; requests after the reload see the new one; the old generation
stays mapped exactly as long as a request holds it."""
from mqtest import HostTestCase, metric


class InflightTest(HostTestCase):
    def start_on_a(self, **env):
        h = self.host(env=env)
        h.publish("001-a", ["hello_v1.so"])
        h.publish("002-b", ["hello_v2.so"])
        h.set_current("001-a")
        h.start()
        return h

    def test_inflight__slow_request_across_reload__answers_with_old_version(self):
        h = self.start_on_a()
        gen_a = h.version()["generation"]
        slow = h.slow_in_flight(2000)

        h.switch("002-b")
        gen_b = h.version()["generation"]

        self.assertFalse(slow.done(), "the slow request ended before the reload was done")
        self.assertEqual(h.hello(), "2.0.0")
        r = slow.result(30)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"plugin": "hello", "version": "1.0.0", "slept_ms": 2000})
        h.wait_generations({gen_b})
        self.assertNotEqual(gen_a, gen_b)
        # The access log tells which generation answered.
        rid = r.headers["X-Request-Id"]
        line = h.wait(lambda: next((x for x in h.read_access_log() if x.get("id") == rid), None),
                      5, "access log line of the slow request")
        self.assertEqual(line["gen"], gen_a)

    def test_inflight__slow_request__pins_old_generation_until_it_ends(self):
        h = self.start_on_a()
        gen_a = h.version()["generation"]
        slow = h.slow_in_flight(2000)

        h.switch("002-b")
        gen_b = h.version()["generation"]

        self.assertEqual(h.mapped_generations(), {gen_a, gen_b})
        self.assertEqual(h.metric("mq_generations_loaded"), 2)
        slow.result(30)
        h.wait_generations({gen_b})
        h.wait(lambda: h.metric("mq_generations_loaded") == 1, 5, "mq_generations_loaded == 1")

    def test_inflight__many_slow_requests_across_two_reloads__each_answers_its_version(self):
        h = self.start_on_a()
        on_a = [h.slow_in_flight(1500) for _ in range(5)]
        h.switch("002-b")
        on_b = [h.slow_in_flight(1500) for _ in range(5)]
        h.switch("001-a")
        gen = h.version()["generation"]

        self.assertEqual(h.hello(), "1.0.0")
        self.assertEqual(len(h.mapped_generations()), 3)
        for bg, version in [(b, "1.0.0") for b in on_a] + [(b, "2.0.0") for b in on_b]:
            r = bg.result(30)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["version"], version)
        h.wait_generations({gen})

    def test_inflight__client_gone_before_answer__old_generation_still_released(self):
        h = self.start_on_a()
        base = h.inflight()
        conn = h.connection()
        conn.request("GET", "/fx/slow?ms=1000")
        h.wait_inflight_above(base)
        conn.close()  # the browser went away while the request waits

        h.switch("002-b")
        gen_b = h.version()["generation"]

        # The suspended work still ends (its timer fires into a gone
        # request) and then lets the old generation go.
        h.wait_generations({gen_b}, timeout=10)
        self.assertEqual(h.hello(), "2.0.0")
        h.assert_alive()

    def test_inflight__reload_while_waiting__no_5xx_counted(self):
        h = self.start_on_a()
        slow = h.slow_in_flight(1000)
        h.switch("002-b")
        self.assertEqual(slow.result(30).status, 200)
        m = h.metrics()
        self.assertEqual(metric(m, "http_5xx_total"), 0)
        self.assertEqual(metric(m, "mq_reloads_total", result="ok"), 1)
