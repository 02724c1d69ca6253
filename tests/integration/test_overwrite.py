"""(d) A plugin rebuilt in place: `cp` of another build over the .so inside
the *current* release. The running code is a private copy, so nothing
crashes; after SIGHUP the new code serves if the MANIFEST agrees, and the
reload is refused (checksum) if it does not."""
from mqtest import HostTestCase, fixture, overwrite_with_cp


class OverwriteTest(HostTestCase):
    def start_on_a(self):
        h = self.host()
        h.publish("001-a", ["hello_v1.so"])
        h.set_current("001-a")
        h.start()
        self.assertEqual(h.hello(), "1.0.0")
        return h, h.plugin_file("001-a", "hello_v1.so")

    def test_overwrite_in_place__manifest_updated__new_code_serves(self):
        h, so = self.start_on_a()
        gen = h.version()["generation"]

        overwrite_with_cp(fixture("hello_v2.so"), so)
        # The old generation still runs its own copy, untouched.
        self.assertEqual(h.hello(), "1.0.0")
        h.refresh_manifest_entry("001-a", so, plugin_version="2.0.0")
        st = h.reload()

        h.assert_alive()
        self.assertEqual(h.hello(), "2.0.0")
        v = h.version()
        self.assertEqual(v["release"], "001-a")
        self.assertEqual(v["plugins"], [{"name": "hello", "version": "2.0.0"}])
        self.assertGreater(st["generation"], gen)
        h.wait_generations({st["generation"]})

    def test_overwrite_in_place__manifest_stale__refused_old_code_serves(self):
        h, so = self.start_on_a()
        gen = h.version()["generation"]

        overwrite_with_cp(fixture("hello_v2.so"), so)
        st = h.reload(expect_ok=False)

        self.assertEqual(st["reason"], "checksum", st)
        h.assert_alive()
        self.assertEqual(h.hello(), "1.0.0")
        self.assertEqual(h.version()["generation"], gen)

    def test_overwrite_in_place__while_request_suspended__request_completes(self):
        h, so = self.start_on_a()
        slow = h.slow_in_flight(1500)

        overwrite_with_cp(fixture("hello_v2.so"), so)
        h.refresh_manifest_entry("001-a", so, plugin_version="2.0.0")
        h.reload()

        # The suspended request's timer returns into the old code.
        r = slow.result(30)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["version"], "1.0.0")
        self.assertEqual(h.hello(), "2.0.0")
        h.assert_alive()

    def test_overwrite_in_place__back_and_forth__each_reload_loads_new_code(self):
        h, so = self.start_on_a()
        for fx, version in [("hello_v2.so", "2.0.0"), ("hello_v1.so", "1.0.0"),
                            ("hello_v2.so", "2.0.0")]:
            overwrite_with_cp(fixture(fx), so)
            h.refresh_manifest_entry("001-a", so, plugin_version=version)
            h.reload()
            self.assertEqual(h.hello(), version)
        self.assertEqual(h.mapped_release_files(), [])
