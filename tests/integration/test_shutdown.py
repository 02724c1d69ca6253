"""Graceful stop: SIGTERM/SIGINT stop accepting, let in-flight requests
finish, and exit 0; SHUTDOWN_TIMEOUT_MS bounds the wait."""
import signal
import socket
import time

from mqtest import SCALE, HostTestCase, wait_until


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


class ShutdownTest(HostTestCase):
    def start_on_a(self, **env):
        h = self.host(env=env)
        h.publish("001-a", ["hello_v1.so"])
        h.set_current("001-a")
        h.start()
        return h

    def test_sigterm__slow_request_in_flight__completes_200_and_exit_0(self):
        h = self.start_on_a()
        slow = h.slow_in_flight(1000)

        h.kill_signal(signal.SIGTERM)

        r = slow.result(30)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["version"], "1.0.0")
        h.assert_clean_exit(h.wait_exit(15))

    def test_sigterm__stops_accepting_new_connections(self):
        h = self.start_on_a()
        slow = h.slow_in_flight(1000)

        h.kill_signal(signal.SIGTERM)

        wait_until(lambda: refused(h.port), 5, "connections refused after SIGTERM")
        self.assertEqual(slow.result(30).status, 200)
        h.assert_clean_exit(h.wait_exit(15))

    def test_sigint__idle__exit_0(self):
        h = self.start_on_a()
        h.kill_signal(signal.SIGINT)
        h.assert_clean_exit(h.wait_exit(15))

    def test_sigterm__request_past_shutdown_timeout__503_then_exit_0_within_deadline(self):
        h = self.start_on_a(SHUTDOWN_TIMEOUT_MS="500")
        slow = h.slow_in_flight(60000, timeout=30)

        t0 = time.monotonic()
        h.kill_signal(signal.SIGTERM)
        rc = h.wait_exit(5)

        self.assertLess(time.monotonic() - t0, 3 * SCALE)
        h.assert_clean_exit(rc)
        # The waiting client gets an answer it can act on (retry), not a
        # connection closed without a response.
        r = slow.result(5)
        self.assertEqual(r.status, 503, r)

    def test_sigterm__idle_keepalive_connections__exit_promptly(self):
        h = self.start_on_a()
        conns = []
        for _ in range(10):
            c = h.connection()
            c.request("GET", "/api/health")
            c.getresponse().read()
            conns.append(c)
        self.addCleanup(lambda: [c.close() for c in conns])

        t0 = time.monotonic()
        h.kill_signal(signal.SIGTERM)

        h.assert_clean_exit(h.wait_exit(5))
        self.assertLess(time.monotonic() - t0, 2 * SCALE,
                        "idle keep-alive connections held the shutdown")

    def test_sigterm__access_log_lines_flushed_before_exit(self):
        h = self.start_on_a()
        ids = [h.get("/fx/hello").headers["X-Request-Id"] for _ in range(3)]

        h.kill_signal(signal.SIGTERM)
        h.assert_clean_exit(h.wait_exit(15))

        logged = {x.get("id") for x in h.read_access_log()}
        self.assertLessEqual(set(ids), logged, "access log lines lost at shutdown")

    def test_sighup_during_shutdown__ignored_exit_0(self):
        h = self.start_on_a()
        slow = h.slow_in_flight(1000)
        h.kill_signal(signal.SIGTERM)

        h.kill_signal(signal.SIGHUP)

        self.assertEqual(slow.result(30).status, 200)
        h.assert_clean_exit(h.wait_exit(15))
