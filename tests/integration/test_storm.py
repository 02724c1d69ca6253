"""(e) A storm of SIGHUPs (20 within 100 ms) while the symlink flips each
time: no crash, no failed request, the reloads coalesce, and the release
that ends up serving is the final symlink target."""
import signal

from mqtest import Background, HostTestCase


class StormTest(HostTestCase):
    def test_storm__20_sighups_flipping_current__final_target_serves(self):
        h = self.host()
        h.publish("001-a", ["hello_v1.so"])
        h.publish("002-b", ["hello_v2.so"])
        h.set_current("001-a")
        h.start()
        seq0 = h.status_seq()
        stop = []

        def client():
            statuses = []
            while not stop:
                statuses.append(h.get("/fx/hello").status)
            return statuses

        load = Background(client, "client during storm")
        targets = ["002-b" if i % 2 == 0 else "001-a" for i in range(20)]
        for rid in targets:
            h.set_current(rid)
            h.kill_signal(signal.SIGHUP)
        final = targets[-1]

        st = h.wait(lambda: (s := h.read_status()) and s["seq"] > seq0 and s["ok"]
                    and s["release"] == final and h.version()["release"] == final and s,
                    20, f"{final} serving after the storm")
        stop.append(True)
        statuses = load.result(30)

        h.assert_alive()
        self.assertEqual(h.hello(), "1.0.0" if final == "001-a" else "2.0.0")
        self.assertEqual(set(statuses), {200})
        self.assertGreater(st["seq"], seq0)
        reloads = h.metric("mq_reloads_total", result="ok") + h.metric("mq_reloads_total",
                                                                        result="failed")
        self.assertGreaterEqual(reloads, 1)
        self.assertLessEqual(reloads, 20)
        self.assertEqual(h.metric("mq_reloads_total", result="failed"), 0)
        h.wait_generations({h.version()["generation"]})

    def test_storm__then_one_more_reload__still_works(self):
        h = self.host()
        h.publish("001-a", ["hello_v1.so"])
        h.publish("002-b", ["hello_v2.so"])
        h.set_current("001-a")
        h.start()
        for _ in range(20):
            h.kill_signal(signal.SIGHUP)

        h.switch("002-b")
        # Any reload still pending from the storm also reads 002-b.
        h.wait(lambda: h.version()["release"] == "002-b", 10, "002-b serving")
        self.assertEqual(h.hello(), "2.0.0")

    def test_storm__with_suspended_requests__each_answered_generations_released(self):
        h = self.host()
        h.publish("001-a", ["hello_v1.so"])
        h.publish("002-b", ["hello_v2.so"])
        h.set_current("001-a")
        h.start()
        slows = []
        for i in range(20):
            if i % 4 == 0:
                slows.append(h.slow_in_flight(300))
            h.set_current("002-b" if i % 2 == 0 else "001-a")
            h.kill_signal(signal.SIGHUP)

        h.wait(lambda: h.version()["release"] == "001-a"
               and (h.read_status() or {}).get("release") == "001-a",
               10, "001-a serving after the storm")
        for bg in slows:
            r = bg.result(30)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["slept_ms"], 300)
        h.wait_generations({h.version()["generation"]})
        self.assertEqual(h.metric("mq_generations_loaded"), 1)
