"""Host endpoints and process basics, most of them with no plugin loaded:
health, version, 404s, request ids, the metrics token, the pid file, a
second instance, .env permissions, and refusing to start on a bad release."""
import os
import stat
import tempfile

from mqtest import HostTestCase, free_port


class NoReleaseTest(HostTestCase):
    def test_health__no_current_link__200_ok(self):
        h = self.host().start()
        r = h.get("/api/health")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"ok": True})
        self.assertIn("json", r.headers.get("Content-Type", ""))

    def test_version__no_current_link__release_null_no_plugins(self):
        h = self.host().start()
        v = h.version()
        for key in ("version", "commit", "env", "time", "release", "generation", "plugins"):
            self.assertIn(key, v)
        self.assertIsNone(v["release"])
        self.assertEqual(v["plugins"], [])
        self.assertEqual(v["env"], "test")
        self.assertIsInstance(v["generation"], int)
        self.assertTrue(v["version"])
        self.assertTrue(v["commit"])

    def test_unknown_path__404_json_not_found(self):
        h = self.host().start()
        r = h.get("/no/such/page")
        self.assertEqual(r.status, 404)
        body = r.json()
        self.assertEqual(body["code"], "not_found")
        self.assertIsInstance(body["message"], str)

    def test_every_response__has_distinct_request_id(self):
        h = self.host()
        h.publish("001-a", ["hello_v1.so"])
        h.set_current("001-a")
        h.start()
        ids = []
        for path in ("/api/health", "/api/version", "/nope", "/fx/hello", "/metrics"):
            r = h.get(path)
            rid = r.headers.get("X-Request-Id")
            self.assertTrue(rid, f"no X-Request-Id on {path} ({r.status})")
            ids.append(rid)
        self.assertEqual(len(set(ids)), len(ids), ids)

    def test_metrics__without_or_with_wrong_token__401(self):
        h = self.host().start()
        self.assertEqual(h.get("/metrics").status, 401)
        self.assertEqual(h.get("/metrics", headers={"Authorization": "Bearer nope"}).status, 401)
        self.assertEqual(h.get("/metrics", headers={"Authorization": h.token}).status, 401)

    def test_metrics__with_token__prometheus_text_with_generation(self):
        h = self.host().start()
        m = h.metrics()
        self.assertEqual(m[("mq_generation", frozenset())], h.version()["generation"])
        self.assertIn(("mq_generations_loaded", frozenset()), m)

    def test_pid_file__holds_pid_mode_0600__removed_on_stop(self):
        h = self.host().start()
        with open(h.pid_file) as f:
            self.assertEqual(int(f.read().strip()), h.pid)
        self.assertEqual(stat.S_IMODE(os.stat(h.pid_file).st_mode), 0o600)
        h.stop()
        self.assertFalse(os.path.exists(h.pid_file), "pid file left behind after a clean stop")

    def test_second_serve__same_pid_file__refuses_to_start(self):
        h = self.host().start()
        other = h.write_env(path=os.path.join(h.dir, "second.env"),
                            text=h.env_text().replace(f":{h.port}", f":{free_port()}"))

        rc, err = h.start_expect_failure(env_path=other)

        self.assertNotEqual(rc, 0)
        self.assertRegex(err, rf"(?i)pid|already running|{h.pid}")
        with open(h.pid_file) as f:
            self.assertEqual(int(f.read().strip()), h.pid)
        self.assertEqual(h.get("/api/health").status, 200)

    def test_stale_pid_file__dead_pid__starts(self):
        h = self.host()
        with open(h.pid_file, "w") as f:
            f.write("999999999\n")
        h.start()
        self.assertEqual(h.get("/api/health").status, 200)

    def test_env_mode_0644__warning_about_permissions(self):
        h = self.host(env_mode=0o644).start()
        self.assertRegex(h.stderr(), r"\[warn\][^\n]*permissions 644[^\n]*chmod 600")
        self.assertIn(".env", h.stderr())

    def test_env_mode_0600__no_permissions_warning(self):
        h = self.host().start()
        self.assertNotRegex(h.stderr(), r"\[warn\][^\n]*(chmod|permissions)")

    def test_relative_paths__resolved_against_env_dir_not_cwd(self):
        h = self.host()
        h.publish("001-a", ["hello_v1.so"])
        h.set_current("001-a")
        h.start(cwd=tempfile.gettempdir())
        self.assertEqual(h.hello(), "1.0.0")
        self.assertTrue(os.path.exists(h.pid_file))


class StartRefusalTest(HostTestCase):
    def test_start__current_release_fails_init__refuses_with_reason(self):
        h = self.host()
        h.publish("001-bad", ["hello_v1.so", "bad_init.so"])
        h.set_current("001-bad")

        rc, err = h.start_expect_failure()

        self.assertNotEqual(rc, 0)
        self.assertIn("init", err)

    def test_start__refused_then_current_fixed__starts(self):
        h = self.host()
        h.publish("001-bad", ["bad_unresolved.so"])
        h.publish("002-a", ["hello_v1.so"])
        h.set_current("001-bad")
        rc, _ = h.start_expect_failure()
        self.assertNotEqual(rc, 0)

        h.set_current("002-a")
        h.start()

        self.assertEqual(h.hello(), "1.0.0")

    def test_start__unparsable_env__refuses_with_line_number(self):
        h = self.host()
        h.append_env_line("this is not valid")

        rc, err = h.start_expect_failure()

        self.assertNotEqual(rc, 0)
        self.assertRegex(err, r"line \d+")
