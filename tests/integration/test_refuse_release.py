"""(b) A broken release directory is refused before any of its code runs:
a missing plugin file, a checksum mismatch (tampered or half-copied file),
an unreadable MANIFEST or an unlisted plugin. The old generation keeps
serving, the failure is counted by reason, logged, and `mindquiz reload`
exits 1 naming it."""
import os
import shutil

from mqtest import fixture, make_writable
from refusal import RefusalCase


class RefuseReleaseTest(RefusalCase):
    def start_with_b(self):
        h = self.start_on_a()
        h.publish("002-b", ["hello_v2.so"])
        return h, h.plugin_file("002-b", "hello_v2.so")

    def test_refuse__missing_so__old_generation_serves(self):
        h, so = self.start_with_b()
        make_writable(os.path.dirname(so))
        os.unlink(so)

        st = self.assert_refused(h, "missing_file", "002-b")

        self.assertIn("hello_v2.so", st["message"])

    def test_refuse__checksum_mismatch__old_generation_serves(self):
        h, so = self.start_with_b()
        make_writable(so)
        with open(so, "ab") as f:
            f.write(b"\0")

        st = self.assert_refused(h, "checksum", "002-b")

        self.assertIn("hello_v2.so", st["message"])

    def test_refuse__half_copied_so__old_generation_serves(self):
        h, so = self.start_with_b()
        make_writable(so)
        os.truncate(so, os.path.getsize(so) // 2)

        self.assert_refused(h, "checksum", "002-b")

    def test_refuse__manifest_not_json__old_generation_serves(self):
        h, _ = self.start_with_b()
        path = os.path.join(h.release_dir("002-b"), "MANIFEST")
        make_writable(os.path.dirname(path))
        with open(path, "w") as f:
            f.write('{"format": 1, "files": [')

        self.assert_refused(h, "manifest", "002-b")

    def test_refuse__manifest_missing__old_generation_serves(self):
        h, _ = self.start_with_b()
        rel = h.release_dir("002-b")
        make_writable(rel)
        os.unlink(os.path.join(rel, "MANIFEST"))

        self.assert_refused(h, "manifest", "002-b")

    def test_refuse__unlisted_so_in_plugins__old_generation_serves(self):
        h, so = self.start_with_b()
        make_writable(os.path.dirname(so))
        shutil.copyfile(fixture("twin_a.so"), os.path.join(os.path.dirname(so), "twin_a.so"))

        self.assert_refused(h, "manifest", "002-b")
        self.assertEqual(h.get("/fx/twin/a").status, 404)

    def test_refuse__then_fixed__next_reload_serves_b(self):
        h, so = self.start_with_b()
        make_writable(so)
        with open(so, "ab") as f:
            f.write(b"\0")
        self.assert_refused(h, "checksum", "002-b")
        gen = h.version()["generation"]

        h.publish("003-b", ["hello_v2.so"])
        st = h.switch("003-b")

        self.assertGreater(st["generation"], gen)
        self.assertEqual(h.hello(), "2.0.0")
        self.assertEqual(h.version()["release"], "003-b")
