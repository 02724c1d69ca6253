"""(a) Switching releases with the `current` symlink and SIGHUP.

An operator points releases/current at another release and signals the
host: /api/version, the plugin list and the plugin's own answers follow,
in both directions, and the old generation leaves memory once nothing
holds it.
"""
import os

from mqtest import HostTestCase, metric


class ReloadTest(HostTestCase):
    def start_on_a(self, **env):
        h = self.host(env=env)
        h.publish("001-a", ["hello_v1.so"])
        h.publish("002-b", ["hello_v2.so"])
        h.set_current("001-a")
        h.start()
        return h

    def test_start__current_is_a__serves_a(self):
        h = self.start_on_a()
        v = h.version()
        self.assertEqual(v["release"], "001-a")
        self.assertEqual(v["plugins"], [{"name": "hello", "version": "1.0.0"}])
        self.assertIsInstance(v["generation"], int)
        self.assertEqual(h.hello(), "1.0.0")
        self.assertEqual(h.mapped_generations(), {v["generation"]})

    def test_reload__a_to_b__serves_b(self):
        h = self.start_on_a()
        gen_a = h.version()["generation"]

        st = h.switch("002-b")

        v = h.version()
        self.assertEqual(v["release"], "002-b")
        self.assertEqual(v["plugins"], [{"name": "hello", "version": "2.0.0"}])
        self.assertGreater(v["generation"], gen_a)
        self.assertEqual(h.hello(), "2.0.0")
        self.assertEqual(st["release"], "002-b")
        self.assertEqual(st["generation"], v["generation"])
        self.assertFalse(st.get("reason"))

    def test_reload__a_to_b_to_a__serves_a_again(self):
        h = self.start_on_a()
        h.switch("002-b")
        self.assertEqual(h.hello(), "2.0.0")
        gen_b = h.version()["generation"]

        h.switch("001-a")

        v = h.version()
        self.assertEqual(v["release"], "001-a")
        self.assertEqual(v["plugins"], [{"name": "hello", "version": "1.0.0"}])
        self.assertGreater(v["generation"], gen_b)
        self.assertEqual(h.hello(), "1.0.0")

    def test_reload__a_to_b__old_generation_unmapped(self):
        h = self.start_on_a()
        gen_a = h.version()["generation"]
        self.assertEqual(h.mapped_generations(), {gen_a})

        h.switch("002-b")
        gen_b = h.version()["generation"]

        h.wait_generations({gen_b})
        h.switch("001-a")
        gen_a2 = h.version()["generation"]
        h.wait_generations({gen_a2})
        m = h.metrics()
        self.assertEqual(m[("mq_generations_loaded", frozenset())], 1)
        self.assertEqual(m[("mq_generation", frozenset())], gen_a2)

    def test_reload__never_maps_files_of_the_release_dir(self):
        h = self.start_on_a()
        h.switch("002-b")
        self.assertEqual(h.mapped_release_files(), [])

    def test_reload__private_copies__removed_from_disk(self):
        h = self.start_on_a()
        h.switch("002-b")
        h.switch("001-a")
        self.assertEqual(h.private_copies_on_disk(), [])
        self.assertTrue(h.mapped_generations(), "no private copy mapped: naming changed?")

    def test_stop__after_reloads__tmpdir_left_empty(self):
        h = self.start_on_a()
        h.switch("002-b")
        h.stop()
        self.assertEqual(os.listdir(h.tmpdir), [], "the host left files in its TMPDIR")

    def test_reload__same_release__new_generation_same_answers(self):
        h = self.start_on_a()
        gen = h.version()["generation"]

        st = h.reload()

        v = h.version()
        self.assertGreater(v["generation"], gen)
        self.assertEqual(st["generation"], v["generation"])
        self.assertEqual(v["release"], "001-a")
        self.assertEqual(h.hello(), "1.0.0")
        h.wait_generations({v["generation"]})

    def test_reload__counters__survive_the_reload(self):
        h = self.start_on_a()
        for _ in range(3):
            h.hello()
        before = h.metric("fx_hello_requests_total", version="1.0.0")
        self.assertGreaterEqual(before, 3)

        h.switch("002-b")
        h.hello()

        m = h.metrics()
        self.assertEqual(metric(m, "fx_hello_requests_total", version="1.0.0"), before)
        self.assertEqual(metric(m, "fx_hello_requests_total", version="2.0.0"), 1)
        self.assertGreaterEqual(metric(m, "mq_reloads_total", result="ok"), 1)

    def test_reload__no_current_at_start__then_a__serves_a(self):
        h = self.host()
        h.publish("001-a", ["hello_v1.so"])
        h.start()
        self.assertEqual(h.get("/fx/hello").status, 404)

        h.switch("001-a")

        self.assertEqual(h.version()["release"], "001-a")
        self.assertEqual(h.hello(), "1.0.0")

    def test_reload__ok__status_file_complete(self):
        h = self.start_on_a()
        st = h.switch("002-b")
        for key in ("seq", "started_ns", "ok", "reason", "message", "generation", "release",
                    "duration_us"):
            self.assertIn(key, st)
        self.assertIs(st["ok"], True)
        self.assertGreaterEqual(st["duration_us"], 0)
        self.assertGreater(st["started_ns"], 0)
