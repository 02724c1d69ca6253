"""(j) ABI versions: a plugin built for ABI 1.0 (smaller descriptor) loads
beside current ones; a plugin for the next major is refused with a message
naming both versions."""
from mqtest import ABI_MAJOR, ABI_MINOR, HostTestCase


class AbiTest(HostTestCase):
    def test_abi__legacy_1_0_plugin_beside_hello__both_answer(self):
        h = self.host()
        h.publish("001-a", ["hello_v1.so", "legacy.so"])
        h.set_current("001-a")
        h.start()

        self.assertEqual(h.get_json("/fx/legacy"), {"plugin": "legacy", "abi": "1.0"})
        self.assertEqual(h.hello(), "1.0.0")
        names = {p["name"] for p in h.version()["plugins"]}
        self.assertIn("legacy", names)
        self.assertIn("hello", names)

    def test_abi__legacy_plugin_loaded_by_reload__answers(self):
        h = self.host()
        h.publish("001-a", ["hello_v1.so"])
        h.publish("002-b", ["hello_v2.so", "legacy.so"])
        h.set_current("001-a")
        h.start()

        h.switch("002-b")

        self.assertEqual(h.get_json("/fx/legacy"), {"plugin": "legacy", "abi": "1.0"})
        self.assertEqual(h.hello(), "2.0.0")

    def test_abi__major_plus_one__refused_with_versions_in_message(self):
        h = self.host()
        h.publish("001-a", ["hello_v1.so"])
        h.publish("002-bad", ["bad_abi.so"])
        h.set_current("001-a")
        h.start()

        st = h.switch("002-bad", expect_ok=False)

        self.assertEqual(st["reason"], "abi")
        self.assertRegex(st["message"], rf"\b{ABI_MAJOR + 1}\.\d+")
        self.assertIn(f"{ABI_MAJOR}.{ABI_MINOR}", st["message"])
        self.assertEqual(h.hello(), "1.0.0")
        self.assertEqual(h.version()["release"], "001-a")

    def test_abi__major_plus_one_at_start__serve_refuses_to_start(self):
        h = self.host()
        h.publish("001-bad", ["bad_abi.so"])
        h.set_current("001-bad")

        rc, err = h.start_expect_failure()

        self.assertNotEqual(rc, 0)
        self.assertIn(f"{ABI_MAJOR}.{ABI_MINOR}", err)
