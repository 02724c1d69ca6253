"""Shared by the refusal tests: start on release A, point current at a bad
release, reload, and check what an operator sees."""
import os
import shutil
import subprocess
import unittest

from mqtest import HostTestCase, metric


class RefusalCase(HostTestCase):
    def start_on_a(self, **env):
        h = self.host(env=env)
        h.publish("001-a", ["hello_v1.so"])
        h.set_current("001-a")
        h.start()
        self.assertEqual(h.hello(), "1.0.0")
        return h

    def assert_serving_a(self, h, gen):
        v = h.version()
        self.assertEqual(v["generation"], gen, "a refused reload changed the generation")
        self.assertEqual(v["release"], "001-a")
        self.assertEqual(v["plugins"], [{"name": "hello", "version": "1.0.0"}])
        self.assertEqual(h.hello(), "1.0.0")

    def assert_refused(self, h, reason, rid=None):
        """Point current at rid (unless None), SIGHUP: the reload is refused
        with `reason`, A keeps serving in the same generation, the failure
        is counted and logged, the refused plugins are unloaded; then
        `mindquiz reload` exits 1 naming the reason. Returns the status."""
        gen = h.version()["generation"]
        m0 = h.metrics()
        if rid is not None:
            h.set_current(rid)

        st = h.reload(expect_ok=False)

        self.assertEqual(st["reason"], reason, st)
        self.assertTrue(st.get("message"), f"no message in the status file: {st}")
        self.assert_serving_a(h, gen)
        m1 = h.metrics()
        self.assertEqual(metric(m1, "mq_reload_failures_total", reason=reason),
                         metric(m0, "mq_reload_failures_total", reason=reason) + 1)
        self.assertEqual(metric(m1, "mq_reloads_total", result="failed"),
                         metric(m0, "mq_reloads_total", result="failed") + 1)
        self.assertEqual(metric(m1, "mq_reloads_total", result="ok"),
                         metric(m0, "mq_reloads_total", result="ok"))
        self.assertEqual(metric(m1, "mq_generation"), gen)
        # Plugins of the refused generation that did load are unloaded again.
        h.wait_generations({gen})
        log = h.stderr()
        self.assertTrue(reason in log or st["message"] in log,
                        f"neither {reason!r} nor the message {st['message']!r} is logged:\n"
                        f"{h.stderr_tail(10)}")

        r = h.cli("reload")
        self.assertEqual(r.returncode, 1, r.output)
        self.assertIn(reason, r.output)
        self.assertEqual(h.metric("mq_reload_failures_total", reason=reason),
                         metric(m0, "mq_reload_failures_total", reason=reason) + 2)
        self.assert_serving_a(h, gen)
        return st

    def assert_refused_env(self, h, rid):
        """Like assert_refused for an unparsable .env, except that
        `mindquiz reload` reads the same .env to find the pid file: it
        cannot signal, so it must fail by itself and name the .env line."""
        gen = h.version()["generation"]
        m0 = h.metrics()
        h.set_current(rid)

        st = h.reload(expect_ok=False)

        self.assertEqual(st["reason"], "env", st)
        self.assertRegex(st["message"], r"line \d+")
        self.assert_serving_a(h, gen)
        self.assertEqual(h.metric("mq_reload_failures_total", reason="env"),
                         metric(m0, "mq_reload_failures_total", reason="env") + 1)
        h.wait_generations({gen})
        r = h.cli("reload")
        self.assertNotEqual(r.returncode, 0, r.output)
        self.assertIn(".env", r.output)
        self.assertRegex(r.output, r"line \d+")
        self.assert_serving_a(h, gen)
        return st


def build_so_without_descriptor(dirpath):
    """Compile a shared object that exports no mq_plugin_descriptor. Skips
    the test when no C compiler is around."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise unittest.SkipTest("no C compiler to build a plugin without a descriptor")
    src = os.path.join(dirpath, "nodesc.c")
    out = os.path.join(dirpath, "nodesc.so")
    with open(src, "w") as f:
        f.write("int mq_not_a_descriptor(void) { return 42; }\n")
    subprocess.run([cc, "-shared", "-fPIC", "-o", out, src], check=True)
    return out

