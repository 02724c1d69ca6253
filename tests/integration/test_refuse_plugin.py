"""(b, j) A release whose code cannot run is refused as a whole: an
unresolved symbol, no descriptor, an ABI major mismatch, a future ABI
minor, a failing init, a route conflict. Each bad plugin ships beside a
good hello 2.0.0, so a partial load would show up as 2.0.0."""
import tempfile

from mqtest import ABI_MAJOR, ABI_MINOR, overwrite_with_cp
from refusal import RefusalCase, build_so_without_descriptor


class RefusePluginTest(RefusalCase):
    def test_refuse__unresolved_symbol__old_generation_serves(self):
        h = self.start_on_a()
        h.publish("002-b", ["hello_v2.so", "bad_unresolved.so"])
        self.assert_refused(h, "dlopen", "002-b")

    def test_refuse__no_descriptor__old_generation_serves(self):
        h = self.start_on_a()
        h.publish("002-b", ["hello_v2.so"])
        so = h.plugin_file("002-b", "hello_v2.so")
        overwrite_with_cp(build_so_without_descriptor(tempfile.mkdtemp(dir=h.dir)), so)
        h.refresh_manifest_entry("002-b", so)

        self.assert_refused(h, "symbol", "002-b")

    def test_refuse__abi_major_plus_one__old_generation_serves(self):
        h = self.start_on_a()
        h.publish("002-b", ["hello_v2.so", "bad_abi.so"])

        st = self.assert_refused(h, "abi", "002-b")

        # A clear message: the plugin's ABI and the host's.
        self.assertRegex(st["message"], rf"\b{ABI_MAJOR + 1}\.\d+")
        self.assertIn(f"{ABI_MAJOR}.{ABI_MINOR}", st["message"])

    def test_refuse__abi_minor_from_the_future__old_generation_serves(self):
        h = self.start_on_a()
        h.publish("002-b", ["hello_v2.so", "minor_future.so"])

        st = self.assert_refused(h, "abi", "002-b")

        self.assertIn(f"{ABI_MAJOR}.{ABI_MINOR + 1}", st["message"])

    def test_refuse__init_fails__old_generation_serves(self):
        h = self.start_on_a()
        h.publish("002-b", ["hello_v2.so", "bad_init.so"])
        self.assert_refused(h, "init", "002-b")

    def test_refuse__route_conflict__old_generation_serves(self):
        h = self.start_on_a()
        h.publish("002-b", ["hello_v2.so", "conflict.so"])

        st = self.assert_refused(h, "route_conflict", "002-b")

        self.assertIn("/fx/hello", st["message"])
