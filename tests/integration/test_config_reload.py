"""The .env is part of a generation: a reload re-reads it, so an operator
changes configuration without a restart."""
from mqtest import HostTestCase


class ConfigReloadTest(HostTestCase):
    def test_reload__app_env_changed__version_reports_new_env(self):
        h = self.host()
        h.start()
        self.assertEqual(h.version()["env"], "test")

        h.set_env(APP_ENV="staging")
        h.reload()

        self.assertEqual(h.version()["env"], "staging")

    def test_reload__metrics_token_rotated__old_token_401_new_token_200(self):
        h = self.host()
        h.start()
        old = h.token

        h.token = "rotated-" + old
        h.write_env()
        h.reload()

        self.assertEqual(h.get("/metrics", headers={"Authorization": f"Bearer {old}"}).status, 401)
        self.assertEqual(h.get("/metrics", headers={"Authorization": f"Bearer {h.token}"}).status,
                         200)

    def test_env__quoted_values_and_comments__parsed(self):
        h = self.host()
        h.extra_lines += ["# a comment line", "", "APP_ENV=\"stag # ing\"  # trailing comment"]
        h.write_env()
        h.start()
        self.assertEqual(h.version()["env"], "stag # ing")
