"""The operator's commands against a running host: `mindquiz release`
publishes without switching, `rollback` switches and confirms through
/api/version (or restores the link and says why), `reload` reports."""
import hashlib
import os

from mqtest import HostTestCase, fixture


class CliTest(HostTestCase):
    def start_on(self, current, releases):
        h = self.host()
        for rid, plugins in releases:
            h.publish(rid, plugins)
        h.set_current(current)
        h.start()
        return h

    def test_release__manifest_lists_files_with_sha256__current_unchanged(self):
        h = self.start_on("001-a", [("001-a", ["hello_v1.so"])])

        rel = h.publish("002-b", ["hello_v2.so", "legacy.so"])

        self.assertEqual(h.current(), "001-a")
        self.assertEqual(h.version()["release"], "001-a")
        m = h.manifest("002-b")
        files = {f["path"]: f for f in m["files"]}
        for name in ("hello_v2.so", "legacy.so"):
            path = f"plugins/{name}"
            self.assertIn(path, files)
            blob = open(fixture(name), "rb").read()
            self.assertEqual(files[path]["sha256"], hashlib.sha256(blob).hexdigest())
            self.assertEqual(files[path]["size"], len(blob))
            with open(os.path.join(rel, path), "rb") as f:
                self.assertEqual(f.read(), blob)
        plugins = {p["name"]: p for p in m["plugins"]}
        self.assertEqual(plugins["hello"]["version"], "2.0.0")
        self.assertEqual(plugins["hello"]["file"], "plugins/hello_v2.so")
        self.assertIn("legacy", plugins)

    def test_release__existing_id__refused_release_untouched(self):
        h = self.host()
        h.publish("001-a", ["hello_v1.so"])
        before = open(os.path.join(h.release_dir("001-a"), "MANIFEST")).read()
        src = os.path.join(h.dir, "from-again")
        os.makedirs(os.path.join(src, "plugins"))
        with open(os.path.join(src, "plugins", "hello_v2.so"), "wb") as f:
            f.write(open(fixture("hello_v2.so"), "rb").read())

        r = h.cli("release", "--from", src, "--id", "001-a")

        self.assertNotEqual(r.returncode, 0, r.output)
        self.assertEqual(open(os.path.join(h.release_dir("001-a"), "MANIFEST")).read(), before)

    def test_rollback__no_id__previous_release_serves(self):
        h = self.start_on("002-b", [("001-a", ["hello_v1.so"]), ("002-b", ["hello_v2.so"])])
        self.assertEqual(h.hello(), "2.0.0")

        r = h.cli("rollback")

        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(h.current(), "001-a")
        # rollback waits until /api/version reports the target: no waiting here.
        self.assertEqual(h.version()["release"], "001-a")
        self.assertEqual(h.hello(), "1.0.0")

    def test_rollback__explicit_id__that_release_serves(self):
        h = self.start_on("001-a", [("001-a", ["hello_v1.so"]), ("002-b", ["hello_v2.so"]),
                                    ("003-c", ["hello_v1.so", "legacy.so"])])

        r = h.cli("rollback", "002-b")

        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(h.version()["release"], "002-b")
        self.assertEqual(h.hello(), "2.0.0")

    def test_rollback__to_broken_release__exit_1_current_restored(self):
        h = self.start_on("001-a", [("001-a", ["hello_v1.so"]),
                                    ("002-bad", ["hello_v2.so", "bad_init.so"])])
        failed0 = h.metric("mq_reload_failures_total", reason="init")

        r = h.cli("rollback", "002-bad")

        self.assertNotEqual(r.returncode, 0, r.output)
        self.assertIn("init", r.output)
        self.assertEqual(h.current(), "001-a", "rollback left current on the broken release")
        self.assertEqual(h.version()["release"], "001-a")
        self.assertEqual(h.hello(), "1.0.0")
        self.assertEqual(h.metric("mq_reload_failures_total", reason="init"), failed0 + 1)

    def test_rollback__unknown_id__exit_nonzero_current_unchanged(self):
        h = self.start_on("001-a", [("001-a", ["hello_v1.so"])])

        r = h.cli("rollback", "does-not-exist")

        self.assertNotEqual(r.returncode, 0, r.output)
        self.assertEqual(h.current(), "001-a")
        self.assertEqual(h.hello(), "1.0.0")

    def test_reload_cli__good_release__exit_0(self):
        h = self.start_on("001-a", [("001-a", ["hello_v1.so"]), ("002-b", ["hello_v2.so"])])
        h.set_current("002-b")

        r = h.cli("reload")

        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(h.hello(), "2.0.0")

    def test_reload_cli__no_host_running__exit_nonzero(self):
        h = self.host()
        r = h.cli("reload", timeout=30)
        self.assertNotEqual(r.returncode, 0, r.output)
        self.assertTrue(r.output.strip(), "reload with no host printed nothing")

    def test_rollback__current_is_oldest__exit_nonzero_current_unchanged(self):
        h = self.start_on("001-a", [("001-a", ["hello_v1.so"]), ("002-b", ["hello_v2.so"])])

        r = h.cli("rollback")

        self.assertNotEqual(r.returncode, 0, r.output)
        self.assertEqual(h.current(), "001-a")
        self.assertEqual(h.hello(), "1.0.0")
