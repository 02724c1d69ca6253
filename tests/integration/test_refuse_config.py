"""(b) Refusals that come from the operator's side rather than the
release: an unparsable .env, a missing or dangling `current` link. The old
generation keeps serving, the failure is counted, and fixing the cause
lets the next reload through."""
import os

from refusal import RefusalCase


class RefuseConfigTest(RefusalCase):
    def test_refuse__unparsable_env__old_generation_serves(self):
        h = self.start_on_a()
        h.publish("002-b", ["hello_v2.so"])
        h.append_env_line("this is not valid")

        self.assert_refused_env(h, "002-b")

    def test_refuse__unparsable_env_fixed__next_reload_serves_b(self):
        h = self.start_on_a()
        h.publish("002-b", ["hello_v2.so"])
        h.append_env_line("this is not valid")
        self.assert_refused_env(h, "002-b")

        h.extra_lines.clear()
        h.write_env()
        h.reload()

        self.assertEqual(h.hello(), "2.0.0")
        self.assertEqual(h.version()["release"], "002-b")

    def test_refuse__current_link_removed__old_generation_serves(self):
        h = self.start_on_a()
        h.set_current(None)

        self.assert_refused(h, "release")

    def test_refuse__current_link_dangling__old_generation_serves(self):
        h = self.start_on_a()
        h.set_current("no-such-release")

        self.assert_refused(h, "release")

    def test_refuse__current_not_a_release_dir__old_generation_serves(self):
        h = self.start_on_a()
        os.makedirs(os.path.join(h.releases, "empty-dir"))

        # An empty directory has no MANIFEST.
        self.assert_refused(h, "manifest", "empty-dir")
